"""What attacks and defenses may use of the victim's stack: its embedder and its generator, as protocols.

The runner hands plugins the stack's own ``Embedder`` and ``Generator`` (``ragpoison.rag``); these protocols
name the part of them a plugin may touch, so that any object with the right members plugs in and nothing
reaches into an implementation's internals. They are runtime-checkable, so a plugin that needs more than
the victim can give (white-box gradients, free text) says so with an ``isinstance`` check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ragpoison.rag.generators.base import ReaderInput
    from ragpoison.rag.types import Answer
    from sentence_transformers import SentenceTransformer

__all__ = ["TextGenerator", "TokenGradientEmbedder", "VictimEmbedder", "VictimReader"]


@runtime_checkable
class VictimEmbedder(Protocol):
    """The victim's embedder as attacks and defenses see it: texts in, unit float32 vectors out."""

    @property
    def identity(self) -> str:
        """A string naming the model and its configuration (changes when the vectors would)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Embed passages as an (n, dim) array of unit vectors, as the retriever indexes them."""
        ...

    def encode_queries(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Embed queries as the retriever embeds them (a separate model for asymmetric encoders)."""
        ...


@runtime_checkable
class TokenGradientEmbedder(VictimEmbedder, Protocol):
    """A victim embedder whose loaded sentence-transformers model gives token gradients (white-box attacks)."""

    @property
    def model(self) -> SentenceTransformer:
        """The loaded passage model, whose input-embedding gradients HotFlip follows."""
        ...


@runtime_checkable
class TextGenerator(Protocol):
    """The stack's generator as an attack may use it: to write passages, when it writes free text."""

    @property
    def writes_text(self) -> bool:
        """True when ``complete`` can write free text (LLM backends)."""
        ...

    def complete(self, prompts: list[str], *, max_tokens: int = 256, seed: int = 0) -> list[str]:
        """Free-text completions of a batch of prompts, in order."""
        ...


@runtime_checkable
class VictimReader(Protocol):
    """The victim's reader as a defense may use it: answer questions from the passages it is given."""

    def answer(self, batch: list[ReaderInput]) -> list[Answer]:
        """One Answer per input, in order."""
        ...
