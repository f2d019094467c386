"""The PerplexityScorer base: how surprising a text is to a language model."""

from __future__ import annotations

from abc import ABC, abstractmethod


class PerplexityScorer(ABC):
    """Scores texts by perplexity under a language model (lower is more fluent / more familiar)."""

    def fit(self, texts: list[str]) -> None:  # noqa: B027 - optional hook
        """Train on trusted text; models that come pre-trained ignore it."""

    @abstractmethod
    def perplexity(self, texts: list[str]) -> list[float]:
        """Perplexity of each text, in order (inf for a text the model cannot score)."""
