"""Lexical BM25 retrieval with bm25s, Lucene scoring and Pyserini's defaults as MedRAG's BM25 uses."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import RETRIEVERS
from ragpoison.rag.retrievers.base import Retriever, passage_text
from ragpoison.rag.types import Corpus, CorpusView, Queries, Run

if TYPE_CHECKING:
    import bm25s

WORD = re.compile(r"\w+")


class BM25Params(Params):
    """Parameters of BM25: Pyserini's defaults (k1 = 0.9, b = 0.4, Lucene scoring) and an English stemmer."""

    k1: float = 0.9
    b: float = 0.4
    method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = "lucene"
    stemmer: str | None = "english"
    stopwords: bool = True


@RETRIEVERS.register("bm25")
class BM25Retriever(Retriever):
    """BM25 over the passages' title and text (bm25s); overlaid passages take part in the term statistics."""

    Params = BM25Params
    params: BM25Params
    needs = frozenset()

    def __init__(self, params: BM25Params | None = None) -> None:
        super().__init__(params)
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._model: bm25s.BM25 | None = None
        self._model_ids: tuple[str, ...] = ()
        # The clean index, kept so that removing the overlay restores it exactly without re-indexing.
        self._clean: tuple[tuple[str, ...], bm25s.BM25] | None = None

    @cached_property
    def _stopwords(self) -> frozenset[str]:
        if not self.params.stopwords:
            return frozenset()
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)

    @cached_property
    def _stem(self) -> Callable[[list[str]], list[str]]:
        if self.params.stemmer is None:
            return lambda words: words
        import Stemmer

        stem_words: Callable[[list[str]], list[str]] = Stemmer.Stemmer(self.params.stemmer).stemWords
        return stem_words

    def tokenize(self, text: str) -> tuple[str, ...]:
        """Lower-cased word tokens without stopwords, stemmed."""
        words = [w for w in WORD.findall(text.lower()) if w not in self._stopwords]
        return tuple(sys.intern(w) for w in self._stem(words))

    def _put(self, passages: Mapping[str, Mapping[str, str]]) -> None:
        clash = [i for i in passages if i in self._tokens]
        if clash:
            raise ValueError(f"ids already indexed: {clash[:3]}")
        for doc_id, passage in passages.items():
            self._tokens[doc_id] = self.tokenize(passage_text(passage))
        self._model = None

    def index(self, corpus: CorpusView) -> None:
        """Tokenize and index the clean corpus."""
        self._put(corpus)
        model = self._ensure_model()
        self._clean = (self._model_ids, model)

    def add(self, passages: Corpus) -> None:
        """Tokenize the new passages; the index is rebuilt over clean + overlay before the next search."""
        if passages:
            self._put(passages)

    def remove(self, doc_ids: list[str]) -> None:
        """Drop overlaid passages; when only the clean corpus remains, its index is restored as it was."""
        missing = [i for i in doc_ids if i not in self._tokens]
        if missing:
            raise KeyError(f"ids not indexed: {missing[:3]}")
        for doc_id in doc_ids:
            del self._tokens[doc_id]
        if doc_ids:
            self._model = None

    def _ensure_model(self) -> bm25s.BM25:
        if self._model is None:
            ids = tuple(self._tokens)
            if self._clean is not None and self._clean[0] == ids:
                self._model_ids, self._model = self._clean
            else:
                import bm25s

                model = bm25s.BM25(k1=self.params.k1, b=self.params.b, method=self.params.method)
                model.index([list(self._tokens[i]) for i in ids], show_progress=False)
                self._model_ids, self._model = ids, model
        return self._model

    def retrieve(self, queries: Queries, k: int) -> Run:
        """Top-k passages per query by BM25; passages sharing no term with the query are not returned."""
        model = self._ensure_model()
        run: Run = {}
        for qid, text in queries.items():
            tokens = [t for t in self.tokenize(text) if t in model.vocab_dict]
            if not tokens or not self._model_ids:
                run[qid] = {}
                continue
            scores = np.asarray(model.get_scores(tokens), dtype=np.float64)
            top = top_k(scores, k)
            run[qid] = {self._model_ids[i]: float(scores[i]) for i in top if scores[i] > 0}
        return run


def top_k(scores: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
    """Indices of the k highest scores, best first, ties broken by position (so results are reproducible)."""
    k = min(k, len(scores))
    if k < len(scores):
        threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= threshold)
    else:
        candidates = np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k]
