"""BM25 scoring and reciprocal rank fusion, checked against their definitions."""

import math

import pytest
from ragpoison.rag.errors import InputError
from ragpoison.rag.registry import RETRIEVERS
from ragpoison.rag.retrievers.bm25 import BM25Retriever, top_k
from ragpoison.rag.retrievers.hybrid import reciprocal_rank_fusion

DOCS = {
    "a": {"title": "Naloxone", "text": "Naloxone reverses opioid overdose."},
    "b": {"title": "Fomepizole", "text": "Fomepizole treats methanol poisoning."},
    "c": {"title": "Flumazenil", "text": "Flumazenil reverses benzodiazepine sedation."},
}


def lucene_bm25(query_terms, docs, k1=0.9, b=0.4):
    """Lucene's BM25 by hand: idf = ln(1 + (N - df + 0.5) / (df + 0.5))."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs.values()) / n
    scores = {}
    for doc_id, terms in docs.items():
        score = 0.0
        for term in query_terms:
            df = sum(term in d for d in docs.values())
            tf = terms.count(term)
            if tf:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf / (tf + k1 * (1 - b + b * len(terms) / avgdl))
        scores[doc_id] = score
    return scores


def test_bm25_scores_match_lucene_formula():
    retriever = BM25Retriever()
    retriever.index(DOCS)
    tokens = {i: list(retriever.tokenize(f"{d['title']}. {d['text']}")) for i, d in DOCS.items()}
    query = "what reverses an opioid overdose"
    expected = lucene_bm25(list(retriever.tokenize(query)), tokens)
    run = retriever.retrieve({"q": query}, 3)["q"]
    assert list(run)[0] == "a"
    for doc_id, score in run.items():
        assert score == pytest.approx(expected[doc_id], rel=1e-5)
    assert "b" not in run  # shares no term with the query


def test_bm25_overlay_changes_term_statistics_and_removal_restores_them():
    retriever = BM25Retriever()
    retriever.index(DOCS)
    before = retriever.retrieve({"q": "naloxone reverses"}, 3)
    retriever.add({"p": {"title": "", "text": "naloxone naloxone naloxone"}})
    during = retriever.retrieve({"q": "naloxone reverses"}, 3)["q"]
    assert during["a"] != before["q"]["a"]  # idf of 'naloxon' fell: the poison is part of the statistics
    retriever.remove(["p"])
    assert retriever.retrieve({"q": "naloxone reverses"}, 3) == before
    with pytest.raises(KeyError):
        retriever.remove(["p"])


def test_bm25_query_without_known_terms_returns_nothing():
    retriever = BM25Retriever()
    retriever.index(DOCS)
    assert retriever.retrieve({"q": "zzzz qqqq"}, 3) == {"q": {}}


def test_top_k_breaks_ties_by_position():
    import numpy as np

    assert top_k(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 2).tolist() == [1, 2]
    assert top_k(np.array([0.5, 0.5]), 5).tolist() == [0, 1]


def test_rrf_uses_medrag_formula_with_k_100():
    runs = [{"q": {"x": 9.0, "y": 8.0}}, {"q": {"y": 0.9, "z": 0.8}}]
    fused = reciprocal_rank_fusion(runs, 3, 100)["q"]
    assert fused == pytest.approx({"y": 1 / 102 + 1 / 101, "x": 1 / 101, "z": 1 / 102})
    assert list(fused) == ["y", "x", "z"]
    # Equal fused scores break by best rank, then id: reproducible whatever order the members ran in.
    tied = reciprocal_rank_fusion([{"q": {"b": 1.0}}, {"q": {"a": 1.0}}], 2, 100)["q"]
    assert list(tied) == ["a", "b"]


def test_hybrid_default_is_bm25_plus_dense_with_k_100():
    params = RETRIEVERS.get("hybrid").Params()
    assert params.members == ("bm25", "dense") and params.rrf_k == 100


def test_hybrid_refuses_two_members_on_one_store(embedder):
    from ragpoison.rag.stores.faiss_store import FaissStore

    with pytest.raises(InputError, match="only one member may use the store"):
        RETRIEVERS.create("hybrid", {"members": ["dense", "dense"]}, embedder=embedder, store=FaissStore(dim=4))
