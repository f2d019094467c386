"""On-disk embedding cache keyed by (model identity, text hash)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
from ragpoison.rag.types import Vectors


def text_key(text: str) -> bytes:
    """Stable hash of a text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """A SQLite table of vectors per model; safe to share between runs and configs."""

    def __init__(self, directory: Path, identity: str, dim: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "embeddings.sqlite"
        self.model = hashlib.sha256(identity.encode()).hexdigest()[:32]
        self.dim = dim
        self._conn = sqlite3.connect(self.path, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vec BLOB, "
                           "PRIMARY KEY (model, key))")

    def get_many(self, keys: list[bytes]) -> dict[bytes, Vectors]:
        """Return the cached vectors among ``keys``."""
        found: dict[bytes, Vectors] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})", [self.model, *chunk])
            for key, vec in rows:
                found[key] = np.frombuffer(vec, dtype=np.float32)
        return found

    def put_many(self, keys: list[bytes], vectors: Vectors) -> None:
        """Store vectors; one transaction, so a killed run leaves the cache consistent."""
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, vec) VALUES (?, ?, ?)",
                [(self.model, key, vec.astype(np.float32).tobytes()) for key, vec in zip(keys, vectors, strict=True)])

    def close(self) -> None:
        """Close the database."""
        self._conn.close()
