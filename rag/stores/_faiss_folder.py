"""A persisted FAISS index: FAISS's own binary format plus a JSON record, never a pickle."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragpoison.rag.errors import InputError

FORMAT = "ragpoison-faiss/1"
RECORD = "ragpoison-index.json"
INDEX = "index.faiss"
FIELD = "store.params.path"


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


class FaissFolder:
    """Saves and reopens a FAISS index built here, refusing one built with another model, dimension or corpus."""

    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = settings
        self.model: str | None = None
        self.corpus: str | None = None

    def open(self, model: str, corpus: str) -> dict[str, Any] | None:
        """The saved index and id numbering, or None when nothing was saved here yet."""
        self.model, self.corpus = model, corpus
        record_path = self.path / RECORD
        if not record_path.exists():
            if self.path.is_dir() and any(self.path.glob("*.pkl")):
                raise InputError("holds a pickled index (LangChain's FAISS format?); ragpoison never unpickles an "
                                 "index it did not build: load it in your own code and attack it through "
                                 "ragpoison.eval.langchain, or point store.params.path at a new folder", path=self.path,
                                 field=FIELD)
            return None
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("malformed index record", path=record_path, field=FIELD) from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise InputError(f"not a {FORMAT} index record", path=record_path, field=FIELD)
        self._check(record, model, corpus)
        index_path = self.path / INDEX
        if not index_path.is_file() or file_sha256(index_path) != record.get("index_sha256"):
            raise InputError(f"{INDEX} is missing or differs from the index recorded when it was built here",
                             path=self.path, field=FIELD)
        import faiss

        return {"index": faiss.read_index(str(index_path)), "numbers": [tuple(pair) for pair in record["ids"]],
                "masked": record.get("masked", []), "next": record["next"]}

    def _check(self, record: dict[str, Any], model: str, corpus: str) -> None:
        built = record.get("settings", {})
        if record.get("model") != model or built.get("dim") != self.settings["dim"]:
            raise InputError(f"index was built with embedding model {record.get('model')} (dimension "
                             f"{built.get('dim')}); this run embeds with {model} (dimension {self.settings['dim']}): "
                             "point store.params.path at a new folder or delete this one", path=self.path, field=FIELD)
        if built != self.settings:
            raise InputError(f"index was built with settings {built}; this config asks for {self.settings}",
                             path=self.path, field=FIELD)
        if record.get("corpus") != corpus:
            raise InputError("index holds another corpus than this run's: point store.params.path at a new folder "
                             "or delete this one", path=self.path, field=FIELD)

    def save(self, index: Any, numbers: list[tuple[str, int]], masked: list[int], next_number: int) -> None:
        """Write the index, then its record (the record is written last, so a half-written save is never opened)."""
        import faiss

        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / RECORD).unlink(missing_ok=True)
        index_path = self.path / INDEX
        _atomic_write(index_path, lambda tmp: faiss.write_index(index, str(tmp)))
        record = {"format": FORMAT, "model": self.model, "corpus": self.corpus, "settings": self.settings,
                  "index_sha256": file_sha256(index_path), "next": next_number, "masked": masked,
                  "ids": [list(pair) for pair in numbers]}
        _atomic_write(self.path / RECORD, lambda tmp: tmp.write_text(json.dumps(record), encoding="utf-8"))
