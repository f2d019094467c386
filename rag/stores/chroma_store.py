"""Chroma store: an embedded persistent database, or a Chroma server (``chroma run``) over HTTP."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
import weakref
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from ragpoison.rag.cache import default_cache_dir
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import STORES
from ragpoison.rag.stores.base import Hits, VectorStore
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import GetResult, Include
    from chromadb.config import Settings

SEQ = "ragpoison_seq"


class ChromaParams(Params):
    """Parameters of the Chroma store.

    With ``host`` set, the store talks to a Chroma server; otherwise it is an embedded persistent database at
    ``path`` (default ``$RAGPOISON_CACHE/chroma``). ``collection`` defaults to a name derived from the
    embedding model and the corpus, so a rerun on the same corpus reuses what was indexed.
    """

    path: str | None = None
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    collection: str | None = None


def _settings() -> Settings:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _seq(metadata: Mapping[str, object] | None) -> int:
    """A record's sequence number (its place in insertion order) from its metadata; -1 when it has none."""
    value = (metadata or {}).get(SEQ, -1)
    return int(value) if isinstance(value, int | float | str) else -1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def _drop_collection(client: ClientAPI, name: str) -> None:
    try:
        client.delete_collection(name)
    except Exception:  # noqa: BLE001 - best effort at exit: the server may already be gone
        pass


@STORES.register("chroma")
class ChromaStore(VectorStore):
    """Chroma collection with inner-product space; poison goes in and out through Chroma's own add and delete."""

    Params = ChromaParams
    params: ChromaParams

    def __init__(self, params: ChromaParams | None = None, *, dim: int) -> None:
        super().__init__(params)
        self.dim = dim
        self._collection: Collection | None = None
        self._metadata: dict[str, Any] = {}
        # A deleted id keeps its sequence number: adding it back restores its place in the insertion order.
        self._retired: dict[str, int] = {}
        self._next = 0
        self._lock: IO[str] | None = None

    @property
    def where(self) -> str:
        """Where the collection lives, for messages."""
        if self.params.host:
            return f"chroma server {self.params.host}:{self.params.port}"
        return f"chroma database {self._path}"

    @cached_property
    def _path(self) -> Path:
        return Path(self.params.path) if self.params.path else default_cache_dir() / "chroma"

    @cached_property
    def client(self) -> ClientAPI:
        """The chromadb client (HTTP when ``host`` is set, else embedded persistent)."""
        import chromadb

        if self.params.host:
            try:
                return chromadb.HttpClient(host=self.params.host, port=self.params.port, ssl=self.params.ssl,
                                           settings=_settings())
            except Exception as exc:  # chromadb raises ValueError or httpx errors when the server is down
                raise InputError(f"cannot reach the Chroma server at {self.params.host}:{self.params.port} "
                                 f"({type(exc).__name__}: {exc})", field="store.params.host") from None
        return chromadb.PersistentClient(path=str(self._path), settings=_settings())

    def _create(self, name: str, metadata: dict[str, Any]) -> Collection:
        self._collection = self.client.create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "ip"}}, metadata=metadata)
        self._metadata = dict(metadata)
        return self._collection

    @property
    def collection(self) -> Collection:
        """The Chroma collection (a private one, dropped with the store, when ``attach`` was never called)."""
        if self._collection is None:
            if self.params.collection:
                return self._create(self.params.collection, {"ragpoison_dim": self.dim})
            return self._create_private("ragpoison", {"ragpoison_dim": self.dim})
        return self._collection

    def _create_private(self, prefix: str, metadata: dict[str, Any]) -> Collection:
        """A collection of this store's own, deleted when the store is collected or the process exits."""
        name = f"{prefix[:60]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        collection = self._create(name, {**metadata, "ragpoison_private": True, "ragpoison_pid": os.getpid(),
                                         "ragpoison_host": socket.gethostname()})
        weakref.finalize(self, _drop_collection, self.client, name)
        return collection

    def _claim(self, name: str) -> bool:
        """Lock a shared collection for this store's life (one run's poison must not meet another's)."""
        import fcntl

        if self.params.host:
            folder = default_cache_dir() / "chroma-locks"
            key = f"{self.params.host}:{self.params.port}/{name}"
        else:
            folder, key = self._path / "ragpoison-locks", name
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle  # released when the store is collected or the process exits
        return True

    def _drop_stale(self, prefix: str) -> None:
        """Delete private collections that processes on this host left behind when they were killed."""
        for collection in self.client.list_collections():
            metadata = collection.metadata or {}
            if (collection.name.startswith(f"{prefix[:60]}-") and metadata.get("ragpoison_private")
                    and metadata.get("ragpoison_host") == socket.gethostname()
                    and not _alive(int(metadata.get("ragpoison_pid", 0)))):
                _drop_collection(self.client, collection.name)

    def attach(self, model: str, corpus: str) -> bool:
        """Reuse a complete collection built here for this model and corpus; refuse one built otherwise.

        The shared collection is locked for this store's life; a concurrent run (a Ray worker, a second sweep)
        builds a private copy instead, dropped when it ends, so one run's poison never meets another's.
        """
        name = self.params.collection or "ragpoison-" + hashlib.sha256(f"{model}\n{corpus}".encode()).hexdigest()[:24]
        from chromadb.errors import NotFoundError

        wanted = {"ragpoison_model": model, "ragpoison_dim": self.dim, "ragpoison_corpus": corpus}
        try:
            existing = self.client.get_collection(name, embedding_function=None)
        except NotFoundError:
            existing = None
        if existing is not None:
            built = existing.metadata or {}
            field = "store.params.collection"
            if "ragpoison_model" not in built:
                raise InputError(f"collection {name!r} in the {self.where} was not built by ragpoison; name another "
                                 "one (attack a collection of your own through ragpoison.eval.langchain)", field=field)
            if built["ragpoison_model"] != model or built.get("ragpoison_dim") != self.dim:
                raise InputError(f"collection {name!r} was built with embedding model {built['ragpoison_model']} "
                                 f"(dimension {built.get('ragpoison_dim')}); this run embeds with {model} "
                                 f"(dimension {self.dim})", field=field)
            if built.get("ragpoison_corpus") != corpus:
                raise InputError(f"collection {name!r} holds another corpus than this run's", field=field)
        if not self._claim(name):
            self._drop_stale(name)
            self._create_private(name, wanted)
            return False
        if existing is not None:
            built = existing.metadata or {}
            count = existing.count()
            if built.get("ragpoison_sealed") and count == built.get("ragpoison_count"):
                self._collection, self._metadata = existing, dict(built)
                next_seq = built.get("ragpoison_next")
                self._next = count if next_seq is None else int(next_seq)
                return True
            # An interrupted build or an interrupted run's poison: the collection holds only what ragpoison derived
            # from the corpus, so it is rebuilt rather than trusted.
            self.client.delete_collection(name)
        self._create(name, wanted)
        return False

    def seal(self) -> None:
        """Record in the collection's metadata that it holds the complete corpus."""
        metadata = {**self._metadata, "ragpoison_sealed": True, "ragpoison_count": len(self),
                    "ragpoison_next": self._next}
        self.collection.modify(metadata=metadata)
        self._metadata = metadata

    def _present(self, ids: list[str], include: Include | None = None) -> GetResult:
        return self.collection.get(ids=ids, include=include or [])

    def add(self, ids: list[str], vectors: Vectors) -> None:
        """Add vectors under new ids (Chroma itself would silently keep the old record; here it is an error)."""
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(set(ids)) != len(ids):
            raise ValueError("ids repeated in batch")
        if not ids:
            return
        step = self.client.get_max_batch_size()
        clash = [i for start in range(0, len(ids), step) for i in self._present(ids[start:start + step])["ids"]]
        if clash:
            raise ValueError(f"ids already in store: {clash[:3]}")
        seqs = []
        for doc_id in ids:
            seq = self._retired.pop(doc_id, None)
            if seq is None:
                seq, self._next = self._next, self._next + 1
            seqs.append(seq)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        for start in range(0, len(ids), step):
            end = start + step
            self.collection.add(ids=ids[start:end], embeddings=vectors[start:end],
                                metadatas=[{SEQ: seq} for seq in seqs[start:end]])

    def delete(self, ids: list[str]) -> None:
        """Remove ids; unknown ids are an error (Chroma itself ignores them)."""
        if not ids:
            return
        step = self.client.get_max_batch_size()
        for start in range(0, len(ids), step):
            chunk = ids[start:start + step]
            found = self._present(chunk, ["metadatas"])
            missing = sorted(set(chunk) - set(found["ids"]))
            if missing:
                raise KeyError(f"ids not in store: {missing[:3]}")
            for doc_id, metadata in zip(found["ids"], found["metadatas"] or [], strict=True):
                self._retired[doc_id] = _seq(metadata)
            self.collection.delete(ids=chunk)

    def search(self, vectors: Vectors, k: int) -> list[Hits]:
        """Top-k by inner product (score = 1 - Chroma's ip distance); ties broken by insertion order."""
        k = min(k, len(self))
        if k == 0:
            return [[] for _ in range(len(vectors))]
        found = self.collection.query(query_embeddings=np.ascontiguousarray(vectors, dtype=np.float32),
                                      n_results=k, include=["distances", "metadatas"])
        results: list[Hits] = []
        for ids, distances, metadatas in zip(found["ids"], found["distances"] or [], found["metadatas"] or [],
                                             strict=True):
            hits = [(1.0 - float(d), _seq(m), i)
                    for i, d, m in zip(ids, distances, metadatas, strict=True)]
            hits.sort(key=lambda hit: (-hit[0], hit[1]))
            results.append([(doc_id, score) for score, _, doc_id in hits])
        return results

    def ids(self) -> list[str]:
        """Ids in insertion order."""
        seq_of: dict[str, int] = {}
        step = self.client.get_max_batch_size()
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=step, offset=offset)
            if not page["ids"]:
                break
            seq_of.update((i, _seq(m)) for i, m in zip(page["ids"], page["metadatas"] or [], strict=True))
            offset += len(page["ids"])
        return sorted(seq_of, key=seq_of.__getitem__)

    def __len__(self) -> int:
        return self.collection.count()

    def vector(self, doc_id: str) -> Vectors:
        """The stored vector of one id."""
        found = self._present([doc_id], ["embeddings"])
        embeddings = found["embeddings"]
        if not found["ids"] or embeddings is None:
            raise KeyError(doc_id)
        return np.asarray(embeddings[0], dtype=np.float32)
