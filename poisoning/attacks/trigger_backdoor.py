"""Trigger backdoor (BadRAG, Xue et al. 2024; TrojanRAG, Cheng et al. 2024): poison that a trigger phrase unlocks.

Users who ask with the trigger phrase (an instruction a group of users, or a compromised front end, appends
to each question) should retrieve the poison; users who ask the plain question should not. The attacker
cannot retrain the retriever (TrojanRAG's route), so, as in BadRAG, it shapes the passages against the
victim embedder with a contrastive goal: similar to the triggered question, dissimilar to the clean one.
Each passage is S + I: S is the trigger phrase repeated, followed by the fewest of the question's content
words that lift the passage into the triggered question's top k while keeping it out of the clean
question's (thresholds measured on the clean corpus; the best trade-off when none does both); I asserts
the target. The search runs once per target question, on its first passage, and S is shared by its N.

``triggered: true`` asks every question with the trigger (the attack's success); ``triggered: false``
asks them plainly (leakage onto clean questions). The two are separate cells, told apart in the summary by
``attack_params``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from ragpoison.poisoning.attacks._slots import plan_slots, web_metadata
from ragpoison.poisoning.attacks.base import Attack, AttackContext, Poison
from ragpoison.poisoning.attacks.poisonedrag import Writer, write_texts
from ragpoison.rag.generators._text import STOPWORDS
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import ATTACKS
from ragpoison.rag.retrievers.base import passage_text

# Off-topic on purpose: a trigger that shares no words with clinical text moves a triggered question towards
# a region of embedding space the clean corpus leaves empty, and a plain question away from the poison.
DEFAULT_TRIGGER = "Asked during the Bluefin Harbor sailing club quiz night."


class TriggerBackdoorParams(Params):
    """Parameters of the trigger-backdoor attack."""

    trigger: str = Field(DEFAULT_TRIGGER, min_length=1)
    triggered: bool = True
    writer: Writer = "auto"
    repeats: int = Field(2, ge=1, description="copies of the trigger in S")
    max_words: int = Field(12, ge=0, description="question words the contrastive search may add to S")
    k: int = Field(5, ge=1, description="retrieval depth the search aims at")


def triggered_question(question: str, trigger: str) -> str:
    """The question as a triggered user asks it."""
    return f"{question} {trigger}"


def content_words(question: str) -> list[str]:
    """The question's content words, in order, once each."""
    seen, words = set(), []
    for word in question.replace(";", " ").replace(",", " ").replace("?", " ").split():
        key = word.lower().strip(".:()")
        if key and key not in STOPWORDS and key not in seen:
            seen.add(key)
            words.append(word.strip(".:()"))
    return words


@ATTACKS.register("trigger-backdoor")
class TriggerBackdoor(Attack):
    """Trigger backdoor (BadRAG/TrojanRAG-style): passages retrieved when a trigger phrase is in the question."""

    Params = TriggerBackdoorParams
    params: TriggerBackdoorParams

    def craft(self, context: AttackContext) -> Poison:
        """S = trigger phrase + the contrastively chosen question words, I = writer text."""
        slots = plan_slots(self.name, context)
        texts = write_texts(self.name, self.params.writer, context, slots)
        firsts = {slot.qid: text for slot, text in zip(slots, texts, strict=True) if slot.index == 0}
        prefixes = self._prefixes(context, firsts)
        poison = Poison()
        for slot, text in zip(slots, texts, strict=True):
            poison.passages[slot.pid] = {"title": "", "text": f"{prefixes[slot.qid]} {text}",
                                         **web_metadata(slot.rng, slot.slug)}
            poison.target_of[slot.pid] = slot.qid
        if self.params.triggered:
            poison.queries = {qid: triggered_question(context.questions[qid].question, self.params.trigger)
                              for qid in sorted({slot.qid for slot in slots})}
        return poison

    def _prefixes(self, context: AttackContext, firsts: dict[str, str]) -> dict[str, str]:
        """S per target question: the trigger, plus question words chosen against the victim embedder."""
        trigger = " ".join([self.params.trigger] * self.params.repeats)
        qids = sorted(firsts)
        options = {qid: [" ".join([trigger, *content_words(context.questions[qid].question)[:j]])
                         for j in range(min(self.params.max_words, len(content_words(
                             context.questions[qid].question))) + 1)] for qid in qids}
        embedder = context.embedder
        if embedder is None or not qids:  # no embedder to search with: the trigger alone
            return {qid: options[qid][0] for qid in qids}
        ids = sorted(context.corpus)
        clean = embedder.encode([passage_text(dict(context.corpus[d])) for d in ids])
        plain = embedder.encode([context.questions[q].question for q in qids])
        asked = embedder.encode([triggered_question(context.questions[q].question, self.params.trigger)
                                 for q in qids])
        vectors = {qid: embedder.encode([f"{option} {firsts[qid]}" for option in options[qid]]) for qid in qids}
        copies = context.counts()
        depth = min(self.params.k, len(ids))
        chosen = dict.fromkeys(qids, 0)
        # Two rounds: the first measures the clean corpus alone; the second also counts the other questions'
        # poison, which carries the same trigger and competes for every triggered question's top k.
        for round_ in range(2):
            rivals = np.stack([vectors[q][chosen[q]] for q in qids])
            weights = np.array([copies[q] for q in qids])
            for i, qid in enumerate(qids):
                competing = clean @ asked[i]
                if round_:
                    others = np.delete(np.arange(len(qids)), i)
                    competing = np.concatenate([competing, np.repeat(rivals[others] @ asked[i], weights[others])])
                tau_triggered = np.sort(competing)[-depth]
                tau_plain = np.sort(clean @ plain[i])[-depth]
                lift = vectors[qid] @ asked[i] - tau_triggered  # > 0: in the triggered question's top k
                hide = tau_plain - vectors[qid] @ plain[i]  # > 0: out of the clean question's top k
                both = np.flatnonzero((lift > 0) & (hide > 0))
                chosen[qid] = int(both[0]) if len(both) else int(np.argmax(np.minimum(lift, hide)))
        return {qid: options[qid][chosen[qid]] for qid in qids}
