"""Write corpora/clinical_docs: the bundled clinical_mini passages as HTML, PDF and Markdown documents.

One document per passage, the format chosen by the passage's position (HTML, PDF, Markdown in turn), each with
the passage's title and publication date; the text is the passage's own (reviewed) text, so the documents are the
same clean baseline as the bundled corpus. ``configs/ingest.yaml`` ingests them. Run from the repository root:

    python corpora/build_documents.py
"""

from __future__ import annotations

import html
import io
import json
import shutil
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "clinical_docs"


def _html(title: str, text: str, published: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="citation_publication_date" content="{published}"></head>'
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>\n")


def _markdown(title: str, text: str, published: str) -> str:
    return f"---\ntitle: {title}\ndate: {published}\n---\n# {title}\n\n{textwrap.fill(text, 100)}\n"


def _pdf(title: str, text: str, published: str) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    body = pdf.beginText(40, 800)
    body.textLine(title)
    for line in textwrap.wrap(text, 95):
        body.textLine(line)
    pdf.drawText(body)
    pdf.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buffer.getvalue())))
    writer.add_metadata({"/CreationDate": "D:" + published.replace("-", "") + "000000"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def main() -> None:
    """Write one document per bundled passage."""
    rows = [json.loads(line) for line in (ROOT / "clinical_mini/corpus/clinical_mini.jsonl").read_text().splitlines()]
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    for index, row in enumerate(rows):
        title, text, published = row["title"], row["content"], row.get("published", "2020-01-01")
        kind = ("html", "pdf", "markdown")[index % 3]
        if kind == "html":
            (OUT / f"{row['id']}.html").write_text(_html(title, text, published), encoding="utf-8")
        elif kind == "markdown":
            (OUT / f"{row['id']}.md").write_text(_markdown(title, text, published), encoding="utf-8")
        else:
            (OUT / f"{row['id']}.pdf").write_bytes(_pdf(title, text, published))
    print(f"wrote {len(rows)} documents to {OUT}")


if __name__ == "__main__":
    main()
