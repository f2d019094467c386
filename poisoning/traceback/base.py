"""The Tracer base: rank the passages a wrong answer was read from by their responsibility for it, and flag some.

A tracer is given one case: the question, the wrong answer the system gave (a letter of the question's
options), the passages that reached the reader, best first, and the candidates ranked after them. It returns
one ``Suspect`` per passage, ranked, each flagged or not. It may use the victim's reader (re-reading subsets of
the passages) and embedder, and it may calibrate on clean retrievals; it never sees which passages are poison.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ragpoison.poisoning._contracts import VictimReader
from ragpoison.poisoning.defenses.base import Candidate, DefenseContext
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Answer, Question

TraceContext = DefenseContext
"""What a tracer may calibrate on: the trusted clean corpus, the victim's embedder and reader, the seed."""


@dataclass(frozen=True)
class TraceCase:
    """One wrong answer to trace: the question, the wrong option's letter, the passages the reader read.

    ``reserve`` holds the candidates ranked after the context, best first: what would take a removed passage's
    place if it were gone from the index (the counterfactual a quarantine makes real).
    """

    question: Question
    wrong: str
    passages: tuple[Candidate, ...]
    reserve: tuple[Candidate, ...] = ()

    @property
    def wrong_text(self) -> str:
        """The wrong option's text."""
        return self.question.options[self.wrong]


@dataclass(frozen=True)
class Suspect:
    """A passage's responsibility for the wrong answer: its id, its score (higher is more responsible), a flag."""

    doc_id: str
    score: float
    flagged: bool


class Tracer(Plugin, ABC):
    """Ranks the passages that reached the reader by their responsibility for a wrong answer; flags the culprits."""

    def fit(self, context: TraceContext) -> None:  # noqa: B027 - optional hook
        """Calibrate on the clean corpus before tracing; optional."""

    def calibrate(self, cases: list[TraceCase], reader: VictimReader) -> None:  # noqa: B027 - optional hook
        """Calibrate on clean cases: retrievals from the clean corpus, each with an option it did not answer."""

    @abstractmethod
    def trace(self, case: TraceCase, reader: VictimReader) -> list[Suspect]:
        """One suspect per passage of ``case``, most responsible first."""


def read(reader: VictimReader, question: Question, passages: list[Candidate] | tuple[Candidate, ...]) -> Answer:
    """The reader's answer to ``question`` from ``passages`` (in their order)."""
    return reader.answer([ReaderInput(question, tuple(c.passage for c in passages))])[0]


def margin(answer: Answer, wrong: str) -> float:
    """How far the answer leans to ``wrong``: its score over the best other option's, in the reader's units.

    A reader that gives no per-option scores leans +1 when it chose ``wrong`` and -1 otherwise.
    """
    scores = answer.scores
    if not scores or wrong not in scores:
        return 1.0 if answer.letter == wrong else -1.0
    others = [s for letter, s in scores.items() if letter != wrong]
    return float(scores[wrong] - max(others, default=0.0))

