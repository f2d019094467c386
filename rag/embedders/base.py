"""The Embedder base: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from ragpoison.rag.plugin import Plugin


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
    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors."""

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embed queries; ``encode`` embeds passages. Asymmetric encoders (MedCPT) use a separate query model."""
        return self.encode(texts)
