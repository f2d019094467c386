"""Perplexity filtering (as PoisonedRAG evaluates it): drop passages a language model finds too surprising.

The scorer is a causal LM from a local directory when ``model`` is given, else a Kneser-Ney n-gram model
trained on the trusted corpus. The n-gram model is cross-fitted: the corpus is split into folds by a hash
of the passage id, one model is trained without each fold, and every passage (clean or not) is scored by
the model that never saw its id's fold. The threshold is the (1 - fpr) quantile of clean passages'
perplexity scored that way, so a clean passage is dropped at the stated rate, no more because the model
memorised it and no less.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
from pydantic import Field
from ragpoison.poisoning.defenses.base import Candidate, Defense, DefenseContext
from ragpoison.poisoning.lm.base import PerplexityScorer
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question


class PerplexityParams(Params):
    """Parameters of the perplexity filter."""

    model: str | None = Field(None, description="local causal LM directory; default an n-gram LM")
    order: int = Field(3, ge=1, le=5, description="n of the n-gram LM")
    folds: int = Field(5, ge=2, description="cross-fitting folds of the n-gram LM")
    fpr: float = Field(0.05, gt=0, lt=1, description="clean passages dropped at calibration")
    calibration_size: int = Field(2000, ge=10, description="clean passages sampled to set the threshold")
    train_size: int | None = Field(50000, ge=10, description="passages sampled to train the n-gram LM")
    device: str = "cpu"
    max_length: int = Field(512, ge=8)


@DEFENSES.register("perplexity")
class PerplexityFilter(Defense):
    """Drop passages whose LM perplexity is above a threshold calibrated on clean passages to a stated FPR."""

    Params = PerplexityParams
    params: PerplexityParams

    threshold: float | None = None

    def fit(self, context: DefenseContext) -> None:
        """Train (or load) the scorers and calibrate the threshold on clean passages."""
        self._seed = context.seed
        self._scores: dict[tuple[str, str], float] = {}
        ids = sorted(context.corpus)
        rng = random.Random(f"{context.seed}:perplexity")
        self._scorers: list[PerplexityScorer]
        if self.params.model is not None:
            from ragpoison.poisoning.lm.causal import CausalLMScorer

            self._scorers = [CausalLMScorer(self.params.model, device=self.params.device,
                                            max_length=self.params.max_length)]
        else:
            self._scorers = self._cross_fitted(context, ids, rng)
        sample = rng.sample(ids, min(self.params.calibration_size, len(ids)))
        clean = self._perplexities([(d, context.corpus[d]["text"]) for d in sample])
        self.threshold = float(np.quantile(clean, 1 - self.params.fpr, method="higher"))

    def _cross_fitted(self, context: DefenseContext, ids: list[str], rng: random.Random) -> list[PerplexityScorer]:
        from ragpoison.poisoning.lm.ngram import NgramScorer

        train = ids if self.params.train_size is None or len(ids) <= self.params.train_size \
            else sorted(rng.sample(ids, self.params.train_size))
        scorers: list[PerplexityScorer] = []
        for fold in range(self.params.folds):
            scorer = NgramScorer(self.params.order)
            scorer.fit([context.corpus[d]["text"] for d in train if self._fold(d) != fold])
            scorers.append(scorer)
        return scorers

    def _fold(self, doc_id: str) -> int:
        digest = hashlib.sha256(f"{self._seed}:{doc_id}".encode()).digest()
        return int.from_bytes(digest[:4], "little") % self.params.folds

    def _perplexities(self, items: list[tuple[str, str]]) -> list[float]:
        """Perplexity of (doc id, text) pairs, each under its fold's scorer, memoised by id and text."""
        missing: dict[int, list[tuple[str, str]]] = {}
        for doc_id, text in items:
            if (doc_id, text) not in self._scores:
                fold = self._fold(doc_id) if len(self._scorers) > 1 else 0
                missing.setdefault(fold, []).append((doc_id, text))
        for fold, pending in missing.items():
            for item, score in zip(pending, self._scorers[fold].perplexity([t for _, t in pending]), strict=True):
                self._scores[item] = score
        return [self._scores[item] for item in items]

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep a candidate whose perplexity is at most the calibrated threshold."""
        if not candidates:
            return []
        if self.threshold is None:
            raise RuntimeError("perplexity must be fitted before it filters")
        scores = self._perplexities([(c.doc_id, c.passage["text"]) for c in candidates])
        return [score <= self.threshold for score in scores]
