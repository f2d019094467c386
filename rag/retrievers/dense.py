"""Dense retrieval: an embedder plus a vector store, question-only queries as in MIRAGE."""

from __future__ import annotations

from rag.embedders.base import Embedder
from rag.plugin import Params
from rag.registry import RETRIEVERS
from rag.retrievers.base import Retriever, passage_text
from rag.stores.base import VectorStore
from rag.types import Corpus, Queries, Run


class DenseParams(Params):
    """Parameters of the dense retriever."""


@RETRIEVERS.register("dense")
class DenseRetriever(Retriever):
    """Embeds queries and passages with one embedder and searches a vector store by inner product."""

    Params = DenseParams

    def __init__(self, params: DenseParams | None = None, *, embedder: Embedder, store: VectorStore) -> None:
        super().__init__(params)
        self.embedder = embedder
        self.store = store

    def index(self, corpus: Corpus) -> None:
        """Embed (through the cache) and add the clean corpus."""
        ids = list(corpus)
        self.store.add(ids, self.embedder.encode([passage_text(corpus[i]) for i in ids]))

    def add(self, passages: Corpus) -> None:
        """Embed only the new passages and add them."""
        if passages:
            self.index(passages)

    def remove(self, doc_ids: list[str]) -> None:
        """Delete overlaid passages through the store."""
        if doc_ids:
            self.store.delete(doc_ids)

    def retrieve(self, queries: Queries, k: int) -> Run:
        """Embed the queries in one batch and search."""
        qids = list(queries)
        hits = self.store.search(self.embedder.encode([queries[q] for q in qids]), k)
        return {qid: dict(row) for qid, row in zip(qids, hits, strict=True)}
