"""The embedding cache at scale: write time, read time and size of N vectors, the sharded store against SQLite.

The SQLite table is the cache ragpoison used before the sharded store (one row per vector), kept here as the
baseline. Each store receives the corpus as a run gives it, one ``put_many`` of all N vectors, then one read
of all N keys into one array (a warm run reading the clean corpus back, as the embedder reads it), then a
small write and read (a cell's poison and questions). Vectors are random unit rows of MiniLM's width (384):
the cache never looks inside them.

Usage: python benchmarks/embedding_cache.py [--passages N ...] [--kinds sqlite sharded] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class SQLiteCache:
    """The former cache: a SQLite table of (model, key, vector blob) rows, WAL journal, one transaction a put."""

    def __init__(self, directory: Path, identity: str, dim: int) -> None:
        self.path = directory / "embeddings.sqlite"
        self.model, self.dim = identity, dim
        self._conn = sqlite3.connect(self.path, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vec BLOB, "
                           "PRIMARY KEY (model, key))")

    def get_many(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among keys, 500 keys a query."""
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self._conn.execute(f"SELECT key, vec FROM vectors WHERE model = ? AND key IN "
                                      f"({','.join('?' * len(chunk))})", [self.model, *chunk])
            found.update((key, np.frombuffer(vec, dtype=np.float32)) for key, vec in rows)
        return found

    def put_many(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Insert or replace rows, one transaction."""
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO vectors (model, key, vec) VALUES (?, ?, ?)",
                                   [(self.model, k, v.tobytes()) for k, v in zip(keys, vectors, strict=True)])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under a folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(kind: str, n: int, dim: int = 384) -> dict[str, float]:
    """Seconds to write and read back n vectors, and the bytes on disk, for one store."""
    from ragpoison.rag.embedders._cache import EmbeddingCache, text_key

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keys = [text_key(f"passage {i}") for i in range(n)]
    extra = [text_key(f"poison {i}") for i in range(200)]
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        store_class = SQLiteCache if kind == "sqlite" else EmbeddingCache
        store = store_class(Path(tmp), "model@fingerprint|float32@cpu", dim)
        started = time.perf_counter()
        store.put_many(keys, vectors)
        write = time.perf_counter() - started
        store.close()
        reopened = store_class(Path(tmp), "model@fingerprint|float32@cpu", dim)
        started = time.perf_counter()
        if kind == "sqlite":
            found = reopened.get_many(keys)
            back = np.stack([found[k] for k in keys]) if len(found) == n else None
        else:  # what the embedder reads through: one mask and one array
            hit, back = reopened.lookup(keys)
            back = back if hit.all() else None
        read = time.perf_counter() - started
        if back is None or not np.array_equal(back, vectors):
            raise AssertionError(f"{kind}: the cache did not give back what was put")
        started = time.perf_counter()
        reopened.put_many(extra, vectors[:200])
        reopened.get_many(extra + keys[:50])
        small = time.perf_counter() - started
        size = folder_bytes(Path(tmp))
        reopened.close()
    return {"write_s": round(write, 2), "read_s": round(read, 2), "small_put_and_get_s": round(small, 3),
            "mb_on_disk": round(size / 1e6, 1), "raw_vector_mb": round(n * dim * 4 / 1e6, 1)}


def main() -> int:
    """Measure both stores at each size; print and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=["sqlite", "sharded"], choices=("sqlite", "sharded"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {f"{kind}_{n}": measure(kind, n) for n in args.passages for kind in args.kinds}
    text = json.dumps(report, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
