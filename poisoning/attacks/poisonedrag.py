"""PoisonedRAG (Zou et al., 2024) black-box attack."""

from __future__ import annotations

import random
from datetime import date, timedelta

from poisoning.attacks.base import Attack, AttackContext, Poison, poison_id
from poisoning.attacks.writers import TemplateWriter
from rag.plugin import Params
from rag.registry import ATTACKS

_WEB_HOSTS = ("health-answers.example", "medfacts-daily.example", "clinic-notes.example",
              "wellness-forum.example")


class BlackBoxParams(Params):
    """Parameters of the PoisonedRAG black-box attack."""

    writer: str = "template"


def web_metadata(rng: random.Random, slug: str) -> dict[str, str]:
    """Attacker-chosen metadata of an untrusted web page."""
    published = date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))
    return {"source": "web", "published": published.isoformat(),
            "reference": f"https://{rng.choice(_WEB_HOSTS)}/{slug}"}


@ATTACKS.register("poisonedrag-blackbox")
class PoisonedRAGBlackBox(Attack):
    """PoisonedRAG black-box: N passages per target, each the question text followed by text asserting the target."""

    Params = BlackBoxParams

    def __init__(self, params: BlackBoxParams | None = None) -> None:
        super().__init__(params)
        self.writer = TemplateWriter()

    def craft(self, context: AttackContext) -> Poison:
        """S = the question (retrieval condition), I = writer text (generation condition)."""
        poison = Poison()
        for qid, count in context.counts().items():
            question = context.questions[qid]
            answer = question.options[context.targets[qid].option]
            for index in range(count):
                rng = random.Random(f"{context.seed}:{self.name}:{qid}:{index}")
                pid = poison_id(self.name, qid, index)
                text = f"{question.question} {self.writer.write(question, answer, rng)}"
                poison.passages[pid] = {"title": "", "text": text,
                                        **web_metadata(rng, f"{qid.replace('/', '-')}-{index}")}
                poison.target_of[pid] = qid
        return poison
