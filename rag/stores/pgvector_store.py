"""PostgreSQL + pgvector store: the user's server (``dsn``), or a private throwaway server started on demand.

Without ``dsn`` the store starts its own PostgreSQL with pgvector (the ``pgserver`` package bundles both) in a
temporary folder, reachable only through a Unix socket, and deletes it when the process ends. With ``dsn`` it
creates a table of its own on the user's server (``table``, default a fresh ``ragpoison_<random>`` dropped when
the store is closed) and never touches any other table.

Search is exact (a sequential scan ordered by pgvector's inner-product operator, ties by insertion order), so
injecting then removing poison leaves every search result exactly as it was.
"""

from __future__ import annotations

import atexit
import re
import secrets
import shutil
import tempfile
import threading
import warnings
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import STORES
from ragpoison.rag.stores.base import Hits, VectorStore
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    import psycopg

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PRIVATE: dict[str, Any] = {}
_LOCK = threading.Lock()


class PgvectorParams(Params):
    """Parameters of the pgvector store.

    ``dsn``: a libpq connection string or URI of your PostgreSQL server (the ``vector`` extension must be
    installed there; the store runs ``CREATE EXTENSION IF NOT EXISTS vector``). Without it, a private server
    is started in a temporary folder and removed at exit. ``table``: the table to create (it must not exist);
    default a random ``ragpoison_...`` name, dropped when the store closes.
    """

    dsn: str | None = None
    table: str | None = None


def _private_server() -> str:
    """The URI of this process's private PostgreSQL (started once, deleted at exit)."""
    with _LOCK:
        if "uri" not in _PRIVATE:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                import pgserver

            folder = tempfile.mkdtemp(prefix="ragpoison-pg-")
            try:
                server = pgserver.get_server(folder, cleanup_mode="delete")
            except Exception as exc:  # an initdb or start failure: one line, not a traceback
                shutil.rmtree(folder, ignore_errors=True)
                raise InputError(f"could not start the private PostgreSQL server ({type(exc).__name__}: {exc})",
                                 field="store.kind") from None
            _PRIVATE.update(server=server, uri=server.get_uri(), folder=folder)
            atexit.register(_stop_private)
        return str(_PRIVATE["uri"])


def _stop_private() -> None:
    server = _PRIVATE.pop("server", None)
    if server is not None:
        server.cleanup()
    shutil.rmtree(_PRIVATE.pop("folder", ""), ignore_errors=True)
    _PRIVATE.clear()


def _literal(vector: np.ndarray) -> str:
    # float32 widened to float64 prints exactly; pgvector reads it back to the same float32
    return "[" + ",".join(repr(x) for x in vector.astype(np.float64).tolist()) + "]"


def _parse(text: str) -> np.ndarray:
    return np.array([float(x) for x in text.strip("[]").split(",")], dtype=np.float32)


@STORES.register("pgvector")
class PgvectorStore(VectorStore):
    """PostgreSQL with pgvector: exact inner-product search; your server, or a private one started on demand."""

    Params = PgvectorParams
    params: PgvectorParams

    def __init__(self, params: PgvectorParams | None = None, *, dim: int) -> None:
        super().__init__(params)
        self.dim = dim
        table = self.params.table or f"ragpoison_{secrets.token_hex(6)}"
        if not _NAME.match(table):
            raise InputError(f"{table!r} is not a plain lower-case table name", field="store.params.table")
        self.table = table
        self._conn: psycopg.Connection[Any] | None = None
        self._finalizer: weakref.finalize | None = None
        self._next = 0
        self._retired: dict[str, int] = {}

    @property
    def conn(self) -> psycopg.Connection[Any]:
        """The connection, opened (and the table created) on first use."""
        if self._conn is None:
            import psycopg

            dsn = self.params.dsn or _private_server()
            try:
                conn = psycopg.connect(dsn, autocommit=True)
            except psycopg.Error as exc:
                raise InputError(f"cannot connect to PostgreSQL ({type(exc).__name__}: {str(exc).strip()})",
                                 field="store.params.dsn") from None
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute(f"CREATE TABLE {self.table} (id text PRIMARY KEY, seq bigint NOT NULL, "
                             f"embedding vector({self.dim}) NOT NULL)")
            except psycopg.Error as exc:
                conn.close()
                raise InputError(f"cannot create table {self.table!r} ({type(exc).__name__}: "
                                 f"{str(exc).strip().splitlines()[0]})", field="store.params.table") from None
            self._conn = conn
            self._finalizer = weakref.finalize(self, _drop, conn, self.table)
        return self._conn

    def add(self, ids: list[str], vectors: Vectors) -> None:
        """Add vectors under new ids; an id already present is an error."""
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(set(ids)) != len(ids):
            raise ValueError("ids repeated in batch")
        if not ids:
            return
        clash = self._present(ids)
        if clash:
            raise ValueError(f"ids already in store: {sorted(clash)[:3]}")
        rows = []
        for doc_id, vector in zip(ids, np.asarray(vectors, dtype=np.float32), strict=True):
            seq = self._retired.pop(doc_id, None)
            if seq is None:
                seq, self._next = self._next, self._next + 1
            rows.append((doc_id, seq, _literal(vector)))
        with self.conn.cursor() as cur, cur.copy(f"COPY {self.table} (id, seq, embedding) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _present(self, ids: list[str]) -> dict[str, int]:
        rows = self.conn.execute(f"SELECT id, seq FROM {self.table} WHERE id = ANY(%s)", (ids,)).fetchall()
        return {str(doc_id): int(seq) for doc_id, seq in rows}

    def delete(self, ids: list[str]) -> None:
        """Remove ids; unknown ids are an error."""
        if not ids:
            return
        found = self._present(ids)
        missing = sorted(set(ids) - set(found))
        if missing:
            raise KeyError(f"ids not in store: {missing[:3]}")
        self._retired.update(found)
        self.conn.execute(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (ids,))

    def search(self, vectors: Vectors, k: int) -> list[Hits]:
        """Top-k by inner product, exact; ties broken by insertion order."""
        query = (f"SELECT id, -(embedding <#> %s::vector) FROM {self.table} "
                 f"ORDER BY embedding <#> %s::vector, seq LIMIT %s")
        results: list[Hits] = []
        with self.conn.cursor() as cur:
            for vector in np.asarray(vectors, dtype=np.float32):
                text = _literal(vector)
                cur.execute(query, (text, text, k))
                results.append([(str(doc_id), float(score)) for doc_id, score in cur.fetchall()])
        return results

    def vector(self, doc_id: str) -> Vectors:
        """The stored vector of one id."""
        row = self.conn.execute(f"SELECT embedding::text FROM {self.table} WHERE id = %s", (doc_id,)).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return _parse(row[0])

    def ids(self) -> list[str]:
        """Ids in insertion order."""
        return [str(r[0]) for r in self.conn.execute(f"SELECT id FROM {self.table} ORDER BY seq").fetchall()]

    def __len__(self) -> int:
        row = self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Drop the table and close the connection."""
        if self._finalizer is not None:
            self._finalizer()  # drops the table once; the finalizer then never runs again
        self._conn = None


def _drop(conn: Any, table: str) -> None:
    try:
        if not conn.closed:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.close()
    except Exception:  # noqa: BLE001 - the server may already be gone at exit
        pass
