"""Hybrid retrieval: reciprocal rank fusion of several retrievers, as MedRAG's RRF-2 and RRF-4 do."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import RETRIEVERS
from ragpoison.rag.retrievers.base import Retriever
from ragpoison.rag.stores.base import VectorStore
from ragpoison.rag.types import Corpus, CorpusView, Queries, Run


class HybridParams(Params):
    """Parameters of hybrid retrieval.

    Each member retrieves ``max(2k, depth)`` candidates (MedRAG fetches ``max(2k, 100)``); a passage at 0-based
    rank r in a member's list scores 1 / (rrf_k + r + 1), summed over members.
    """

    members: tuple[str, ...] = ("bm25", "dense")
    member_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rrf_k: int = Field(100, ge=0)
    depth: int = Field(100, ge=1)


def reciprocal_rank_fusion(runs: list[Run], k: int, rrf_k: int) -> Run:
    """Fuse runs by RRF; ties break by best rank, then by id, so the fused run is reproducible."""
    fused: Run = {}
    for qid in runs[0]:
        scores: dict[str, float] = {}
        best: dict[str, int] = {}
        for run in runs:
            for rank, doc_id in enumerate(run.get(qid, {})):
                scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (rrf_k + rank + 1)
                best[doc_id] = min(best.get(doc_id, rank), rank)
        order = sorted(scores, key=lambda d: (-scores[d], best[d], d))[:k]
        fused[qid] = {doc_id: scores[doc_id] for doc_id in order}
    return fused


@RETRIEVERS.register("hybrid")
class HybridRetriever(Retriever):
    """Reciprocal rank fusion (k = 100, as MedRAG) of BM25 and dense retrieval, or any registered members."""

    Params = HybridParams
    params: HybridParams

    def __init__(self, params: HybridParams | None = None, *, embedder: Embedder, store: VectorStore) -> None:
        super().__init__(params)
        if not self.params.members:
            raise InputError("needs at least one member", field="retriever.params.members")
        parts: dict[str, Embedder | VectorStore | None] = {"embedder": embedder, "store": store}
        self.members: list[Retriever] = []
        for name in self.params.members:
            cls = RETRIEVERS.get(name, key="retriever.params.members")
            if cls is HybridRetriever:
                raise InputError("a hybrid retriever cannot fuse itself", field="retriever.params.members")
            if "store" in cls.needs and parts.get("store") is None:
                raise InputError("only one member may use the store (it holds one index)",
                                 field="retriever.params.members")
            self.members.append(RETRIEVERS.create(name, self.params.member_params.get(name),
                                                  key=f"retriever.params.member_params.{name}",
                                                  **{part: parts[part] for part in cls.needs}))
            if "store" in cls.needs:
                parts["store"] = None
        unknown = set(self.params.member_params) - set(self.params.members)
        if unknown:
            raise InputError("names no member", field=f"retriever.params.member_params.{sorted(unknown)[0]}")

    def index(self, corpus: CorpusView) -> None:
        """Index the clean corpus in every member."""
        for member in self.members:
            member.index(corpus)

    def add(self, passages: Corpus) -> None:
        """Overlay passages in every member."""
        for member in self.members:
            member.add(passages)

    def remove(self, doc_ids: list[str]) -> None:
        """Remove overlaid passages from every member."""
        for member in self.members:
            member.remove(doc_ids)

    def retrieve(self, queries: Queries, k: int) -> Run:
        """Each member's top ``max(2k, depth)``, fused by reciprocal rank."""
        depth = max(2 * k, self.params.depth)
        return reciprocal_rank_fusion([member.retrieve(queries, depth) for member in self.members], k,
                                      self.params.rrf_k)
