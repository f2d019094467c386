"""FAISS inner-product store with exact add/delete so poison can be overlaid and removed."""

from __future__ import annotations

import numpy as np

from rag.plugin import Params
from rag.registry import STORES
from rag.stores.base import VectorStore


class FaissParams(Params):
    """Parameters of the FAISS store."""

    index: str = "flat"


@STORES.register("faiss")
class FaissStore(VectorStore):
    """Exact FAISS inner-product index (IndexIDMap2 over IndexFlatIP)."""

    Params = FaissParams

    def __init__(self, params: FaissParams | None = None, *, dim: int) -> None:
        super().__init__(params)
        import faiss

        self.dim = dim
        self._flat = faiss.IndexFlatIP(dim)
        self._index = faiss.IndexIDMap2(self._flat)
        self._int_of: dict[str, int] = {}
        self._str_of: dict[int, str] = {}
        # A deleted id keeps its number: adding it back restores the index exactly (order included).
        self._retired: dict[str, int] = {}
        self._next = 0
        self._names = np.empty(0, dtype=object)  # string id by number
        self._row_names: np.ndarray | None = None  # string id by row of the flat index, rebuilt after changes

    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        """Add vectors under new string ids."""
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        clash = [i for i in ids if i in self._int_of]
        if clash or len(set(ids)) != len(ids):
            raise ValueError(f"ids already in store: {clash[:3] or 'repeated in batch'}")
        numbers = []
        for doc_id in ids:
            number = self._retired.pop(doc_id, None)
            if number is None:
                number, self._next = self._next, self._next + 1
            numbers.append(number)
        ints = np.array(numbers, dtype=np.int64)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ints)
        if len(ints) and ints.max() >= len(self._names):
            grown = np.empty(max(2 * len(self._names), int(ints.max()) + 1), dtype=object)
            grown[: len(self._names)] = self._names
            self._names = grown
        self._names[ints] = np.array(ids, dtype=object)
        self._row_names = None
        for doc_id, num in zip(ids, ints.tolist(), strict=True):
            self._int_of[doc_id] = num
            self._str_of[num] = doc_id

    def delete(self, ids: list[str]) -> None:
        """Remove ids from the index."""
        missing = [i for i in ids if i not in self._int_of]
        if missing:
            raise KeyError(f"ids not in store: {missing[:3]}")
        ints = np.array([self._int_of.pop(i) for i in ids], dtype=np.int64)
        for doc_id, num in zip(ids, ints.tolist(), strict=True):
            del self._str_of[num]
            self._retired[doc_id] = num
        self._index.remove_ids(ints)
        self._row_names = None

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Exact top-k by inner product."""
        k = min(k, self._index.ntotal)
        if k == 0:
            return [[] for _ in range(len(vectors))]
        import faiss

        if self._row_names is None:
            self._row_names = self._names[faiss.vector_to_array(self._index.id_map)]
        # The flat index is searched directly and its rows named here: the id map's own translation is an
        # extra OpenMP region, which costs more than the search on a busy machine. Conversion happens in C
        # (fancy indexing, tolist); a Python loop over numpy scalars costs more than the search itself.
        scores, rows = self._flat.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        if (rows < 0).any():  # fewer than k results for some query (FAISS pads with -1)
            names = self._row_names
            return [[(names[r], s) for s, r in zip(row_s, row_r, strict=True) if r >= 0]
                    for row_s, row_r in zip(scores.tolist(), rows.tolist(), strict=True)]
        return [list(zip(row_n, row_s, strict=True))
                for row_n, row_s in zip(self._row_names[rows].tolist(), scores.tolist(), strict=True)]

    def ids(self) -> list[str]:
        """Ids in insertion order."""
        return [self._str_of[n] for n in sorted(self._str_of)]

    def vector(self, doc_id: str) -> np.ndarray:
        """The stored vector of one id."""
        return self._index.reconstruct(self._int_of[doc_id])
