"""The Attack base: craft poisoned passages (new ones, or in-place edits) for a set of target questions."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ragpoison.poisoning._contracts import TextGenerator, VictimEmbedder
from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Corpus, Question, Target


@dataclass(frozen=True)
class DefenseSpec:
    """One defense the attacker faces, as the attacker may know it: its name and its public parameters.

    Kerckhoffs: the defense and its configuration are public; its secrets (signing keys, its seed, the sample
    it calibrated on, the thresholds it fitted) are not, and never appear here.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttackContext:
    """What an attacker may see: the questions it targets, their targets, the clean corpus and its budget.

    The budget is ``poison_per_target`` passages per target question, or, when ``poison_rate`` is set, a
    total of ``poison_rate * len(corpus)`` passages (at least one) spread over the target questions.
    ``embedder`` is the victim's embedder, for attacks that may use it (white-box ones need a
    ``TokenGradientEmbedder``); ``generator`` is the stack's generator, which an attack may use to write
    passages when it writes text (an LLM backend; the CPU default stack's reader does not). ``defenses`` is
    the defense chain the poison will face, in order, with each defense's public parameters: an adaptive
    attack (one with ``aims_at``) is crafted once per chain and may read it; every other attack ignores it.
    """

    questions: Mapping[str, Question]
    targets: Mapping[str, Target]
    corpus: Mapping[str, Mapping[str, str]]
    poison_per_target: int = 5
    seed: int = 0
    poison_rate: float | None = None
    embedder: VictimEmbedder | None = None
    generator: TextGenerator | None = None
    defenses: tuple[DefenseSpec, ...] = ()

    @property
    def budget(self) -> int:
        """Total passages the attack may add or edit."""
        if self.poison_rate is not None:
            return max(1, round(self.poison_rate * len(self.corpus)))
        return self.poison_per_target * len(self.targets)

    def counts(self) -> dict[str, int]:
        """Passages per target question, in sorted question order; the remainder of a rate goes by seed."""
        qids = sorted(self.targets)
        if self.poison_rate is None or not qids:
            return dict.fromkeys(qids, self.poison_per_target)
        base, extra = divmod(self.budget, len(qids))
        lucky = set(random.Random(f"{self.seed}:budget").sample(qids, extra))
        return {qid: base + (qid in lucky) for qid in qids}


@dataclass
class Poison:
    """An attack's output, every id of which is poison.

    ``passages`` are new corpus entries; ``edits`` replace the text or metadata of existing corpus entries in
    place (an insider's edit) for the cell only; ``target_of`` names the question each poisoned id targets
    (untargeted poison names none); ``queries`` replaces a question's text as the user asks it (a trigger
    phrase), for retrieval and reading alike; ``trained_on`` names the questions an attack optimised against
    (its training queries), whose trials are left out of the cell so that it is measured on held-apart ones.
    ``before_ingest`` says the edits were made before the trusted corpus was ingested: the defenses are then
    fitted (a signing defense signs) on the corpus with the edits in it, as a defender would have been.
    """

    passages: Corpus = field(default_factory=dict)
    edits: Corpus = field(default_factory=dict)
    target_of: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    trained_on: set[str] = field(default_factory=set)
    before_ingest: bool = False

    @property
    def poison_ids(self) -> set[str]:
        """Ids of every poisoned passage, added or edited."""
        return set(self.passages) | set(self.edits)

    def for_question(self, qid: str) -> set[str]:
        """Poison ids crafted against one question."""
        return {pid for pid, q in self.target_of.items() if q == qid}


class Attack(Plugin, ABC):
    """Crafts poisoned passages; the same context and seed always give the same passages.

    ``aims_at`` names the defenses an adaptive attack is written against: it reads ``AttackContext.defenses``,
    is crafted once per defense chain, and a sweep runs it through ``none`` and the chains holding one of them.
    """

    aims_at: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def craft(self, context: AttackContext) -> Poison:
        """Return the poisoned passages for every target question in ``context``."""


def poison_id(attack: str, qid: str, index: int) -> str:
    """The id of the ``index``-th poisoned passage an attack writes against ``qid``."""
    return f"poison::{attack}::{qid}::{index}"
