"""The Retriever base: index a corpus, overlay and remove passages, retrieve a run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Corpus, CorpusView, Queries, Run


def passage_text(passage: Mapping[str, str]) -> str:
    """The text a passage is indexed under: MedRAG's ``contents`` (title + '. ' + content)."""
    title = passage.get("title", "")
    return f"{title}. {passage['text']}" if title else passage["text"]


class Retriever(Plugin, ABC):
    """Finds the passages most relevant to each query among the indexed ones."""

    # The stack parts passed to the constructor as keyword arguments ("embedder", "store").
    needs: ClassVar[frozenset[str]] = frozenset({"embedder", "store"})

    @abstractmethod
    def index(self, corpus: CorpusView) -> None:
        """Index the clean corpus once."""

    @abstractmethod
    def add(self, passages: Corpus) -> None:
        """Overlay extra passages (poison) without touching what is indexed."""

    @abstractmethod
    def remove(self, doc_ids: list[str]) -> None:
        """Remove overlaid passages, leaving the index as it was before ``add``."""

    def update(self, passages: Corpus) -> None:
        """Replace indexed passages in place under their ids (an in-place edit, or undoing one)."""
        self.remove(list(passages))
        self.add(passages)

    @abstractmethod
    def retrieve(self, queries: Queries, k: int) -> Run:
        """Top-k documents per query as a BEIR run {qid: {doc_id: score}}, best first."""
