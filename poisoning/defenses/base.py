"""The Defense base: decide which retrieved candidates may reach the reader."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from rag.plugin import Plugin
from rag.types import Corpus, Question


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its id and retrieval score."""

    doc_id: str
    score: float
    passage: dict[str, str]


class Defense(Plugin, ABC):
    """Filters retrieved candidates; returns one keep/drop verdict per candidate."""

    def fit(self, corpus: Corpus) -> None:  # noqa: B027 - optional hook
        """Calibrate on the clean corpus before filtering; optional."""

    @abstractmethod
    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """True to keep a candidate, False to drop it; same length and order as ``candidates``."""


def apply_chain(chain: list[Defense], question: Question, candidates: list[Candidate]) -> list[Candidate]:
    """Run defenses in order, each seeing only what the previous ones kept."""
    kept = list(candidates)
    for defense in chain:
        verdicts = defense.verdicts(question, kept)
        kept = [c for c, keep in zip(kept, verdicts, strict=True) if keep]
    return kept
