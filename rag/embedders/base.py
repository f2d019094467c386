"""The Embedder base: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from ragpoison.rag.embedders._numerics import Numerics


class Embedder(Plugin, ABC):
    """Turns texts into unit-length vectors; ``identity`` names the model for caches and manifests."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """A string that changes whenever the model's weights or configuration change."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector dimension."""

    @abstractmethod
    def encode(self, texts: list[str]) -> Vectors:
        """Embed texts as an (n, dim) float32 array of unit vectors."""

    @property
    def source(self) -> str:
        """Where the model's weights were loaded from (a local directory), for manifests; its identity by default."""
        return self.identity

    @property
    def numerics(self) -> Numerics | None:
        """The device and precision the model runs with, where the backend has a choice (for manifests)."""
        return None

    def origin_provenance(self) -> dict[str, str]:
        """Where the weights came from beyond their folder (a hub id and revision), for manifests."""
        return {}

    def remember(self, texts: list[str], vectors: Vectors) -> None:
        """Store vectors computed elsewhere for these passage texts, so ``encode`` returns them without the model."""
        from ragpoison.rag.errors import InputError

        raise InputError(f"embedder {self.name!r} keeps no embedding cache to import vectors into",
                         field="embedder.kind")

    def encode_queries(self, texts: list[str]) -> Vectors:
        """Embed queries; ``encode`` embeds passages. Asymmetric encoders (MedCPT) use a separate query model."""
        return self.encode(texts)
