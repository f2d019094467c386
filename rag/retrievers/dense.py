"""Dense retrieval: an embedder plus a vector store, question-only queries as in MIRAGE."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from itertools import islice

import numpy as np
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import RETRIEVERS
from ragpoison.rag.retrievers.base import Retriever, passage_text
from ragpoison.rag.stores.base import VectorStore
from ragpoison.rag.types import Corpus, CorpusView, Queries, Run, Vectors


class DenseParams(Params):
    """Parameters of the dense retriever."""

    batch_size: int = 4096


def corpus_fingerprint(corpus: Mapping[str, Mapping[str, str]]) -> str:
    """sha256 over every id and indexed text, in order: what a persisted index must have been built from."""
    digest = hashlib.sha256()
    for doc_id, passage in corpus.items():
        digest.update(doc_id.encode())
        digest.update(b"\0")
        digest.update(passage_text(passage).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def batches(corpus: Mapping[str, Mapping[str, str]], size: int) -> Iterator[list[tuple[str, Mapping[str, str]]]]:
    """The corpus's (id, passage) pairs in lists of at most ``size``, read lazily."""
    items = iter(corpus.items())
    while batch := list(islice(items, size)):
        yield batch


# Query vectors kept in memory per retriever (a sweep asks the same questions in every poison condition);
# past this many distinct queries the memo starts over, bounding its memory.
MAX_MEMO_QUERIES = 100_000


@RETRIEVERS.register("dense")
class DenseRetriever(Retriever):
    """Embeds queries and passages (one model, or separate query and passage encoders) and searches a store."""

    Params = DenseParams
    params: DenseParams

    def __init__(self, params: DenseParams | None = None, *, embedder: Embedder, store: VectorStore) -> None:
        super().__init__(params)
        self.embedder = embedder
        self.store = store
        self._query_vectors: dict[str, Vectors] = {}

    def index(self, corpus: CorpusView) -> None:
        """Embed (through the cache) and add the clean corpus batch by batch, unless the store already holds it."""
        if self.store.attach(self.embedder.identity, corpus_fingerprint(corpus)):
            return
        for batch in batches(corpus, self.params.batch_size):
            self.store.add([doc_id for doc_id, _ in batch],
                           self.embedder.encode([passage_text(passage) for _, passage in batch]))
        self.store.seal()

    def add(self, passages: Corpus) -> None:
        """Embed only the new passages and add them."""
        if passages:
            ids = list(passages)
            self.store.add(ids, self.embedder.encode([passage_text(passages[i]) for i in ids]))

    def remove(self, doc_ids: list[str]) -> None:
        """Delete overlaid passages through the store."""
        if doc_ids:
            self.store.delete(doc_ids)

    def retrieve(self, queries: Queries, k: int) -> Run:
        """Embed the queries in one batch with the query encoder (each distinct text once) and search."""
        qids = list(queries)
        hits = self.store.search(self._embed_queries([queries[q] for q in qids]), k)
        return {qid: dict(row) for qid, row in zip(qids, hits, strict=True)}

    def _embed_queries(self, texts: list[str]) -> Vectors:
        memo = self._query_vectors
        missing = [text for text in dict.fromkeys(texts) if text not in memo]
        if missing:
            if len(memo) + len(missing) > MAX_MEMO_QUERIES:
                memo.clear()
            memo.update(zip(missing, self.embedder.encode_queries(missing), strict=True))
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([memo[text] for text in texts])
