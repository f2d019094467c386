"""PubMed baseline XML (pubmed*.xml.gz) streamed article by article into MedRAG-shaped passages.

As MedRAG builds its PubMed corpus: one passage per article with a title and an abstract, id ``PMID:<n>``,
content the abstract sections joined by spaces. Articles without an abstract are skipped.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from ragpoison.rag.errors import InputError

MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"), start=1)}


def is_pubmed_path(path: Path) -> bool:
    """A baseline file (.xml or .xml.gz) or a folder of them (and no JSONL)."""
    if path.is_file():
        return path.name.endswith((".xml", ".xml.gz"))
    return path.is_dir() and not any(path.rglob("*.jsonl")) and any(pubmed_files(path))


def pubmed_files(path: Path) -> list[Path]:
    """The baseline files of a file or folder, sorted."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".xml", ".xml.gz")))


def _text(element: ET.Element | None) -> str:
    # Titles and abstracts carry inline markup (<i>, <sup>, <sub>): keep its text, drop the tags.
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _date(article: ET.Element) -> str:
    pub = article.find("./MedlineCitation/Article/Journal/JournalIssue/PubDate")
    if pub is None:
        return ""
    year = pub.findtext("Year") or (pub.findtext("MedlineDate") or "")[:4]
    if not year.isdigit():
        return ""
    month = (pub.findtext("Month") or "").strip()
    month_no = int(month) if month.isdigit() else MONTHS.get(month[:3].lower())
    if not month_no:
        return year
    day = (pub.findtext("Day") or "").strip()
    return f"{year}-{month_no:02d}" + (f"-{int(day):02d}" if day.isdigit() else "")


def _open(file: Path) -> io.BufferedIOBase:
    return gzip.open(file, "rb") if file.name.endswith(".gz") else file.open("rb")


def iter_pubmed(path: str | Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Stream (``PMID:n``, passage) from baseline XML, keeping one article in memory at a time."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    files = pubmed_files(path)
    if not files:
        raise InputError("no PubMed .xml or .xml.gz files", path=path)
    for file in files:
        with _open(file) as handle:
            try:
                yield from _articles(file, handle)
            except ET.ParseError as exc:
                raise InputError(f"malformed XML ({exc})", path=file, line=exc.position[0]) from None
            except (OSError, EOFError) as exc:
                raise InputError(f"unreadable ({exc})", path=file) from None


def _articles(file: Path, handle: io.BufferedIOBase) -> Iterator[tuple[str, dict[str, str]]]:
    context = ET.iterparse(handle, events=("start", "end"))
    _, root = next(context)
    for event, element in context:
        if event != "end" or element.tag != "PubmedArticle":
            continue
        pmid = (element.findtext("./MedlineCitation/PMID") or "").strip()
        title = _text(element.find("./MedlineCitation/Article/ArticleTitle"))
        abstract = " ".join(filter(None, (_text(a) for a in element.iterfind(
            "./MedlineCitation/Article/Abstract/AbstractText"))))
        if pmid and abstract:
            passage: dict[str, str] = {"title": title, "text": abstract, "source": "pubmed",
                                       "reference": f"PMID:{pmid}"}
            published = _date(element)
            if published:
                passage["published"] = published
            yield f"PMID:{pmid}", passage
        root.clear()  # drop finished articles: memory stays at one article, whatever the file size


def write_medrag(path: str | Path, out: str | Path) -> list[Path]:
    """Convert baseline XML into a MedRAG corpus folder ``out/chunk/<file>.jsonl``, one file per baseline file."""
    out = Path(out) / "chunk"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for file in pubmed_files(Path(path)):
        target = out / (file.name.removesuffix(".gz").removesuffix(".xml") + ".jsonl")
        tmp = target.with_name(f".{target.name}.tmp")
        with tmp.open("w", encoding="utf-8") as sink:
            for doc_id, passage in iter_pubmed(file):
                record: dict[str, str] = {"id": doc_id, "title": passage["title"], "content": passage["text"],
                          "contents": f"{passage['title']}. {passage['text']}",
                          **{k: passage[k] for k in ("source", "published", "reference") if k in passage}}
                sink.write(json.dumps(record) + "\n")
        os.replace(tmp, target)
        written.append(target)
    return written
