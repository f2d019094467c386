"""PoisonedRAG (Zou et al., 2024): black-box and white-box knowledge-corruption attacks.

Each poisoned passage is P = S + I. I (the generation condition) is attacker text asserting the target
answer, from a passage writer. S (the retrieval condition) is the question itself in the black-box attack;
the white-box attack starts from the question and optimises S with HotFlip against the victim embedder.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field
from ragpoison.poisoning.attacks._hotflip import FlipProblem, HotFlip, gradient_embedder
from ragpoison.poisoning.attacks._slots import Slot, plan_slots, web_metadata
from ragpoison.poisoning.attacks._writers import make_writer
from ragpoison.poisoning.attacks.base import Attack, AttackContext, Poison
from ragpoison.rag.paraphrase import paraphrase
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import ATTACKS

Writer = Literal["auto", "template", "register", "llm"]


class BlackBoxParams(Params):
    """Parameters of the PoisonedRAG black-box attack."""

    writer: Writer = "auto"


def write_texts(attack: str, writer: Writer, context: AttackContext, slots: list[Slot]) -> list[str]:
    """The generation condition I of every slot, written in one batch."""
    return make_writer(writer, context, attack).write_many([(s.question, s.answer, s.rng) for s in slots])


@ATTACKS.register("poisonedrag-blackbox")
class PoisonedRAGBlackBox(Attack):
    """PoisonedRAG black-box: N passages per target, each the question text followed by text asserting the target."""

    Params = BlackBoxParams
    params: BlackBoxParams

    def craft(self, context: AttackContext) -> Poison:
        """S = the question (retrieval condition), I = writer text (generation condition)."""
        poison = Poison()
        slots = plan_slots(self.name, context)
        for slot, text in zip(slots, write_texts(self.name, self.params.writer, context, slots), strict=True):
            poison.passages[slot.pid] = {"title": "", "text": f"{slot.question.question} {text}",
                                         **web_metadata(slot.rng, slot.slug)}
            poison.target_of[slot.pid] = slot.qid
        return poison


class WhiteBoxParams(Params):
    """Parameters of the PoisonedRAG white-box attack (defaults: the paper's 30 iterations, 100 candidates)."""

    writer: Writer = "auto"
    iterations: int = Field(30, ge=0)
    candidates: int = Field(100, ge=1)
    # Optimise S once per target question (on its first passage) and reuse it for the other N - 1: N times
    # cheaper, for CPU runs; the paper optimises every passage.
    share_prefix: bool = False
    # Optimise towards the question and this many paraphrases of it, which the attacker writes with its own
    # seeds (an extension for wording the attacker cannot see; the paper optimises for the question alone).
    paraphrases: int = Field(0, ge=0)
    batch: int = Field(64, ge=1, description="passages optimised together")


@ATTACKS.register("poisonedrag-whitebox")
class PoisonedRAGWhiteBox(Attack):
    """PoisonedRAG white-box: S starts as the question and is HotFlip-optimised on the victim embedder's gradients."""

    Params = WhiteBoxParams
    params: WhiteBoxParams

    def craft(self, context: AttackContext) -> Poison:
        """Maximise sim(f(Q), f(S + I)) over the tokens of S, then decode S and prepend it to I."""
        embedder = gradient_embedder(context.embedder, self.name)
        # The same I (and metadata) as the black-box attack's, as in the paper: the two differ only in S.
        slots = plan_slots(self.name, context, seeded_as="poisonedrag-blackbox")
        texts = write_texts(self.name, self.params.writer, context, slots)
        flip = HotFlip(embedder.model, candidates=self.params.candidates, seed=f"{context.seed}:{self.name}")
        qids = sorted({s.qid for s in slots})
        query_vectors = {qid: embedder.encode(self._wordings(context, qid)) for qid in qids}
        optimised = [(slot, text) for slot, text in zip(slots, texts, strict=True)
                     if not self.params.share_prefix or slot.index == 0]
        problems = [FlipProblem(flip.tokens(slot.question.question), flip.tokens(text), query_vectors[slot.qid])
                    for slot, text in optimised]
        for start in range(0, len(problems), self.params.batch):
            flip.optimise(problems[start:start + self.params.batch], self.params.iterations)
        prefixes = {slot.pid if not self.params.share_prefix else slot.qid: flip.decode(problem.prefix)
                    for (slot, _), problem in zip(optimised, problems, strict=True)}
        poison = Poison()
        for slot, text in zip(slots, texts, strict=True):
            prefix = prefixes[slot.pid if not self.params.share_prefix else slot.qid]
            poison.passages[slot.pid] = {"title": "", "text": f"{prefix} {text}", **web_metadata(slot.rng, slot.slug)}
            poison.target_of[slot.pid] = slot.qid
        return poison

    def _wordings(self, context: AttackContext, qid: str) -> list[str]:
        """The question, and the attacker's own paraphrases of it (seeded apart from the retrieval mode's)."""
        question = context.questions[qid].question
        return [question] + [paraphrase(question, random.Random(f"{context.seed}:{self.name}:{qid}:{j}"))
                             for j in range(self.params.paraphrases)]
