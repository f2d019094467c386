"""Adaptive attack on the perplexity filter: fluent poison in the corpus's own register (`adaptive-fluent`).

The filter (``defenses/perplexity.py``) drops a passage whose perplexity under a cross-fitted Kneser-Ney
n-gram LM (or a local causal LM) exceeds the (1 - fpr) quantile of clean passages' perplexity. Its public
parameters are ``order``, ``fpr`` and ``model``; its seed (folds, calibration sample) is the defender's. The
attacker trains its own n-gram LM of the same order on one half of its own sample, estimates the threshold
as the (1 - fpr - slack) quantile of the other half's perplexity, and keeps drafts below it. Fluency comes
from the writer: most of each draft is the corpus's own sentences, which no n-gram LM trained on the corpus
finds surprising (the "fluent poison" answer to perplexity filters that PoisonedRAG and later work report).
"""

from __future__ import annotations

import hashlib

import numpy as np
from pydantic import Field
from ragpoison.poisoning.attacks._adaptive import (
    AdaptiveAttack,
    AdaptiveParams,
    AttackerView,
    Scored,
    faced,
    public_params,
)
from ragpoison.poisoning.lm.ngram import NgramScorer
from ragpoison.rag.registry import ATTACKS
from ragpoison.rag.types import Question


class FluentParams(AdaptiveParams):
    """Parameters of ``adaptive-fluent``."""

    slack: float = Field(0.15, ge=0, lt=1, description="quantile kept below the estimated (1 - fpr) threshold")


@ATTACKS.register("adaptive-fluent")
class AdaptiveFluent(AdaptiveAttack):
    """Adaptive vs perplexity: corpus-register poison kept under the attacker's own perplexity estimate."""

    aims_at = frozenset({"perplexity"})

    Params = FluentParams
    params: FluentParams

    def variants(self) -> list[tuple[bool, int]]:
        """With and without the question's vignette (the least corpus-like sentence), padded or not."""
        return [(True, 0), (False, 0), (True, 1), (False, 1)]

    def prepare(self, view: AttackerView) -> None:
        """Own LM on half of the own sample; own threshold from the other half's perplexities."""
        spec = faced(view.context, "perplexity")
        order, fpr = 3, 0.05
        if spec is not None:
            defense = public_params(spec)
            order, fpr = defense.order, defense.fpr
            # A causal LM in the filter (params.model) is scored with the same n-gram proxy here: the proxy
            # ranks texts alike for corpus-like prose; a GPU run should score with the named model instead.
        halves: tuple[list[str], list[str]] = ([], [])
        for doc_id in view.sample:
            digest = hashlib.sha256(f"{view.context.seed}:attacker-lm:{doc_id}".encode()).digest()
            halves[digest[0] % 2].append(str(view.context.corpus[doc_id]["text"]))
        self._lm = NgramScorer(order)
        self._lm.fit(halves[0])
        held_out = self._lm.perplexity(halves[1]) if halves[1] else [float("inf")]
        self.cap = float(np.quantile(held_out, max(0.0, 1 - fpr - self.params.slack), method="lower"))

    def admissible(self, view: AttackerView, question: Question, letter: str, scored: Scored,
                   clean: list[tuple[str, float]]) -> bool:
        """Perplexity under the attacker's own LM at most its own capped threshold."""
        return self._lm.perplexity([scored.draft.text])[0] <= self.cap
