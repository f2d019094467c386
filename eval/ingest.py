"""Ingestion: HTML, PDF and Markdown documents to a MedRAG-format corpus, extracted and chunked as pipelines do.

Extraction follows the defaults of the loaders RAG pipelines use, so what lands in the corpus is what a real
pipeline would index: HTML through BeautifulSoup's ``get_text`` (LangChain's ``BSHTMLLoader``: every text node,
hidden or not; no comments, scripts, styles or attributes), PDF through pypdf's ``extract_text`` page by page
(LangChain's ``PyPDFLoader``: every text-showing operator, whatever its render mode or what is drawn over it; no
metadata in the text), Markdown as its source text (LangChain's ``TextLoader``). Chunks come from LangChain's
``RecursiveCharacterTextSplitter`` with ``chunk_size`` and ``chunk_overlap`` in characters (MedRAG chunked its
textbooks with 1000 and 200). Each chunk keeps its provenance: the document (its URL where the page names one,
else its path), the chunk's index in it, the published date where the document states one, and ``source``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragpoison.eval.config import IngestConfig
from ragpoison.rag.errors import InputError

FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf", ".md": "markdown", ".markdown": "markdown"}
_DATE_META = ("citation_publication_date", "article:published_time", "dc.date", "date", "citation_date")


@dataclass(frozen=True)
class Document:
    """A document's extracted text and what it says about itself."""

    path: Path
    format: str
    title: str
    text: str
    url: str = ""
    published: str = ""


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.strip():
        raise InputError("empty file", path=path)
    return data


def _html(path: Path, visible: bool = False) -> Document:
    from bs4 import BeautifulSoup

    raw = _read(path)
    try:
        markup = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not HTML: the file is not UTF-8 text", path=path) from None
    soup = BeautifulSoup(markup, "html.parser")
    if soup.find() is None:
        raise InputError("not HTML: no element in the file", path=path)
    title = soup.title.get_text(" ", strip=True) if soup.title else path.stem
    url = ""
    places: list[tuple[str, Any, str]] = [("link", {"rel": "canonical"}, "href"),
                                          ("meta", {"property": "og:url"}, "content")]
    for tag, attrs, key in places:
        found = soup.find(tag, attrs=attrs)
        if found is not None and found.get(key):
            url = str(found.get(key))
            break
    published = ""
    for name in _DATE_META:
        meta = soup.find("meta", attrs={"name": name}) or soup.find("meta", attrs={"property": name})
        if meta is not None and meta.get("content"):
            published = str(meta.get("content"))
            break
    if visible:
        from ragpoison.eval.visible import visible_html

        return Document(path, "html", title, visible_html(markup), url, published)
    if soup.title is not None:
        soup.title.decompose()  # the title is the passage's title, not part of its text
    return Document(path, "html", title, soup.get_text("\n"), url, published)


def _pdf(path: Path, visible: bool = False) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    _read(path)
    try:
        reader = PdfReader(path, strict=False)
        if visible:
            from ragpoison.eval.visible import visible_pdf

            text = visible_pdf(path)
        else:
            text = "\n".join(page.extract_text() or "" for page in reader.pages)
        info: Any = reader.metadata or {}
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise InputError(f"not a readable PDF ({type(exc).__name__}: {exc})", path=path) from None
    title = str(info.get("/Title") or path.stem)
    created = str(info.get("/CreationDate") or "")
    match = re.match(r"D:(\d{4})(\d{2})(\d{2})", created)
    published = f"{match[1]}-{match[2]}-{match[3]}" if match else ""
    return Document(path, "pdf", title, text, "", published)


def _markdown(path: Path, visible: bool = False) -> Document:
    raw = _read(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not Markdown: the file is not UTF-8 text", path=path) from None
    front: dict[str, str] = {}
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if match:
        for line in match[1].splitlines():
            key, _, value = line.partition(":")
            front[key.strip().lower()] = value.strip().strip("\"'")
        text = text[match.end():]
    if visible:
        from ragpoison.eval.visible import visible_markdown

        text = visible_markdown(text)
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    title = front.get("title") or (heading[1].strip() if heading else path.stem)
    return Document(path, "markdown", title, text, front.get("url", ""), front.get("date", ""))


EXTRACTORS: dict[str, Callable[[Path, bool], Document]] = {"html": _html, "pdf": _pdf, "markdown": _markdown}


def extract(path: Path, visible: bool = False) -> Document:
    """A document's text and provenance, by its extension; one-line errors naming the file.

    ``visible``: only the text a person viewing the rendered document sees (``ragpoison.eval.visible``).
    """
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported extension {path.suffix or '(none)'!r} (html, htm, pdf, md, markdown)", path=path)
    document = EXTRACTORS[kind](path, visible)
    if not document.text.strip():
        raise InputError("no text to index in the document", path=path)
    return document


def document_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Files named, and every file under folders named, in a stable order."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("no such file or folder", path=path)
    if not files:
        raise InputError("no documents to ingest", field="docs")
    return files


def chunks(document: Document, config: IngestConfig) -> list[str]:
    """The document's text in chunks of ``chunk_size`` characters with ``chunk_overlap`` shared."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap)
    text = re.sub(r"\n\s*\n+", "\n\n", document.text.strip())
    return [c.strip() for c in splitter.split_text(text) if c.strip()]


@dataclass
class IngestReport:
    """What ``ingest`` wrote and skipped."""

    documents: int = 0
    chunks: int = 0
    skipped: list[str] = field(default_factory=list)


def _slug(path: Path, root: Path | None) -> str:
    name = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def ingest(inputs: Iterable[str | Path], out: str | Path, config: IngestConfig, *,
           skip_bad: bool = False) -> IngestReport:
    """Extract, chunk and write a MedRAG corpus folder (``out/chunk/documents.jsonl``); all or nothing."""
    if config.chunk_overlap >= config.chunk_size:
        raise InputError("must be smaller than ingest.chunk_size", field="ingest.chunk_overlap")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError("the output folder exists and is not empty", path=out)
    inputs = list(inputs)
    files = document_files(inputs)
    roots = [Path(i) for i in inputs if Path(i).is_dir()]
    report = IngestReport()
    lines: list[str] = []
    for path in files:
        try:
            document = extract(path, config.visible_only)
        except InputError as exc:
            if not skip_bad:
                raise
            report.skipped.append(str(exc))
            continue
        root = next((r for r in roots if path.is_relative_to(r)), None)
        stem = _slug(path, root)
        parts = chunks(document, config)
        for index, text in enumerate(parts):
            record = {"id": f"{stem}#{index}", "title": document.title, "content": text,
                      "contents": f"{document.title}. {text}" if document.title else text,
                      "source": config.source, "document": str(path.resolve()), "format": document.format,
                      "chunk": index}
            if document.url:
                record["url"] = document.url
            if document.published:
                record["published"] = document.published
            lines.append(json.dumps(record, ensure_ascii=False))
        report.documents += 1
        report.chunks += len(parts)
    if not lines:
        raise InputError("no document could be ingested", field="docs")
    # Written beside the target and renamed into place: a crash leaves no half-written corpus.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / "chunk").mkdir()
        (staging / "chunk" / "documents.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def ingested(folder: str | Path, config: IngestConfig) -> Path:
    """The corpus ``ingest`` makes of a folder of documents (``data.documents`` in a run's config).

    Built once in the cache and reused while the documents and the ingest settings are unchanged.
    """
    import hashlib

    from ragpoison.rag.cache import default_cache_dir

    folder = Path(folder)
    files = document_files([folder])
    digest = hashlib.sha256(config.model_dump_json().encode())
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    out = default_cache_dir() / "ingested" / digest.hexdigest()[:24]
    if not (out / "chunk" / "documents.jsonl").is_file():
        ingest([folder], out, config)
    return out
