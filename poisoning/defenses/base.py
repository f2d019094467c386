"""The Defense base: decide which retrieved candidates may reach the reader, and optionally how it reads them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from ragpoison.poisoning._contracts import VictimEmbedder, VictimReader
from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Answer, Question


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its id and retrieval score."""

    doc_id: str
    score: float
    passage: dict[str, str]


@dataclass(frozen=True)
class DefenseContext:
    """What a defender may use to calibrate: the trusted clean corpus, the victim's embedder and reader.

    ``embedder`` and ``generator`` are the stack's own, of which a defense may use what ``VictimEmbedder`` and
    ``VictimReader`` state (None where a caller has none to give).
    """

    corpus: Mapping[str, Mapping[str, str]]
    embedder: VictimEmbedder | None = None
    generator: VictimReader | None = None
    seed: int = 0


class Defense(Plugin, ABC):
    """Filters retrieved candidates; returns one keep/drop verdict per candidate."""

    def fit(self, context: DefenseContext) -> None:  # noqa: B027 - optional hook
        """Calibrate on the clean corpus before filtering; optional."""

    @abstractmethod
    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """True to keep a candidate, False to drop it; same length and order as ``candidates``."""

    def context_size(self, k: int) -> int:
        """How many passages that pass reach the reader (knowledge expansion widens it); default k."""
        return k

    def read(self, question: Question, passages: list[dict[str, str]], generator: VictimReader) -> Answer | None:
        """Answer in place of the plain reader (isolate-then-aggregate defenses); None to leave it be."""
        return None


def apply_chain(chain: list[Defense], question: Question, candidates: list[Candidate]) -> list[Candidate]:
    """Run defenses in order, each seeing only what the previous ones kept."""
    kept = list(candidates)
    for defense in chain:
        verdicts = defense.verdicts(question, kept)
        kept = [c for c, keep in zip(kept, verdicts, strict=True) if keep]
    return kept


def chain_context_size(chain: list[Defense], k: int) -> int:
    """Passages the chain lets the reader see: the widest any of its defenses asks for."""
    return max((defense.context_size(k) for defense in chain), default=k)


def chain_reader(chain: list[Defense]) -> Defense | None:
    """The last defense in the chain that reads for itself, if any."""
    readers = [d for d in chain if type(d).read is not Defense.read]
    return readers[-1] if readers else None
