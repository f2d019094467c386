"""FAISS inner-product store (flat, HNSW or IVF-PQ) with exact add/delete so poison can be overlaid and removed."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import STORES
from ragpoison.rag.stores._faiss_folder import FaissFolder
from ragpoison.rag.stores.base import Hits, VectorStore
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    import faiss

# A search's (scores, numbers) arrays, one row per query; a number of -1 marks an empty slot.
SearchResult = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


class FaissParams(Params):
    """Parameters of the FAISS store.

    ``index``: ``flat`` (exact), ``hnsw`` (graph; MedRAG's large-corpus option) or ``ivfpq`` (inverted lists of
    product-quantised codes, for corpora of millions). ``path`` persists the base index in FAISS's own format
    plus JSON (never a pickle) and reopens it when the embedding model and corpus match.
    """

    index: Literal["flat", "hnsw", "ivfpq"] = "flat"
    path: str | None = None
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int | None = None
    pq_m: int | None = None
    pq_bits: int = 8
    nprobe: int = 16


def default_pq_m(dim: int) -> int:
    """Sub-quantisers for PQ: the largest divisor of ``dim`` giving at least 8 dimensions each."""
    return max(m for m in range(1, max(1, dim // 8) + 1) if dim % m == 0)


@STORES.register("faiss")
class FaissStore(VectorStore):
    """FAISS inner-product index: exact flat by default, or HNSW / IVF-PQ for large corpora.

    HNSW graphs cannot remove vectors, so once sealed an HNSW store keeps later additions in an exact flat
    overlay and masks deleted base vectors; re-adding a masked vector unmasks it, so injecting then removing
    poison leaves search results exactly as they were. Flat and IVF-PQ remove natively.
    """

    Params = FaissParams
    params: FaissParams

    def __init__(self, params: FaissParams | None = None, *, dim: int) -> None:
        super().__init__(params)
        self.dim = dim
        self._base: faiss.Index | None = None if self.params.index == "ivfpq" else self._new_base()
        self._overlay: faiss.IndexIDMap2 | None = None
        self._sealed = False
        self._int_of: dict[str, int] = {}
        self._str_of: dict[int, str] = {}
        # A deleted id keeps its number: adding it back restores the index exactly (order included).
        self._retired: dict[str, int] = {}
        self._graph_num: dict[str, int] = {}  # HNSW: id -> its number in the graph
        self._masked: set[int] = set()
        self._next = 0
        self._names = np.empty(0, dtype=object)  # string id by number
        self._row_numbers: npt.NDArray[np.int64] | None = None  # number by row of a flat base, rebuilt after changes
        self._folder = FaissFolder(self.params.path, self.describe_index()) if self.params.path else None

    def describe_index(self) -> dict[str, Any]:
        """The index settings a persisted index must share with this store to be reopened."""
        keys = {"flat": (), "hnsw": ("hnsw_m", "ef_construction"), "ivfpq": ("nlist", "pq_m", "pq_bits")}
        return {"index": self.params.index, "dim": self.dim,
                **{key: getattr(self.params, key) for key in keys[self.params.index]}}

    def _new_base(self) -> faiss.IndexIDMap2:
        import faiss

        if self.params.index == "hnsw":
            graph = faiss.IndexHNSWFlat(self.dim, self.params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = self.params.ef_construction
            return faiss.IndexIDMap2(graph)
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _new_ivfpq(self, train: Vectors) -> faiss.IndexIVFPQ:
        import faiss

        n = len(train)
        if n < 2:
            raise ValueError("an IVF-PQ index needs at least 2 vectors in its first batch to train on")
        nlist = self.params.nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        bits = max(1, min(self.params.pq_bits, int(math.log2(n))))
        m = self.params.pq_m or default_pq_m(self.dim)
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(self.dim), self.dim, nlist, m, bits, faiss.METRIC_INNER_PRODUCT)
        # Small corpora train on fewer points than FAISS's rule of thumb; that is a choice, not an error.
        index.cp.min_points_per_centroid = 1
        index.pq.cp.min_points_per_centroid = 1
        index.train(train)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # missing from faiss's stub
        return index

    def _add_to(self, index: faiss.Index, vectors: Vectors, numbers: list[int]) -> None:
        import faiss

        ints = np.array(numbers, dtype=np.int64)
        if self.params.index == "hnsw" and index is self._base:
            # Multi-threaded HNSW insertion builds a different graph each run; one thread keeps it reproducible.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                index.add_with_ids(vectors, ints)
            finally:
                faiss.omp_set_num_threads(threads)
        else:
            index.add_with_ids(vectors, ints)

    def add(self, ids: list[str], vectors: Vectors) -> None:
        """Add vectors under new string ids."""
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        clash = [i for i in ids if i in self._int_of]
        if clash or len(set(ids)) != len(ids):
            raise ValueError(f"ids already in store: {clash[:3] or 'repeated in batch'}")
        if not ids:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._base is None:
            self._base = self._new_ivfpq(vectors)
        to_base: list[int] = []
        to_overlay: list[int] = []
        numbers: list[int] = []
        for row, doc_id in enumerate(ids):
            number = self._place(doc_id, vectors[row], to_base if self._grows_base() else to_overlay, row)
            numbers.append(number)
        if to_base:
            self._add_to(self._base, vectors[to_base], [numbers[r] for r in to_base])
        if to_overlay:
            self._add_to(self._overlay_index(), vectors[to_overlay], [numbers[r] for r in to_overlay])
        for doc_id, number in zip(ids, numbers, strict=True):
            self._int_of[doc_id] = number
            self._str_of[number] = doc_id
            if self.params.index == "hnsw" and not self._sealed:
                self._graph_num[doc_id] = number
        self._name_numbers(ids, numbers)

    def _name_numbers(self, ids: list[str], numbers: list[int]) -> None:
        """Record the string id of each number, so search names whole result arrays at once."""
        ints = np.array(numbers, dtype=np.int64)
        if len(ints) and ints.max() >= len(self._names):
            grown = np.empty(max(2 * len(self._names), int(ints.max()) + 1), dtype=object)
            grown[: len(self._names)] = self._names
            self._names = grown
        if len(ints):
            self._names[ints] = np.array(ids, dtype=object)
        self._row_numbers = None

    def _grows_base(self) -> bool:
        return not (self.params.index == "hnsw" and self._sealed)

    def _place(self, doc_id: str, vector: Vectors, rows: list[int], row: int) -> int:
        """The number an added id gets; queues its row for insertion unless a masked graph vector is reused."""
        graph = self._graph_num.get(doc_id)
        if (graph is not None and graph in self._masked and self._base is not None
                and np.array_equal(self._base.reconstruct(graph), vector)):
            self._masked.discard(graph)
            self._retired.pop(doc_id, None)
            return graph
        number = self._retired.pop(doc_id, None)
        if number is None:
            number, self._next = self._next, self._next + 1
        rows.append(row)
        return number

    def _overlay_index(self) -> faiss.IndexIDMap2:
        if self._overlay is None:
            import faiss

            self._overlay = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        return self._overlay

    def delete(self, ids: list[str]) -> None:
        """Remove ids from the index (HNSW graph vectors are masked instead)."""
        missing = [i for i in ids if i not in self._int_of]
        if missing:
            raise KeyError(f"ids not in store: {missing[:3]}")
        removed: list[int] = []
        for doc_id in ids:
            number = self._int_of.pop(doc_id)
            del self._str_of[number]
            if self._graph_num.get(doc_id) == number:
                self._masked.add(number)
            else:
                self._retired[doc_id] = number
                removed.append(number)
        if removed:
            # Outside the HNSW graph, a vector lives in the base index (flat, IVF-PQ) or the overlay (HNSW).
            index = self._overlay if self.params.index == "hnsw" else self._base
            if index is not None:  # always set: a removed number was added to it
                # faiss's wrapper turns an id array into the selector the index needs (IVF-PQ's hashtable
                # direct map takes only IDSelectorArray); its stub declares the IDSelector form alone.
                index.remove_ids(np.array(removed, dtype=np.int64))  # type: ignore[arg-type]  # see above
            self._row_numbers = None

    def search(self, vectors: Vectors, k: int) -> list[Hits]:
        """Top-k by inner product (exact for flat and the overlay); ties broken by insertion order."""
        k = min(k, len(self._int_of))
        if k == 0:
            return [[] for _ in range(len(vectors))]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        parts = [self._search_base(vectors, k)]
        if self._overlay is not None and self._overlay.ntotal:
            parts.append(self._overlay.search(vectors, min(k, self._overlay.ntotal)))
        elif parts[0][1].shape[1] == k and not (parts[0][1] < 0).any():
            return self._named(*parts[0])
        results: list[Hits] = []
        for row in range(len(vectors)):
            hits = [(float(s), int(n)) for scores, ints in parts for s, n in zip(scores[row], ints[row], strict=True)
                    if n >= 0 and n in self._str_of]
            hits.sort(key=lambda hit: (-hit[0], hit[1]))
            results.append([(self._str_of[n], s) for s, n in hits[:k]])
        return results

    def _named(self, scores: npt.NDArray[np.float32], numbers: npt.NDArray[np.int64]) -> list[Hits]:
        """Name full result rows at once, ties broken by insertion order as in the merging path.

        Conversion happens in C (fancy indexing, ``tolist``): a Python loop over numpy scalars costs more
        than a flat search of a few thousand passages.
        """
        if scores.shape[1] > 1 and (scores[:, 1:] == scores[:, :-1]).any():
            order = np.lexsort((numbers, -scores), axis=1)
            scores, numbers = np.take_along_axis(scores, order, 1), np.take_along_axis(numbers, order, 1)
        return [list(zip(row_n, row_s, strict=True))
                for row_n, row_s in zip(self._names[numbers].tolist(), scores.tolist(), strict=True)]

    def _search_base(self, vectors: Vectors, k: int) -> SearchResult:
        import faiss

        base = self._base
        if base is None or base.ntotal == 0:
            return np.zeros((len(vectors), 0), np.float32), np.zeros((len(vectors), 0), np.int64)
        if self.params.index == "flat" and isinstance(base, faiss.IndexIDMap):
            # The flat index is searched directly and its rows numbered here: the id map's own translation is
            # an extra OpenMP region, which costs more than the search on a busy machine.
            if self._row_numbers is None:
                self._row_numbers = faiss.vector_to_array(base.id_map).astype(np.int64, copy=False)
            scores, rows = base.index.search(vectors, min(k, base.ntotal))
            return scores, np.where(rows >= 0, self._row_numbers[rows], -1)
        params: faiss.SearchParameters | None = None
        if self.params.index == "hnsw":
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.array(sorted(self._masked), dtype=np.int64))) \
                if self._masked else None
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]  # missing from faiss's stub
                sel=selector, efSearch=max(self.params.ef_search, k))
        elif self.params.index == "ivfpq":
            params = faiss.SearchParametersIVF(nprobe=self.params.nprobe)  # type: ignore[call-arg]  # stub: no kwargs
        return base.search(vectors, min(k, base.ntotal), params=params)

    def ids(self) -> list[str]:
        """Ids in insertion order."""
        return [self._str_of[n] for n in sorted(self._str_of)]

    def vector(self, doc_id: str) -> Vectors:
        """The stored vector of one id (a PQ index returns its quantised reconstruction)."""
        number = self._int_of[doc_id]
        in_overlay = self.params.index == "hnsw" and self._graph_num.get(doc_id) != number
        index = self._overlay if in_overlay else self._base
        if index is None:  # an id is stored, so the index that holds it exists
            raise KeyError(doc_id)
        return index.reconstruct(number, np.empty(self.dim, dtype=np.float32))

    def attach(self, model: str, corpus: str) -> bool:
        """Reopen a persisted index built here with the same model, dimension, settings and corpus."""
        if self._folder is None:
            return False
        state = self._folder.open(model, corpus)
        if state is None:
            return False
        self._base, numbers, self._masked = state["index"], state["numbers"], set(state["masked"])
        self._int_of = dict(numbers)
        self._str_of = {n: i for i, n in numbers}
        self._next = state["next"]
        self._name_numbers([i for i, _ in numbers], [n for _, n in numbers])
        if self.params.index == "hnsw":
            self._graph_num = dict(numbers)
            self._sealed = True
        return True

    def seal(self) -> None:
        """Freeze the HNSW graph (later adds go to the exact overlay) and persist the base index if asked."""
        self._sealed = True
        if self._folder is not None and self._base is not None:
            self._folder.save(self._base, sorted(self._int_of.items(), key=lambda item: item[1]),
                              sorted(self._masked), self._next)
