"""BEIR folders: corpus.jsonl, queries.jsonl and qrels/<split>.tsv, read line by line."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import FOLDER_SOURCES, json_record
from ragpoison.rag.types import Queries


def is_beir_folder(path: Path) -> bool:
    """A folder holding BEIR's corpus.jsonl."""
    return path.is_dir() and (path / "corpus.jsonl").is_file()


def is_beir_record(record: Mapping[str, object]) -> bool:
    """A JSON line in BEIR's shape (``_id`` rather than MedRAG's ``id``)."""
    return "_id" in record and "id" not in record


def parse_beir_passage(file: Path, line_no: int, raw: str | bytes) -> tuple[str, dict[str, str]]:
    """One corpus.jsonl line as (doc_id, passage), validated; provenance from its metadata or the folder name."""
    doc_id, record = json_record(file, line_no, raw, "_id")
    text, title = record.get("text"), record.get("title", "") or ""
    if not isinstance(text, str) or not text.strip():
        raise InputError("must be a non-empty string", path=file, line=line_no, field="text")
    if not isinstance(title, str):
        raise InputError("must be a string", path=file, line=line_no, field="title")
    passage: dict[str, str] = {"title": title, "text": text}
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InputError("must be an object", path=file, line=line_no, field="metadata")
    for key in ("source", "published", "reference"):
        if isinstance(metadata.get(key), str):
            passage[key] = metadata[key]
    passage.setdefault("source", FOLDER_SOURCES.get(file.parent.name.lower(), "unknown"))
    return doc_id, passage


def load_beir_queries(path: str | Path) -> Queries:
    """BEIR queries.jsonl as {qid: text}."""
    path = Path(path)
    file = path / "queries.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise InputError("no such file or directory", path=file)
    queries: Queries = {}
    with file.open(encoding="utf-8") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            qid, record = json_record(file, line_no, raw, "_id")
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                raise InputError("missing or empty", path=file, line=line_no, field="text")
            queries[qid] = text
    return queries


def load_qrels(path: str | Path, split: str = "test") -> dict[str, dict[str, int]]:
    """BEIR qrels/<split>.tsv (header 'query-id corpus-id score') as {qid: {doc_id: relevance}}."""
    path = Path(path)
    file = path / "qrels" / f"{split}.tsv" if path.is_dir() else path
    if not file.is_file():
        raise InputError("no such file or directory", path=file)
    qrels: dict[str, dict[str, int]] = {}
    with file.open(encoding="utf-8", newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (line_no == 1 and row[0] == "query-id"):
                continue
            if len(row) != 3:
                raise InputError("expected query-id, corpus-id and score separated by tabs", path=file, line=line_no)
            try:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
            except ValueError:
                raise InputError("score must be an integer", path=file, line=line_no, field="score") from None
    return qrels
