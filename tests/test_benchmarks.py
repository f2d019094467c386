"""The benchmark's comparison of two pipelines' retrieved ids: ties in score are told from real differences."""

from benchmarks.compare import compare_retrievals

REFERENCE = {"q1": [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6)],
             "q2": [("a", 0.9), ("b", 0.8), ("c", 0.70000001), ("d", 0.7)]}


def test_same_ids_do_not_differ():
    result = compare_retrievals({"q1": ["a", "b", "c"], "q2": ["a", "b", "c"]}, REFERENCE, k=3)
    assert (result["compared"], result["differing"], result["ties"], result["real"]) == (2, 0, [], [])


def test_two_passages_that_tie_at_the_cut_are_a_tie():
    result = compare_retrievals({"q2": ["a", "b", "d"]}, REFERENCE, k=3)
    assert result["differing"] == 1 and not result["real"]
    assert result["ties"][0]["key"] == "q2" and result["ties"][0]["score_gap"] < 1e-6


def test_swapped_ranks_that_tie_are_a_tie():
    result = compare_retrievals({("cell", "q2"): ["a", "b", "d", "c"]}, {("cell", "q2"): REFERENCE["q2"]}, k=4)
    assert len(result["ties"]) == 1 and result["ties"][0]["key"] == ["cell", "q2"]


def test_a_passage_ranked_elsewhere_is_a_real_difference():
    result = compare_retrievals({"q1": ["a", "b", "d"]}, REFERENCE, k=3)
    assert not result["ties"] and result["real"][0]["score_gap"] > 0.09


def test_an_id_the_reference_never_returned_or_a_missing_question_is_real():
    result = compare_retrievals({"q1": ["a", "b", "z"], "q3": ["a"]}, REFERENCE, k=3)
    assert [r["key"] for r in result["real"]] == ["q1", "q3"]
    assert all(r["score_gap"] is None for r in result["real"])


def test_scale_recall_counts_the_exact_ids_the_approximate_index_also_returned():
    from benchmarks.scale import recall

    exact = {"none|0|q1": ["a", "b", "c"], "attack|5|q1": ["p", "a", "b"], "none|0|q2": []}
    assert recall(exact, exact) == 1.0
    assert recall(exact, {"none|0|q1": ["a", "x", "c"], "attack|5|q1": ["p", "a", "b"]}) == 5 / 6
    assert recall(exact, {}) == 0.0


def test_the_synthetic_corpus_as_a_medrag_folder_holds_distinct_passages_in_chunk_files(tmp_path):
    from ragpoison.corpora import bundled
    from ragpoison.rag.loaders import load_corpus
    from ragpoison.rag.streaming import open_corpus

    from benchmarks.synthetic import write_synthetic_corpus

    source = load_corpus(bundled()["corpus"])
    folder = write_synthetic_corpus(bundled()["corpus"], len(source) + 250, seed=3, out=tmp_path, per_file=200)
    files = sorted((folder / "chunk").glob("*.jsonl"))
    assert [len(f.read_text().splitlines()) for f in files][:-1] == [200] * (len(files) - 1)
    corpus = open_corpus(folder)
    assert len(corpus) == len(source) + 250
    assert len({(p["title"], p["text"]) for p in corpus.values()}) == len(corpus)
    assert all(corpus[doc_id]["text"] == passage["text"] for doc_id, passage in source.items())
