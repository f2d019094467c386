"""The VectorStore base: add, delete and search unit vectors under string ids."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from ragpoison.rag.plugin import Plugin


class VectorStore(Plugin, ABC):
    """An inner-product vector index keyed by string document ids."""

    @abstractmethod
    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        """Add vectors under new ids; an id already present is an error."""

    @abstractmethod
    def delete(self, ids: list[str]) -> None:
        """Remove the given ids; unknown ids are an error."""

    @abstractmethod
    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Top-k (id, score) per query vector, best first."""

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
