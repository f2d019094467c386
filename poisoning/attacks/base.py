"""The Attack base: craft poisoned passages for a set of target questions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from rag.plugin import Plugin
from rag.types import Corpus, Question, Target


@dataclass(frozen=True)
class AttackContext:
    """What an attacker may see: the questions it targets, their targets and the clean corpus."""

    questions: Mapping[str, Question]
    targets: Mapping[str, Target]
    corpus: Mapping[str, Mapping[str, str]]
    poison_per_target: int
    seed: int


@dataclass
class Poison:
    """An attack's output: new corpus entries (every id is poison) and the question each one targets."""

    passages: Corpus = field(default_factory=dict)
    target_of: dict[str, str] = field(default_factory=dict)

    @property
    def poison_ids(self) -> set[str]:
        """Ids of every poisoned passage."""
        return set(self.passages)

    def for_question(self, qid: str) -> set[str]:
        """Poison ids crafted against one question."""
        return {pid for pid, q in self.target_of.items() if q == qid}


class Attack(Plugin, ABC):
    """Crafts poisoned passages; the same context and seed always give the same passages."""

    @abstractmethod
    def craft(self, context: AttackContext) -> Poison:
        """Return the poisoned passages for every target question in ``context``."""


def poison_id(attack: str, qid: str, index: int) -> str:
    """The id of the ``index``-th poisoned passage an attack writes against ``qid``."""
    return f"poison::{attack}::{qid}::{index}"
