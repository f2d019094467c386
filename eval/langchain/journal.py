"""The injection journal: ids are written to disk before they enter a user's store, so a crash can be undone.

A journal is JSON Lines, each line flushed and fsynced before the store is touched:

    {"journal": "ragpoison-journal/1", "store": {...how to reopen it...}, "pid": 123, "started": "..."}
    {"op": "inject", "ids": [...]}      written before the passages are added
    {"op": "removed", "ids": [...]}     written after they were deleted and checked gone

A quarantine (``ragpoison trace --quarantine``) journals what it takes out of a store the same way:

    {"op": "quarantine", "ids": [...], "records": [...]}   every record in full, written before deletion
    {"op": "removed", "ids": [...]}                         written after they were deleted and checked gone
    {"op": "restored", "ids": [...]}                        written by ``restore`` once they are back

Ids injected or quarantined and not yet removed (nor restored) are pending; ``cleanup`` reopens the store and
deletes them, which completes an interrupted quarantine; ``restore`` puts quarantined records back. This module
imports no LangChain or Chroma at import time: the ``cleanup`` command stays light.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragpoison.rag.errors import InputError

FORMAT = "ragpoison-journal/1"


@dataclass
class JournalState:
    """What a journal says: the store it concerns and the ids still pending removal, in injection order."""

    path: Path
    store: dict[str, Any]
    injected: list[str] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    quarantined: dict[str, dict[str, Any]] = field(default_factory=dict)
    restored: set[str] = field(default_factory=set)

    @property
    def pending(self) -> list[str]:
        """Injected or quarantined ids not yet removed (nor put back)."""
        taken = [doc_id for doc_id in self.quarantined if doc_id not in self.restored]
        return [doc_id for doc_id in self.injected + taken if doc_id not in self.removed]

    @property
    def where(self) -> str:
        """The store in a word or two: its collection, factory or class."""
        return str(self.store.get("collection") or self.store.get("factory") or self.store.get("class", "store"))

    @property
    def held(self) -> list[str]:
        """Quarantined ids not yet restored: the records only this journal holds once they are deleted."""
        return [doc_id for doc_id in self.quarantined if doc_id not in self.restored]


def read_journal(path: str | Path) -> JournalState:
    """Parse a journal, naming the line at fault when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such journal file", path=path)
    state: JournalState | None = None
    with path.open(encoding="utf-8") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                if not raw.endswith("\n"):
                    break  # a line cut short by a crash was never acted on: its ids never reached the store
                raise InputError("malformed JSON", path=path, line=line_no) from None
            if not isinstance(entry, dict):
                raise InputError("expected a JSON object", path=path, line=line_no)
            if state is None:
                if entry.get("journal") != FORMAT or not isinstance(entry.get("store"), dict):
                    raise InputError(f"not a {FORMAT} journal", path=path, line=line_no, field="journal")
                state = JournalState(path, entry["store"])
                continue
            _apply(state, entry, path, line_no)
    if state is None:
        raise InputError("empty journal", path=path)
    return state


def _apply(state: JournalState, entry: dict[str, Any], path: Path, line_no: int) -> None:
    """Fold one journal line into the state."""
    ids, op = entry.get("ids"), entry.get("op")
    if op not in ("inject", "removed", "quarantine", "restored") or not isinstance(ids, list):
        raise InputError("expected op 'inject', 'quarantine', 'removed' or 'restored' with a list of ids", path=path,
                         line=line_no, field="op")
    if op == "inject":
        state.injected.extend(ids)
    elif op == "removed":
        state.removed.update(ids)
    elif op == "restored":
        state.restored.update(ids)
    else:
        records = entry.get("records")
        if not isinstance(records, list) or [r.get("id") if isinstance(r, dict) else None for r in records] != ids:
            raise InputError("a quarantine line needs one record per id, in order", path=path, line=line_no,
                             field="records")
        for record in records:
            state.quarantined[record["id"]] = record
            state.removed.discard(record["id"])
            state.restored.discard(record["id"])


class Journal:
    """An open journal for one attack, or one quarantine, on one store."""

    def __init__(self, path: str | Path, store: dict[str, Any]) -> None:
        self.path = Path(path)
        if self.path.exists():
            previous = read_journal(self.path)
            if previous.held:
                raise InputError(f"holds {len(previous.held)} quarantined passages that were never restored; "
                                 f"run `ragpoison restore {self.path}` or choose another journal", path=self.path)
            if previous.pending:
                raise InputError(f"still lists {len(previous.pending)} injected passages that were never removed; "
                                 f"run `ragpoison cleanup {self.path}` first", path=self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("w", encoding="utf-8")
        self._write({"journal": FORMAT, "store": store, "pid": os.getpid(),
                     "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})

    def _write(self, entry: dict[str, Any]) -> None:
        self._handle.write(json.dumps(entry) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def injecting(self, ids: list[str]) -> None:
        """Record ids about to be added (call before adding them)."""
        self._write({"op": "inject", "ids": list(ids)})

    def removed(self, ids: list[str]) -> None:
        """Record ids deleted and checked gone."""
        self._write({"op": "removed", "ids": list(ids)})

    def quarantining(self, records: list[dict[str, Any]]) -> None:
        """Record, in full, the records about to be taken out of the store (call before deleting them)."""
        self._write({"op": "quarantine", "ids": [r["id"] for r in records], "records": records})

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def describe_store(store: Any, reopen: str | None = None) -> dict[str, Any]:
    """How to reopen a LangChain vector store after a crash: Chroma or PGVector connection, a factory, or 'memory'.

    ``reopen`` names a function ``module:function`` of the user's that returns the store; otherwise Chroma
    stores are described from their client, and in-process stores (FAISS, InMemoryVectorStore) die with the
    process, so nothing outlives a crash.
    """
    if reopen is not None:
        if ":" not in reopen:
            raise InputError("expected module:function", field="reopen")
        return {"type": "factory", "factory": reopen}
    kind = type(store).__name__
    if kind == "Chroma" and type(store).__module__.startswith("langchain_chroma"):
        return _describe_chroma(store)
    if kind == "PGVector" and type(store).__module__.startswith("langchain_postgres"):
        return _describe_pgvector(store)
    if kind in ("FAISS", "InMemoryVectorStore"):
        return {"type": "memory", "class": kind}
    raise InputError(f"cannot tell how to reopen a {kind} after a crash; pass reopen='module:function' naming a "
                     "function of yours that returns the store", field="reopen")


def _describe_chroma(store: Any) -> dict[str, Any]:
    # langchain-chroma (1.x) offers no public accessor for the chromadb client or collection behind a Chroma store,
    # and a journal must name the server and collection to reopen after a crash; these two private attributes are
    # read here and nowhere else. Users who would rather not rely on them pass reopen='module:function'.
    client = store._client
    collection = store._collection
    settings = client.get_settings()
    spec: dict[str, Any] = {"type": "chroma", "collection": collection.name, "tenant": client.tenant,
                            "database": client.database}
    if "fastapi" in str(settings.chroma_api_impl).lower():
        spec.update(host=settings.chroma_server_host, port=int(settings.chroma_server_http_port),
                    ssl=bool(settings.chroma_server_ssl_enabled))
    elif settings.is_persistent:
        spec.update(path=str(Path(settings.persist_directory).resolve()))
    else:
        return {"type": "memory", "class": "Chroma"}
    return spec


def _describe_pgvector(store: Any) -> dict[str, Any]:
    # langchain-postgres keeps its SQLAlchemy engine in a private attribute; it is read here and nowhere else.
    # The password is left out of the journal: libpq finds it again in PGPASSWORD or ~/.pgpass.
    url = store._engine.url
    return {"type": "pgvector", "connection": url.render_as_string(hide_password=False) if url.password is None
            else url.set(password=None).render_as_string(), "collection": store.collection_name}


def _reopen_pgvector(spec: dict[str, Any], embeddings: Any = None) -> Any:
    from langchain_postgres import PGVector

    try:
        return PGVector(embeddings if embeddings is not None else _no_embeddings(), connection=spec["connection"],
                        collection_name=spec["collection"], create_extension=False)
    except Exception as exc:  # a server that is down: one line, not a traceback
        raise InputError(f"cannot open PGVector collection {spec['collection']!r} "
                         f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]})", field="store") from None


def _no_embeddings() -> Any:
    """Embeddings for a store reopened only to look up, delete and restore ids: any use is an error."""
    from langchain_core.embeddings import Embeddings

    class NoEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise InputError("this store was reopened without embeddings", field="store")

        def embed_query(self, text: str) -> list[float]:
            raise InputError("this store was reopened without embeddings", field="store")

    return NoEmbeddings()


def reopen_store(spec: dict[str, Any], embeddings: Any = None) -> Any:
    """Reopen the store a journal describes (a LangChain vector store), or None for an in-process store.

    ``embeddings`` (LangChain ``Embeddings``) lets the reopened store answer text queries; cleanup needs none.
    """
    kind = spec.get("type")
    if kind == "memory":
        return None
    if kind == "factory":
        module, _, name = spec["factory"].partition(":")
        try:
            return getattr(importlib.import_module(module), name)()
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot import {spec['factory']}: {exc}", field="store.factory") from None
    if kind == "chroma":
        return _reopen_chroma(spec, embeddings)
    if kind == "pgvector":
        return _reopen_pgvector(spec, embeddings)
    raise InputError(f"unknown store type {kind!r}", field="store.type")


def _reopen_chroma(spec: dict[str, Any], embeddings: Any = None) -> Any:
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma

    settings = Settings(anonymized_telemetry=False)
    options = {"tenant": spec.get("tenant", chromadb.DEFAULT_TENANT),
               "database": spec.get("database", chromadb.DEFAULT_DATABASE)}
    try:
        if "host" in spec:
            client = chromadb.HttpClient(host=spec["host"], port=spec["port"], ssl=spec.get("ssl", False),
                                         settings=settings, **options)
        else:
            client = chromadb.PersistentClient(path=spec["path"], settings=settings, **options)
        return Chroma(client=client, collection_name=spec["collection"], embedding_function=embeddings,
                      create_collection_if_not_exists=False)
    except Exception as exc:  # a server that is down, a missing collection: one line, not a traceback
        where = f"{spec['host']}:{spec['port']}" if "host" in spec else spec.get("path")
        raise InputError(f"cannot open Chroma collection {spec['collection']!r} at {where} "
                         f"({type(exc).__name__}: {exc})", field="store") from None


def present_ids(store: Any, ids: list[str]) -> list[str]:
    """Which of ``ids`` the store holds (via ``get_by_ids``, which every store we reopen implements)."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(doc.id for doc in store.get_by_ids(ids[start:start + 500]) if doc.id is not None)
    return [doc_id for doc_id in ids if doc_id in found]


def delete_exactly(store: Any, ids: list[str]) -> None:
    """Delete exactly ``ids`` (never an empty or missing list, which some stores read as 'everything')."""
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        if chunk:
            store.delete(ids=chunk)
    left = present_ids(store, ids)
    if left:
        raise RuntimeError(f"{len(left)} injected passages are still in the store after deletion: {left[:3]}")


@dataclass(frozen=True)
class CleanupReport:
    """What ``cleanup`` did."""

    removed: int
    already_gone: int
    store: str


def cleanup(path: str | Path) -> CleanupReport:
    """Remove from the store every id the journal lists as injected and not removed, then mark them removed."""
    state = read_journal(path)
    where = state.where
    pending = state.pending
    if not pending:
        return CleanupReport(0, 0, where)
    store = reopen_store(state.store)
    if store is None:  # an in-process store: the crash that stopped the attack took the store with it
        present: list[str] = []
    else:
        present = present_ids(store, pending)
        if present:
            delete_exactly(store, present)
    append(path, {"op": "removed", "ids": pending, "by": "cleanup"})
    return CleanupReport(len(present), len(pending) - len(present), where)


def append(path: str | Path, entry: dict[str, Any]) -> None:
    """Append one line to a closed journal, fsynced."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
