"""Corpus formats (MedRAG folders, BEIR folders, PubMed baseline XML) and the on-disk corpus for large ones."""

import gzip
import json
import pickle

import pytest
from ragpoison.eval.config import load_config
from ragpoison.eval.runner import run_experiment
from ragpoison.rag import streaming
from ragpoison.rag.beir import load_beir_queries, load_qrels
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import load_corpus
from ragpoison.rag.pubmed import iter_pubmed, write_medrag
from ragpoison.rag.streaming import OnDiskCorpus, corpus_format, open_corpus

from tests.builders import PASSAGES, medrag_line, write_dataset


def write_medrag_folder(root):
    """MedRAG's layout: <corpus>/chunk/*.jsonl, two files, no source field (it comes from the folder name)."""
    chunk = root / "pubmed" / "chunk"
    chunk.mkdir(parents=True)
    half = len(PASSAGES) // 2
    for name, part in (("pubmed23n0001.jsonl", PASSAGES[:half]), ("pubmed23n0002.jsonl", PASSAGES[half:])):
        (chunk / name).write_text("\n".join(medrag_line(i, t, c) for i, t, c, _ in part) + "\n")
    return root / "pubmed"


def test_medrag_chunk_folder_in_memory_and_on_disk_agree(tmp_path):
    folder = write_medrag_folder(tmp_path)
    in_memory = open_corpus(folder)
    on_disk = open_corpus(folder, in_memory_limit=0)
    assert isinstance(in_memory, dict) and isinstance(on_disk, OnDiskCorpus)
    assert in_memory == load_corpus(folder)
    assert list(on_disk) == list(in_memory) and len(on_disk) == len(PASSAGES)
    assert dict(on_disk.items()) == in_memory
    assert on_disk["tox_3"] == in_memory["tox_3"] and in_memory["tox_3"]["source"] == "pubmed"
    assert "tox_3" in on_disk and "nope" not in on_disk and 3 not in on_disk
    with pytest.raises(KeyError):
        on_disk["nope"]


def test_on_disk_corpus_holds_offsets_not_texts(tmp_path):
    path = tmp_path / "big.jsonl"
    n = 2000
    path.write_text("".join(medrag_line(f"d{i}", f"Title {i}", "word " * 200) + "\n" for i in range(n)))
    corpus = open_corpus(path, in_memory_limit=0)
    assert len(pickle.dumps(corpus)) < 40 * n + 4096 < path.stat().st_size / 10
    # Reading everything streams the file once, in order, rather than seeking per key.
    reads = []
    original = OnDiskCorpus._read
    OnDiskCorpus._read = lambda self, position: reads.append(position) or original(self, position)
    try:
        assert sum(1 for _ in corpus.items()) == n and sum(1 for _ in corpus.values()) == n
        assert reads == []
        assert corpus["d1999"]["title"] == "Title 1999" and reads
    finally:
        OnDiskCorpus._read = original


def test_on_disk_corpus_refuses_duplicates_and_malformed_lines(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.jsonl").write_text(medrag_line("x", "T", "one") + "\n" + medrag_line("y", "T", "two") + "\n")
    (folder / "b.jsonl").write_text("\n" + medrag_line("x", "T", "three") + "\n")
    with pytest.raises(InputError, match=r"b\.jsonl:2: field 'id': duplicate id 'x' \(first at .*a\.jsonl:1\)"):
        open_corpus(folder, in_memory_limit=0)
    with pytest.raises(InputError, match=r"b\.jsonl:2: field 'id': duplicate id 'x'"):
        open_corpus(folder)
    (folder / "b.jsonl").write_text(medrag_line("z", "T", "ok") + "\n{not json\n")
    with pytest.raises(InputError, match=r"b\.jsonl:2: malformed JSON"):
        open_corpus(folder, in_memory_limit=0)


def write_beir(root):
    root.mkdir()
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(
        {"_id": i, "title": t, "text": c, "metadata": {"source": s, "published": "2021-06-01"}})
        for i, t, c, s in PASSAGES) + "\n")
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "antidote for methanol"}) + "\n")
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ttox_6\t1\n")
    return root


def test_beir_folder(tmp_path):
    root = write_beir(tmp_path / "nfcorpus")
    assert corpus_format(root) == "beir" and corpus_format(root / "corpus.jsonl") == "beir"
    corpus = open_corpus(root)
    assert corpus == dict(open_corpus(root, in_memory_limit=0).items())
    assert corpus["tox_6"] == {"title": "Methanol poisoning", "text": PASSAGES[5][2], "source": "guideline",
                               "published": "2021-06-01"}
    assert load_beir_queries(root) == {"q1": "antidote for methanol"}
    assert load_qrels(root) == {"q1": {"tox_6": 1}}
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ttox_6\n")
    with pytest.raises(InputError, match=r"test\.tsv:2"):
        load_qrels(root)


BASELINE = """<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" "pubmed_240101.dtd">
<PubmedArticleSet>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">90000001</PMID>
<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Print"><PubDate><Year>2019</Year><Month>Mar</Month>
<Day>5</Day></PubDate></JournalIssue></Journal><ArticleTitle>Naloxone for opioid overdose.</ArticleTitle>
<Abstract><AbstractText Label="BACKGROUND">Opioid overdose causes respiratory depression.</AbstractText>
<AbstractText Label="CONCLUSIONS">Naloxone <i>reverses</i> opioid-induced respiratory depression.</AbstractText>
</Abstract></Article></MedlineCitation><PubmedData/></PubmedArticle>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">90000002</PMID>
<Article PubModel="Print"><Journal><JournalIssue><PubDate><Year>2020</Year></PubDate></JournalIssue></Journal>
<ArticleTitle>A letter without an abstract.</ArticleTitle></Article></MedlineCitation></PubmedArticle>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">90000003</PMID>
<Article PubModel="Print"><Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate>
</JournalIssue></Journal><ArticleTitle>Fomepizole in ethylene glycol poisoning.</ArticleTitle>
<Abstract><AbstractText>Fomepizole inhibits alcohol dehydrogenase.</AbstractText></Abstract></Article>
</MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def test_pubmed_baseline_xml_streams_articles_with_abstracts(tmp_path):
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    with gzip.open(baseline / "pubmed24n0001.xml.gz", "wt", encoding="utf-8") as handle:
        handle.write(BASELINE)
    articles = dict(iter_pubmed(baseline))
    assert list(articles) == ["PMID:90000001", "PMID:90000003"]
    assert articles["PMID:90000001"] == {
        "title": "Naloxone for opioid overdose.", "source": "pubmed", "reference": "PMID:90000001",
        "published": "2019-03-05",
        "text": "Opioid overdose causes respiratory depression. "
                "Naloxone reverses opioid-induced respiratory depression."}
    assert articles["PMID:90000003"]["published"] == "1998"
    assert corpus_format(baseline) == "pubmed"
    assert open_corpus(baseline) == articles  # converted once to MedRAG JSONL in the cache
    written = write_medrag(baseline, tmp_path / "medrag")
    assert [p.name for p in written] == ["pubmed24n0001.jsonl"] and load_corpus(written[0]) == articles
    (baseline / "broken.xml").write_text("<PubmedArticleSet><PubmedArticle>")
    with pytest.raises(InputError, match=r"broken\.xml.*malformed XML"):
        list(iter_pubmed(baseline))


@pytest.mark.parametrize("shape", ["beir", "on-disk"])
def test_a_run_on_another_format_equals_the_medrag_run(tmp_path, monkeypatch, shape):
    data = write_dataset(tmp_path / "tiny")
    overrides = ["retriever.kind=bm25", "attacks=[none, poisonedrag-blackbox]", "defenses=[none, provenance]"]
    base = run_experiment(load_config(None, overrides, {k: str(v) for k, v in data.items()}))
    corpus = str(data["corpus"])
    if shape == "beir":
        corpus = str(write_beir(tmp_path / "beir"))
    else:
        monkeypatch.setattr(streaming, "IN_MEMORY_LIMIT", 0)
    other = run_experiment(load_config(None, overrides, {**{k: str(v) for k, v in data.items()}, "corpus": corpus}))
    keys = ("qid", "attack", "defense", "context_ids", "answer")
    def picked(trials):
        return [{k: getattr(r, k) for k in keys} for r in trials]

    assert picked(other.trials) == picked(base.trials)


def test_convert_command_writes_a_medrag_folder(tmp_path):
    from ragpoison.eval.cli import main

    root = write_beir(tmp_path / "scifact")
    assert main(["convert", str(root), str(tmp_path / "out")]) == 0
    assert load_corpus(tmp_path / "out") == open_corpus(root)
    assert main(["convert", str(tmp_path / "missing"), str(tmp_path / "out2")]) == 2
