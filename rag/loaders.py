"""Validated loaders for MedRAG corpora, MIRAGE questions and attack target files."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ragpoison.rag.errors import InputError
from ragpoison.rag.types import Corpus, Question, Target

SEVERITIES = ("high", "medium", "low")
# Parses one non-blank JSONL line (file, 1-based line number, raw text) into (doc_id, passage), validating it.
PassageParser = Callable[[Path, int, str | bytes], tuple[str, dict[str, str]]]
# MedRAG's corpus folders; the folder a file sits in names its source when the record has none.
FOLDER_SOURCES = {"pubmed": "pubmed", "statpearls": "statpearls", "textbooks": "textbook",
                  "textbook": "textbook", "wikipedia": "wikipedia"}


def _require_file(path: Path) -> None:
    if not path.exists():
        raise InputError("no such file or directory", path=path)


def corpus_files(path: str | Path) -> list[Path]:
    """Return the JSONL files of a MedRAG corpus given as a file or a folder (searched recursively)."""
    path = Path(path)
    _require_file(path)
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    if not files:
        raise InputError("no .jsonl files in corpus folder", path=path)
    return files


def infer_source(path: Path, doc_id: str) -> str:
    """Name a passage's source from its folder (MedRAG layout) or its id prefix."""
    if doc_id.upper().startswith("PMID"):
        return "pubmed"
    for part in reversed(path.parts[:-1]):
        source = FOLDER_SOURCES.get(part.lower())
        if source:
            return source
    return "unknown"


class CorpusLine(NamedTuple):
    """One passage as read from a corpus file, with the file and line it was read from."""

    file: Path
    line: int
    doc_id: str
    passage: dict[str, str]


def iter_corpus_lines(files: Sequence[Path], parse: PassageParser) -> Iterator[CorpusLine]:
    """Every non-blank line of JSONL corpus files, parsed and validated, with where it was read."""
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for line_no, raw in enumerate(handle, start=1):
                if raw.strip():
                    doc_id, passage = parse(file, line_no, raw)
                    yield CorpusLine(file, line_no, doc_id, passage)


def duplicate_id_error(doc_id: str, first: tuple[Path, int], file: Path, line: int) -> InputError:
    """The error for an id read a second time, naming the line of each reading."""
    return InputError(f"duplicate id {doc_id!r} (first at {first[0]}:{first[1]})", path=file, line=line, field="id")


def collect_corpus(lines: Iterable[CorpusLine], path: str | Path) -> Corpus:
    """A corpus in memory from validated lines, refusing a repeated id and an empty corpus (``path`` names it)."""
    corpus: Corpus = {}
    first_at: dict[str, tuple[Path, int]] = {}
    for file, line, doc_id, passage in lines:
        if doc_id in corpus:
            raise duplicate_id_error(doc_id, first_at[doc_id], file, line)
        corpus[doc_id] = passage
        first_at[doc_id] = (file, line)
    if not corpus:
        raise InputError("corpus is empty", path=path)
    return corpus


def iter_medrag_lines(path: str | Path) -> Iterator[CorpusLine]:
    """Stream the passages of a MedRAG corpus (file or folder) with the file and line of each, validating each."""
    return iter_corpus_lines(corpus_files(path), parse_medrag_passage)


def iter_medrag(path: str | Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Stream (doc_id, passage) pairs from MedRAG JSONL, validating each line."""
    for entry in iter_medrag_lines(path):
        yield entry.doc_id, entry.passage


def json_record(file: Path, line_no: int, raw: str | bytes, id_field: str) -> tuple[str, dict[str, Any]]:
    """One JSONL line as (its id, the record), refusing malformed JSON, a non-object or a missing id."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", path=file, line=line_no) from None
    if not isinstance(record, dict):
        raise InputError("expected a JSON object", path=file, line=line_no)
    doc_id = record.get(id_field)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InputError("missing or empty", path=file, line=line_no, field=id_field)
    return doc_id, record


def parse_medrag_passage(file: Path, line_no: int, raw: str | bytes) -> tuple[str, dict[str, str]]:
    """One MedRAG JSONL line as (doc_id, passage), validated; its source from the record, folder or id."""
    doc_id, record = json_record(file, line_no, raw, "id")
    title = record.get("title", "")
    content = record.get("content")
    if content is None:
        contents = record.get("contents")
        if not isinstance(contents, str):
            raise InputError("missing (need 'content' or 'contents')", path=file, line=line_no,
                             field="content")
        prefix = f"{title}. " if title else ""
        content = contents[len(prefix):] if prefix and contents.startswith(prefix) else contents
    if not isinstance(content, str) or not content.strip():
        raise InputError("must be a non-empty string", path=file, line=line_no, field="content")
    if not isinstance(title, str):
        raise InputError("must be a string", path=file, line=line_no, field="title")
    passage: dict[str, str] = {"title": title, "text": content}
    # A signature (from `ragpoison sign`) travels with the passage so that a filter can verify it.
    for key in ("source", "published", "reference", "signature", "document", "url"):
        value = record.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise InputError("must be a string", path=file, line=line_no, field=key)
            passage[key] = value
    passage.setdefault("source", infer_source(file, doc_id))
    if "reference" not in passage and doc_id.upper().startswith("PMID"):
        passage["reference"] = doc_id
    return doc_id, passage


def load_corpus(path: str | Path) -> Corpus:
    """Load a MedRAG corpus (file or folder) into a BEIR-shaped dict, refusing duplicates and emptiness."""
    return collect_corpus(iter_medrag_lines(path), path)


def _read_json(path: Path) -> object:
    _require_file(path)
    if path.is_dir():
        raise InputError("expected a JSON file, got a folder", path=path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", path=path, line=exc.lineno) from None


def load_questions(path: str | Path) -> dict[str, Question]:
    """Load MIRAGE benchmark.json questions, keyed 'DATASET/ID'."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not data:
        raise InputError("expected {dataset: {id: question}} with at least one dataset", path=path)
    questions: dict[str, Question] = {}
    for dataset, items in data.items():
        if not isinstance(items, dict):
            raise InputError("expected an object of questions", path=path, field=dataset)
        for qid, item in items.items():
            key = f"{dataset}/{qid}"
            questions[key] = _parse_question(path, dataset, str(qid), key, item)
    if not questions:
        raise InputError("no questions", path=path)
    return questions


def _parse_question(path: Path, dataset: str, qid: str, key: str, item: object) -> Question:
    if not isinstance(item, dict):
        raise InputError("expected an object", path=path, field=key)
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise InputError("missing or empty", path=path, field=f"{key}.question")
    options = item.get("options")
    if not isinstance(options, dict) or len(options) < 2:
        raise InputError("expected at least two options", path=path, field=f"{key}.options")
    for letter, option in options.items():
        if not isinstance(option, str) or not option.strip():
            raise InputError("option text must be a non-empty string", path=path,
                             field=f"{key}.options.{letter}")
    answer = item.get("answer")
    if not isinstance(answer, str) or answer not in options:  # JSON keys are strings
        raise InputError(f"answer {answer!r} not among options {', '.join(options)}", path=path,
                         field=f"{key}.answer")
    return Question(qid=key, question=text.strip(), options={str(k): v for k, v in options.items()},
                    answer=answer, dataset=dataset)


def load_targets(path: str | Path | None, questions: dict[str, Question], seed: int) -> dict[str, Target]:
    """Load attack targets and give every question without one a seeded wrong option."""
    targets: dict[str, Target] = {}
    if path is not None:
        path = Path(path)
        data = _read_json(path)
        if not isinstance(data, dict):
            raise InputError("expected {question_id: {target, severity}}", path=path)
        datasets = {q.dataset for q in questions.values()}
        for key, item in data.items():
            qkey = key if key in questions else None
            if qkey is None and "/" not in key and len(datasets) == 1:
                qkey = f"{next(iter(datasets))}/{key}"
            if qkey not in questions:
                raise InputError("names no question in the question file", path=path, field=key)
            targets[qkey] = _parse_target(path, key, item, questions[qkey])
    for qkey, question in questions.items():
        if qkey not in targets:
            wrong = sorted(letter for letter in question.options if letter != question.answer)
            option = random.Random(f"{seed}:target:{qkey}").choice(wrong)
            targets[qkey] = Target(option=option, severity="medium", assigned_by_seed=True)
    return targets


def _parse_target(path: Path, key: str, item: object, question: Question) -> Target:
    if not isinstance(item, dict):
        raise InputError("expected an object with 'target'", path=path, field=key)
    option = item.get("target")
    if option not in question.options:
        raise InputError(f"target {option!r} not among options {', '.join(question.options)}",
                         path=path, field=f"{key}.target")
    if option == question.answer:
        raise InputError("target is the correct answer; it must be a wrong option", path=path,
                         field=f"{key}.target")
    severity = item.get("severity", "medium")
    if severity not in SEVERITIES:
        raise InputError(f"severity {severity!r} not one of {', '.join(SEVERITIES)}", path=path,
                         field=f"{key}.severity")
    return Target(option=option, severity=severity)
