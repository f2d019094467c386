"""What the embedding-based defenses share: the victim's embedder, applied to passages as they are indexed."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
from ragpoison.poisoning._contracts import VictimEmbedder
from ragpoison.poisoning.defenses.base import Candidate, DefenseContext
from ragpoison.rag.retrievers.base import passage_text


class Embedded:
    """Mixin holding the victim's embedder after ``fit``; vectors come through its on-disk cache."""

    name: ClassVar[str]  # the defense's registered name (from Plugin)
    _embedder: VictimEmbedder | None = None

    def bind_embedder(self, context: DefenseContext) -> None:
        """Keep the context's embedder (the one the retriever indexes with)."""
        if context.embedder is None:
            raise RuntimeError(f"defense {self.name!r} needs the victim's embedder in its context")
        self._embedder = context.embedder

    @property
    def embedder(self) -> VictimEmbedder:
        """The bound embedder; fitting first is required."""
        if self._embedder is None:
            raise RuntimeError(f"defense {self.name!r} must be fitted before it filters")
        return self._embedder

    def embed(self, candidates: list[Candidate]) -> npt.NDArray[np.float32]:
        """Unit vectors of the candidates, embedded under the text the retriever indexed them by."""
        return self.embedder.encode([passage_text(c.passage) for c in candidates])
