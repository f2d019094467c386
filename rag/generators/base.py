"""The Generator base: a question plus its context passages in, an option letter out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Answer, CorpusView, Question


@dataclass(frozen=True)
class ReaderInput:
    """One question with the passages the reader may use, best first."""

    question: Question
    passages: tuple[dict[str, str], ...]


class Generator(Plugin, ABC):
    """Answers multiple-choice questions from retrieved passages."""

    def fit(self, corpus: CorpusView) -> None:  # noqa: B027 - optional hook
        """Learn corpus statistics (e.g. term weights) before answering; optional."""

    def use_embedder(self, embedder: Embedder) -> None:  # noqa: B027 - optional hook
        """Receive the stack's embedder, for readers that weigh semantic similarity; optional."""

    @abstractmethod
    def answer(self, batch: list[ReaderInput]) -> list[Answer]:
        """Answer a batch of questions; one Answer per input, in order."""

    @property
    def writes_text(self) -> bool:
        """True when ``complete`` can write free text (LLM backends); the extractive reader cannot."""
        return type(self).complete is not Generator.complete

    def provenance(self) -> dict[str, Any]:
        """What manifest.json records about this generator; LLM backends add versions, model hash, hardware."""
        return {"kind": self.name, "params": self.params.model_dump(mode="json")}

    def complete(self, prompts: list[str], *, max_tokens: int = 256, seed: int = 0) -> list[str]:
        """Free-text completions of a batch of prompts, in order (LLM backends only)."""
        raise NotImplementedError(f"generator {self.name!r} cannot write free text")
