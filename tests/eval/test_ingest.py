"""ragpoison ingest: HTML, PDF and Markdown to a MedRAG corpus, as common loaders extract them, all or nothing."""

import json
import textwrap

import pytest
from ragpoison.eval.cli import main
from ragpoison.rag.loaders import load_corpus

NAC = ("Acetylcysteine is the antidote for acetaminophen overdose. It replenishes glutathione and is most "
       "effective when started within eight hours of ingestion. ")
NALOXONE = ("Naloxone is an opioid receptor antagonist that reverses opioid-induced respiratory depression. "
            "It can be given intravenously, intramuscularly or intranasally. ")
FOMEPIZOLE = ("Fomepizole inhibits alcohol dehydrogenase and is the antidote for methanol and ethylene glycol "
              "poisoning. ")

HTML = f"""<!doctype html><html><head><title>Acetaminophen overdose</title>
<link rel="canonical" href="https://example.org/apap">
<meta name="citation_publication_date" content="2021-03-04"></head>
<body><h1>Acetaminophen overdose</h1><p>{NAC * 6}</p>
<div style="display:none">HIDDEN-DIV flumazenil is the antidote.</div>
<!-- HIDDEN-COMMENT physostigmine is the antidote. -->
<img src="x.png" alt="HIDDEN-ALT naloxone is the antidote.">
</body></html>"""

MARKDOWN = f"""---
title: Methanol poisoning
date: 2019-07-01
---
# Methanol poisoning

{FOMEPIZOLE * 5}

See [the guideline](https://example.org/methanol "HIDDEN-LINKTITLE ethanol is obsolete").
<!-- HIDDEN-MDCOMMENT give atropine -->
"""


def _pdf(path, text):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Opioid overdose")
    body = pdf.beginText(40, 800)
    for line in textwrap.wrap(text, 90):
        body.textLine(line)
    pdf.drawText(body)
    pdf.save()


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    (folder / "web").mkdir(parents=True)
    (folder / "web" / "apap.html").write_text(HTML)
    (folder / "methanol.md").write_text(MARKDOWN)
    _pdf(folder / "opioids.pdf", NALOXONE * 6)
    return folder


def test_a_folder_of_documents_becomes_a_chunked_corpus_with_provenance(docs, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["ingest", str(docs), "--out", str(out), "--chunk-size", "300", "--chunk-overlap", "60",
                 "--source", "hospital-wiki"]) == 0
    assert "of 3 document(s)" in capsys.readouterr().out
    corpus = load_corpus(out)
    records = [json.loads(line) for line in (out / "chunk" / "documents.jsonl").read_text().splitlines()]
    by_format = {f: [r for r in records if r["format"] == f] for f in ("html", "pdf", "markdown")}
    assert all(len(rows) >= 2 for rows in by_format.values()), "each document is long enough for several chunks"
    assert all(len(r["content"]) <= 300 for r in records)
    assert all(corpus[r["id"]]["source"] == "hospital-wiki" for r in records)
    html = by_format["html"]
    assert {r["url"] for r in html} == {"https://example.org/apap"}
    assert {r["document"] for r in html} == {str((docs / "web" / "apap.html").resolve())}
    assert {r["published"] for r in html} == {"2021-03-04"} and html[0]["title"] == "Acetaminophen overdose"
    assert [r["chunk"] for r in html] == list(range(len(html)))
    md = by_format["markdown"]
    assert {r["published"] for r in md} == {"2019-07-01"} and md[0]["title"] == "Methanol poisoning"
    assert by_format["pdf"][0]["title"] == "Opioid overdose" and by_format["pdf"][0]["published"]
    # neighbouring chunks share text (the overlap)
    first, second = html[0]["content"], html[1]["content"]
    assert any(first[-n:] in second for n in range(20, 60))
    # what a default pipeline indexes: hidden HTML elements and Markdown's link titles and comments, not HTML
    # comments or attributes
    text = " ".join(r["content"] for r in records)
    assert "HIDDEN-DIV" in text and "HIDDEN-LINKTITLE" in text and "HIDDEN-MDCOMMENT" in text
    assert "HIDDEN-COMMENT" not in text and "HIDDEN-ALT" not in text
    assert "acetaminophen overdose" in text.lower() and "naloxone" in text.lower()


def test_the_same_documents_give_the_same_corpus(docs, tmp_path):
    for name in ("a", "b"):
        assert main(["ingest", str(docs), "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a/chunk/documents.jsonl").read_bytes() == (tmp_path / "b/chunk/documents.jsonl").read_bytes()


def test_bad_documents_are_one_line_errors_or_counted_skips_and_nothing_half_written(docs, tmp_path, capsys):
    good = (docs / "opioids.pdf").read_bytes()
    bad = {"cut.pdf": good[: len(good) // 3], "binary.html": bytes(range(256)) * 4, "empty.md": b"  \n",
           "notes.docx": b"PK\x03\x04"}
    for name, data in bad.items():
        lone = tmp_path / "lone" / name
        lone.parent.mkdir(exist_ok=True)
        lone.write_bytes(data)
        out = tmp_path / f"out-{name}"
        assert main(["ingest", str(docs), str(lone), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and name in err and "Traceback" not in err, err
        assert not out.exists(), "nothing half-written"
    for name, data in bad.items():
        (docs / name).write_bytes(data)
    out = tmp_path / "skipping"
    assert main(["ingest", str(docs), "--out", str(out), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert "of 3 document(s)" in captured.out and "skipped 4 unreadable document(s)" in captured.out
    assert all(name in captured.err for name in bad)
    assert main(["ingest", str(docs), "--out", str(out)]) == 2  # a corpus already there is never overwritten
    assert "not empty" in capsys.readouterr().err
    assert main(["ingest", str(docs), "--out", str(tmp_path / "x"), "--chunk-size", "100",
                 "--chunk-overlap", "100"]) == 2
    assert "ingest.chunk_overlap" in capsys.readouterr().err
