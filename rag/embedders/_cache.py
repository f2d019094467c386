"""On-disk embedding cache keyed by (model identity, text hash): sharded, memory-mapped float32 arrays.

Each model has its own folder under ``DIR/embeddings/``; every ``put_many`` writes one shard, a pair of NumPy
files: ``NAME.vec.npy`` (the vectors, rows in key order) and ``NAME.keys.npy`` (the sorted 32-byte text
hashes). The vectors are written first and the keys last, each to a temporary name and renamed into place,
so a shard exists only once both files are whole: a process killed mid-write leaves at most a stray
temporary file, never a half shard. Reads memory-map the vectors and look keys up by binary search. Many
small shards (queries, poison) are merged into one when they pile up, keeping lookups to a few searches.
Concurrent runs may share the folder: shard names are unique, and a shard merged away while another
process reads is found again in the merged file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from collections.abc import Callable

KEY_BYTES = 32
MAX_SHARDS = 16  # merge the smallest shards when there are more than this
KEYS_SUFFIX, VECTORS_SUFFIX = ".keys.npy", ".vec.npy"


def text_key(text: str) -> bytes:
    """Stable hash of a text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def cached_encode(cache: EmbeddingCache | None, texts: list[str], encode: Callable[[list[str]], Vectors],
                  dim: int) -> Vectors:
    """Vectors of ``texts``: cached ones read back, the rest encoded (each distinct text once, in key order), stored."""
    if cache is None or not texts:
        return encode(texts) if texts else np.zeros((0, dim), dtype=np.float32)
    keys = [text_key(t) for t in texts]
    found, vectors = cache.lookup(keys)
    if not found.all():
        missing = sorted({keys[i]: texts[i] for i in np.flatnonzero(~found)}.items())
        fresh = encode([t for _, t in missing])
        cache.put_many([k for k, _ in missing], fresh)
        row = {k: i for i, (k, _) in enumerate(missing)}
        for i in np.flatnonzero(~found):
            vectors[i] = fresh[row[keys[i]]]
    return vectors


def _write_atomic(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with temporary.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _prefix(keys: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each S32 key as a big-endian integer: sorted like the keys, and fast to search."""
    return np.ascontiguousarray(keys).view(">u8").reshape(len(keys), KEY_BYTES // 8)[:, 0].astype(np.uint64)


@dataclass
class _Shard:
    keys: np.ndarray  # sorted S32
    vectors: np.ndarray  # memory-mapped (n, dim) float32, row i belongs to keys[i]

    def __post_init__(self) -> None:
        self.prefix = _prefix(self.keys)


class EmbeddingCache:
    """Sharded vectors per model; safe to share between runs and configs (see the module docstring)."""

    def __init__(self, directory: Path, identity: str, dim: int) -> None:
        self.model = hashlib.sha256(identity.encode()).hexdigest()[:32]
        self.path = directory / "embeddings" / self.model
        self.path.mkdir(parents=True, exist_ok=True)
        label = self.path / "model.txt"
        if not label.exists():  # for people looking in the folder; never read back
            label.write_text(identity + "\n")
        self.dim = dim
        self._shards: dict[str, _Shard] = {}

    def _names(self) -> list[str]:
        return sorted(p.name[: -len(KEYS_SUFFIX)] for p in self.path.glob(f"*{KEYS_SUFFIX}"))

    def _refresh(self) -> None:
        names = self._names()
        for gone in set(self._shards) - set(names):
            del self._shards[gone]
        for name in names:
            if name in self._shards:
                continue
            try:
                keys = np.load(self.path / f"{name}{KEYS_SUFFIX}")
                vectors = np.load(self.path / f"{name}{VECTORS_SUFFIX}", mmap_mode="r")
            except FileNotFoundError:  # merged away by another process since the listing: its rows are elsewhere
                continue
            if vectors.shape != (len(keys), self.dim):
                raise ValueError(f"{self.path / name}: cached vectors of shape {vectors.shape}, expected "
                                 f"({len(keys)}, {self.dim})")
            self._shards[name] = _Shard(keys, vectors)

    def lookup(self, keys: list[bytes]) -> tuple[np.ndarray, Vectors]:
        """Which ``keys`` are cached (a boolean mask) and their vectors as one array (zero rows where missing)."""
        self._refresh()
        found = np.zeros(len(keys), dtype=bool)
        vectors = np.zeros((len(keys), self.dim), dtype=np.float32)
        if not keys or not self._shards:
            return found, vectors
        query = np.array(keys, dtype=f"S{KEY_BYTES}")
        prefix = _prefix(query)
        for shard in sorted(self._shards.values(), key=lambda s: -len(s.keys)):
            # Two keys sharing an 8-byte prefix (about 1 in 1e13 for a million) could hide one: it is then
            # embedded again, never mixed up, because the whole key is compared.
            positions = np.searchsorted(shard.prefix, prefix)
            inside = positions < len(shard.keys)
            hit = ~found & inside
            hit[inside] &= shard.keys[positions[inside]] == query[inside]
            rows = np.flatnonzero(hit)
            if rows.size:
                order = rows[np.argsort(positions[rows], kind="stable")]  # read the memory map front to back
                vectors[order] = shard.vectors[positions[order]]
                found[rows] = True
            if found.all():
                break
        return found, vectors

    def get_many(self, keys: list[bytes]) -> dict[bytes, Vectors]:
        """Return the cached vectors among ``keys``."""
        found, vectors = self.lookup(keys)
        return {keys[i]: vectors[i] for i in np.flatnonzero(found)}

    def put_many(self, keys: list[bytes], vectors: Vectors) -> None:
        """Store vectors as one new shard, written atomically (vectors first, keys last)."""
        if not keys:
            return
        array = np.asarray(keys, dtype=f"S{KEY_BYTES}")
        unique, first = np.unique(array, return_index=True)
        self._write_shard(unique, np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[first]))
        if len(self._names()) > MAX_SHARDS:
            self._merge_small()

    def _write_shard(self, keys: np.ndarray, vectors: np.ndarray) -> str:
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        _write_atomic(self.path / f"{name}{VECTORS_SUFFIX}", vectors)
        _write_atomic(self.path / f"{name}{KEYS_SUFFIX}", keys)  # the keys file is the commit
        return name

    def _merge_small(self) -> None:
        """Merge all but the largest shards into one (the large ones stay, so merging stays cheap)."""
        self._refresh()
        by_size = sorted(self._shards, key=lambda name: len(self._shards[name].keys))
        small = by_size[: len(by_size) - MAX_SHARDS // 2 + 1]
        if len(small) < 2:
            return
        keys = np.concatenate([self._shards[n].keys for n in small])
        vectors = np.concatenate([np.asarray(self._shards[n].vectors) for n in small])
        unique, first = np.unique(keys, return_index=True)
        self._write_shard(unique, np.ascontiguousarray(vectors[first]))
        for name in small:  # keys first: a shard without its keys file is not a shard
            for suffix in (KEYS_SUFFIX, VECTORS_SUFFIX):
                (self.path / f"{name}{suffix}").unlink(missing_ok=True)
            self._shards.pop(name, None)

    def size(self) -> int:
        """Number of cached vectors (a key held by two shards counts twice)."""
        self._refresh()
        return sum(len(s.keys) for s in self._shards.values())

    def close(self) -> None:
        """Drop the memory maps."""
        self._shards.clear()
