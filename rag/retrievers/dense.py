"""Dense retrieval: an embedder plus a vector store, question-only queries as in MIRAGE."""

from __future__ import annotations

import numpy as np

from rag.embedders.base import Embedder
from rag.plugin import Params
from rag.registry import RETRIEVERS
from rag.retrievers.base import Retriever, passage_text
from rag.stores.base import VectorStore
from rag.types import Corpus, Queries, Run


class DenseParams(Params):
    """Parameters of the dense retriever."""


# Query vectors kept in memory per retriever (a sweep asks the same questions in every poison condition);
# past this many distinct queries the memo starts over, bounding its memory.
MAX_MEMO_QUERIES = 100_000


@RETRIEVERS.register("dense")
class DenseRetriever(Retriever):
    """Embeds queries and passages with one embedder and searches a vector store by inner product."""

    Params = DenseParams

    def __init__(self, params: DenseParams | None = None, *, embedder: Embedder, store: VectorStore) -> None:
        super().__init__(params)
        self.embedder = embedder
        self.store = store
        self._query_vectors: dict[str, np.ndarray] = {}

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
        """Embed the queries in one batch (each distinct text once per retriever) and search."""
        qids = list(queries)
        hits = self.store.search(self._embed_queries([queries[q] for q in qids]), k)
        return {qid: dict(row) for qid, row in zip(qids, hits, strict=True)}

    def _embed_queries(self, texts: list[str]) -> np.ndarray:
        memo = self._query_vectors
        missing = [text for text in dict.fromkeys(texts) if text not in memo]
        if missing:
            if len(memo) + len(missing) > MAX_MEMO_QUERIES:
                memo.clear()
            memo.update(zip(missing, self.embedder.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([memo[text] for text in texts])
