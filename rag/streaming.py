"""Corpora of any size: detect the format, stream passages, and keep large corpora on disk behind a Mapping.

Formats: a MedRAG corpus (a JSONL file, or a folder such as ``chunk/*.jsonl``), a BEIR folder (corpus.jsonl)
and PubMed baseline XML (converted once into MedRAG JSONL in the cache). A corpus whose files exceed
``in_memory_limit`` bytes becomes an ``OnDiskCorpus``: a Mapping that keeps, per passage, a 64-bit hash of
its id and where its line starts in which file (24 bytes), and reads a passage from disk when asked for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from ragpoison.rag.beir import is_beir_folder, is_beir_record, parse_beir_passage
from ragpoison.rag.cache import default_cache_dir
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import (
    PassageParser,
    collect_corpus,
    corpus_files,
    duplicate_id_error,
    iter_corpus_lines,
    parse_medrag_passage,
)
from ragpoison.rag.pubmed import is_pubmed_path, write_medrag
from ragpoison.rag.types import CorpusView

IN_MEMORY_LIMIT = 256 * 1024 * 1024


def corpus_format(path: str | Path) -> str:
    """'medrag', 'beir' or 'pubmed'."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    if is_beir_folder(path):
        return "beir"
    if is_pubmed_path(path):
        return "pubmed"
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            for raw in handle:
                if raw.strip():
                    try:
                        record = json.loads(raw)
                    except json.JSONDecodeError:
                        return "medrag"  # the MedRAG parser names the line
                    return "beir" if isinstance(record, dict) and is_beir_record(record) else "medrag"
    return "medrag"


def source_files(path: str | Path) -> list[Path]:
    """The files a corpus is read from (what its hash covers)."""
    path = Path(path)
    fmt = corpus_format(path)
    if fmt == "beir":
        return [path / "corpus.jsonl" if path.is_dir() else path]
    if fmt == "pubmed":
        from ragpoison.rag.pubmed import pubmed_files

        return pubmed_files(path)
    return corpus_files(path)


def _parser(fmt: str) -> PassageParser:
    return parse_beir_passage if fmt == "beir" else parse_medrag_passage


def _pubmed_as_medrag(path: Path) -> Path:
    """Baseline XML converted once into MedRAG JSONL under the cache, keyed by the files' names, sizes and times."""
    from ragpoison.rag.pubmed import pubmed_files

    key = hashlib.sha256(json.dumps([(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns)
                                     for f in pubmed_files(path)]).encode()).hexdigest()[:20]
    out = default_cache_dir() / "pubmed" / key
    done = out / "complete"
    if not done.exists():
        write_medrag(path, out)
        done.write_text("ok")
    return out / "chunk"


def iter_corpus(path: str | Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Stream (doc_id, passage) pairs from a corpus in any supported format."""
    path = Path(path)
    fmt = corpus_format(path)
    if fmt == "pubmed":
        from ragpoison.rag.pubmed import iter_pubmed

        yield from iter_pubmed(path)
        return
    yield from iter_jsonl_passages(source_files(path), fmt)


def iter_jsonl_passages(files: list[Path], fmt: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Stream (doc_id, passage) pairs from MedRAG or BEIR JSONL files, validating each line."""
    for entry in iter_corpus_lines(files, _parser(fmt)):
        yield entry.doc_id, entry.passage


def id_hash(doc_id: str) -> int:
    """64-bit hash of a document id."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "little")


class OnDiskCorpus(Mapping[str, dict[str, str]]):
    """A corpus read from its JSONL files on demand; memory holds 24 bytes per passage, never the texts."""

    def __init__(self, files: list[Path], fmt: str) -> None:
        self.files = [Path(f) for f in files]
        self.format = fmt
        hashes: list[npt.NDArray[np.uint64]] = []
        offsets: list[npt.NDArray[np.int64]] = []
        file_nos: list[npt.NDArray[np.int32]] = []
        parse = _parser(fmt)
        for file_no, file in enumerate(self.files):
            h, o = self._scan(file, parse)
            hashes.append(h)
            offsets.append(o)
            file_nos.append(np.full(len(h), file_no, dtype=np.int32))
        self._hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        self._offsets = np.concatenate(offsets) if offsets else np.zeros(0, np.int64)
        self._file_nos = np.concatenate(file_nos) if file_nos else np.zeros(0, np.int32)
        if not len(self._hashes):
            raise InputError("corpus is empty", path=self.files[0] if self.files else None)
        self._order = np.argsort(self._hashes, kind="stable")
        self._sorted = self._hashes[self._order]
        self._check_duplicates()

    @staticmethod
    def _scan(file: Path, parse: PassageParser) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        hashes: list[int] = []
        offsets: list[int] = []
        with file.open("rb") as handle:
            offset = 0
            for line_no, raw in enumerate(handle, start=1):
                if raw.strip():
                    doc_id, _ = parse(file, line_no, raw)
                    hashes.append(id_hash(doc_id))
                    offsets.append(offset)
                offset += len(raw)
        return np.array(hashes, dtype=np.uint64), np.array(offsets, dtype=np.int64)

    def _check_duplicates(self) -> None:
        same = np.flatnonzero(self._sorted[1:] == self._sorted[:-1])
        for i in same:
            first, second = sorted((int(self._order[i]), int(self._order[i + 1])))
            (id_a, _), (id_b, _) = self._read(first), self._read(second)
            if id_a == id_b:
                raise duplicate_id_error(id_b, self._line_of(first), *self._line_of(second))

    def _line_of(self, position: int) -> tuple[Path, int]:
        file = self.files[int(self._file_nos[position])]
        with file.open("rb") as handle:
            line = handle.read(int(self._offsets[position])).count(b"\n") + 1
        return file, line

    def _read(self, position: int) -> tuple[str, dict[str, str]]:
        file = self.files[int(self._file_nos[position])]
        with file.open("rb") as handle:
            handle.seek(int(self._offsets[position]))
            raw = handle.readline()
        return _parser(self.format)(file, 0, raw)

    def _positions(self, doc_id: str) -> npt.NDArray[np.intp]:
        h = np.uint64(id_hash(doc_id))
        start = int(np.searchsorted(self._sorted, h, side="left"))
        end = int(np.searchsorted(self._sorted, h, side="right"))
        return self._order[start:end]

    def __getitem__(self, doc_id: str) -> dict[str, str]:
        for position in self._positions(doc_id):
            found, passage = self._read(int(position))
            if found == doc_id:
                return passage
        raise KeyError(doc_id)

    def __contains__(self, doc_id: Any) -> bool:
        return isinstance(doc_id, str) and any(self._read(int(p))[0] == doc_id for p in self._positions(doc_id))

    def __len__(self) -> int:
        return len(self._hashes)

    def _stream(self) -> Iterator[tuple[str, dict[str, str]]]:
        return iter_jsonl_passages(self.files, self.format)

    def __iter__(self) -> Iterator[str]:
        return (doc_id for doc_id, _ in self._stream())

    def items(self) -> _StreamingItems:
        """(id, passage) pairs in file order, read sequentially."""
        return _StreamingItems(self)

    def values(self) -> _StreamingValues:
        """Passages in file order, read sequentially."""
        return _StreamingValues(self)


class _StreamingItems(ItemsView[str, dict[str, str]]):
    """An items view that reads the files once, in order, instead of one random access per key."""

    def __init__(self, corpus: OnDiskCorpus) -> None:
        super().__init__(corpus)
        self._corpus = corpus

    def __iter__(self) -> Iterator[tuple[str, dict[str, str]]]:
        return self._corpus._stream()


class _StreamingValues(ValuesView[dict[str, str]]):
    """A values view that reads the files once, in order."""

    def __init__(self, corpus: OnDiskCorpus) -> None:
        super().__init__(corpus)
        self._corpus = corpus

    def __iter__(self) -> Iterator[dict[str, str]]:
        return (passage for _, passage in self._corpus._stream())


def open_corpus(path: str | Path, in_memory_limit: int | None = None) -> CorpusView:
    """A corpus as a Mapping: a dict when its files are small, an ``OnDiskCorpus`` when they are not.

    ``in_memory_limit`` (bytes of corpus files) defaults to ``IN_MEMORY_LIMIT``.
    """
    limit = IN_MEMORY_LIMIT if in_memory_limit is None else in_memory_limit
    path = Path(path)
    fmt = corpus_format(path)
    if fmt == "pubmed":
        path, fmt = _pubmed_as_medrag(path), "medrag"
    files = source_files(path)
    if sum(f.stat().st_size for f in files) > limit:
        return OnDiskCorpus(files, fmt)
    return collect_corpus(iter_corpus_lines(files, _parser(fmt)), path)
