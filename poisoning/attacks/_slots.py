"""Shared by the targeted attacks: one slot per poisoned passage to write, and attacker-chosen metadata."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from ragpoison.poisoning.attacks.base import AttackContext, poison_id
from ragpoison.rag.types import Question

_WEB_HOSTS = ("health-answers.example", "medfacts-daily.example", "clinic-notes.example",
              "wellness-forum.example")


@dataclass(frozen=True)
class Slot:
    """One poisoned passage to write: its id, the question it targets, the target's text and its own rng."""

    pid: str
    qid: str
    index: int
    question: Question
    answer: str
    rng: random.Random

    @property
    def slug(self) -> str:
        """A URL-safe name for the passage."""
        return f"{self.qid.replace('/', '-')}-{self.index}"


def plan_slots(attack: str, context: AttackContext, seeded_as: str | None = None) -> list[Slot]:
    """Every passage the budget allows, per target question in sorted order; each slot seeded on its own.

    ``seeded_as`` seeds the slots as another attack's, so that two attacks write the same texts where only
    part of the passage should differ between them.
    """
    slots = []
    for qid, count in context.counts().items():
        question = context.questions[qid]
        answer = question.options[context.targets[qid].option]
        for index in range(count):
            rng = random.Random(f"{context.seed}:{seeded_as or attack}:{qid}:{index}")
            slots.append(Slot(poison_id(attack, qid, index), qid, index, question, answer, rng))
    return slots


def web_metadata(rng: random.Random, slug: str) -> dict[str, str]:
    """Attacker-chosen metadata of an untrusted web page."""
    published = date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))
    return {"source": "web", "published": published.isoformat(),
            "reference": f"https://{rng.choice(_WEB_HOSTS)}/{slug}"}
