"""Quarantine passages from a user's store through the journal, and restore them exactly.

Every record is written to the journal in full (id, document, metadata and, for Chroma, the stored embedding)
and fsynced before the first deletion, so nothing leaves the store that the journal cannot put back: a crash
mid-quarantine leaves a journal that ``ragpoison restore`` undoes or ``ragpoison cleanup`` completes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragpoison.eval.langchain.journal import Journal, append, delete_exactly, present_ids, read_journal, reopen_store
from ragpoison.rag.errors import InputError

CHUNK = 100


def _is_chroma(store: Any) -> bool:
    return type(store).__name__ == "Chroma" and type(store).__module__.startswith("langchain_chroma")


def _is_pgvector(store: Any) -> bool:
    return type(store).__name__ == "PGVector" and type(store).__module__.startswith("langchain_postgres")


def _pgvector_records(store: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    # langchain-postgres returns no stored embeddings through its public API; the rows are read as its own
    # get_by_ids reads them (its session maker and ORM class), with the embedding column added.
    from sqlalchemy import select

    with store._make_sync_session() as session:
        collection = store.get_collection(session)
        rows = session.execute(select(store.EmbeddingStore).where(store.EmbeddingStore.id.in_(ids)).filter(
            store.EmbeddingStore.collection_id == collection.uuid)).scalars().all()
        return {row.id: {"id": row.id, "document": row.document, "metadata": row.cmetadata,
                         "embedding": _floats(row.embedding)} for row in rows}


def _floats(values: Any) -> list[float]:
    # float32 widened to a Python float is exact, and json writes the shortest repr that reads back to it
    return [float(x) for x in values]


def snapshot(store: Any, ids: list[str]) -> list[dict[str, Any]]:
    """The records under ``ids``, in full: Chroma's and PGVector's stored embedding too; else document and metadata."""
    if _is_chroma(store):
        got = store.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        by_id = {doc_id: {"id": doc_id, "document": doc, "metadata": meta, "embedding": _floats(emb)}
                 for doc_id, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"],
                                                   got["embeddings"], strict=True)}
    elif _is_pgvector(store):
        by_id = _pgvector_records(store, ids)
    else:
        by_id = {doc.id: {"id": doc.id, "document": doc.page_content, "metadata": dict(doc.metadata or {})}
                 for doc in store.get_by_ids(ids)}
    missing = [doc_id for doc_id in ids if doc_id not in by_id]
    if missing:
        raise InputError(f"the store holds no passage {missing[0]!r}; nothing was quarantined", field="ids")
    return [by_id[doc_id] for doc_id in ids]


def put_back(store: Any, records: list[dict[str, Any]]) -> None:
    """Add records exactly as they were (Chroma, PGVector: with their stored embeddings; other stores re-embed)."""
    if not records:
        return
    if _is_chroma(store):
        # langchain-chroma adds only texts it embeds itself; the stored embedding goes back through the
        # collection, the one private attribute read here (as in journal._describe_chroma).
        store._collection.add(ids=[r["id"] for r in records], documents=[r["document"] for r in records],
                              metadatas=[r["metadata"] or None for r in records],
                              embeddings=[r["embedding"] for r in records])
        return
    if _is_pgvector(store):
        store.add_embeddings([r["document"] for r in records], [r["embedding"] for r in records],
                             metadatas=[r["metadata"] or {} for r in records], ids=[r["id"] for r in records])
        return
    from langchain_core.documents import Document

    store.add_documents([Document(page_content=r["document"], metadata=r["metadata"] or {}, id=r["id"])
                         for r in records], ids=[r["id"] for r in records])


def quarantine(store: Any, spec: dict[str, Any], ids: list[str], journal: str | Path, *,
               progress: Callable[[int, int], object] | None = None) -> int:
    """Journal the records under ``ids``, then delete them in chunks; ``progress(done, total)`` after each chunk."""
    if spec.get("type") == "memory" or type(store).__name__ in ("FAISS", "InMemoryVectorStore"):
        raise InputError(f"a {type(store).__name__} store lives in this process: a quarantine would not outlive it "
                         "(quarantine needs a store with a server or a database on disk)", field="store")
    records = snapshot(store, ids)
    record = Journal(journal, spec)
    try:
        record.quarantining(records)
        done = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            delete_exactly(store, chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, len(ids))
        record.removed(ids)
    finally:
        record.close()
    return len(ids)


@dataclass(frozen=True)
class RestoreReport:
    """What ``restore`` did."""

    restored: int
    still_there: int
    store: str


def restore(path: str | Path) -> RestoreReport:
    """Put back every record the journal quarantined and has not restored; mark them restored."""
    state = read_journal(path)
    where = state.where
    held = state.held
    if not held:
        return RestoreReport(0, 0, where)
    store = reopen_store(state.store)
    if store is None:
        raise InputError("the journal names an in-process store, which did not outlive its process",
                         path=path, field="store")
    there = set(present_ids(store, held))  # a crash before their deletion left them in place
    put_back(store, [state.quarantined[doc_id] for doc_id in held if doc_id not in there])
    if present_ids(store, held) != held:
        raise RuntimeError(f"{path}: some quarantined passages are still missing after the restore")
    append(path, {"op": "restored", "ids": held})
    return RestoreReport(len(held) - len(there), len(there), where)
