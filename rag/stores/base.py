"""The VectorStore base: add, delete and search unit vectors under string ids."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Vectors

# One query's search result: (doc_id, inner-product score) pairs, best first.
Hits = list[tuple[str, float]]


class VectorStore(Plugin, ABC):
    """An inner-product vector index keyed by string document ids."""

    @abstractmethod
    def add(self, ids: list[str], vectors: Vectors) -> None:
        """Add vectors under new ids; an id already present is an error."""

    @abstractmethod
    def delete(self, ids: list[str]) -> None:
        """Remove the given ids; unknown ids are an error."""

    @abstractmethod
    def search(self, vectors: Vectors, k: int) -> list[Hits]:
        """Top-k (id, score) per query vector, best first."""

    @abstractmethod
    def vector(self, doc_id: str) -> Vectors:
        """The vector stored under one id, as a 1-d float32 array; an unknown id is a ``KeyError``.

        Lets a caller check that injecting then removing poison left every clean vector as it was. A store that
        compresses vectors (IVF-PQ) returns its reconstruction.
        """

    def attach(self, model: str, corpus: str) -> bool:
        """Bind the store to the embedding model and corpus fingerprint it will hold.

        Returns True when a stored index already holds exactly that corpus (so indexing can be skipped);
        raises ``InputError`` when a stored index was built with another model or dimension.
        """
        return False

    def seal(self) -> None:  # noqa: B027 - optional hook
        """Mark what is stored as the base index: persist it where the store persists; later adds overlay it."""

    @abstractmethod
    def ids(self) -> list[str]:
        """Ids currently stored, in insertion order."""

    def __len__(self) -> int:
        return len(self.ids())
