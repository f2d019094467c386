"""Adaptive attack on the similarity-outlier filter: poison as close to the question as clean text gets.

The filter (``defenses/similarity_outlier.py``) drops a candidate whose cosine with the question exceeds the
(1 - fpr) quantile of clean best-match similarities: a sentence drawn by seed from each sampled clean passage
is a query, its best match among the other clean passages is recorded. ``fpr``, ``min_words`` and
``calibration_size`` are public; the seed and so the sentences drawn are the defender's. The attacker runs
the same procedure on its own sample with its own seed and aims each passage into the band between the k-th
clean similarity for the question (so that it still ranks in the top k) and its own threshold estimate minus
a margin (so that it passes). It moves a draft within the band by echoing the question's vignette or not and
by padding with topical sentences, which pulls the mean-pooled embedding towards ordinary clean text.
"""

from __future__ import annotations

import random

import numpy as np
from ragpoison.poisoning.attacks._adaptive import AdaptiveAttack, AttackerView, Scored, faced, public_params
from ragpoison.rag.generators._text import sentences
from ragpoison.rag.registry import ATTACKS
from ragpoison.rag.retrievers.base import passage_text
from ragpoison.rag.types import Question


@ATTACKS.register("adaptive-inlier")
class AdaptiveInlier(AdaptiveAttack):
    """Adaptive vs similarity-outlier: corpus-register poison aimed under the attacker's own threshold estimate."""

    aims_at = frozenset({"similarity-outlier"})

    def variants(self) -> list[tuple[bool, int]]:
        """A ladder of question echo and padding, from closest to the question to least close."""
        return [(True, 0), (True, 1), (False, 0), (True, 2), (False, 1), (False, 2)]

    def prepare(self, view: AttackerView) -> None:
        """The filter's calibration, repeated on the attacker's own sample with the attacker's own seed."""
        fpr, min_words, size = 0.05, 6, 2000
        if (spec := faced(view.context, "similarity-outlier")) is not None:
            p = public_params(spec)
            fpr, min_words, size = p.fpr, p.min_words, p.calibration_size
        rng = random.Random(f"{view.context.seed}:attacker:similarity-outlier")
        ids = list(view.sample)
        chosen = rng.sample(ids, min(size, len(ids)))
        queries, owners = [], []
        for doc_id in chosen:
            usable = [s for s in sentences(str(view.context.corpus[doc_id]["text"])) if len(s.split()) >= min_words]
            if usable:
                queries.append(rng.choice(usable))
                owners.append(doc_id)
        index = {d: i for i, d in enumerate(ids)}
        own = view.embedder.encode([passage_text(dict(view.context.corpus[d])) for d in ids])
        sims = view.embedder.encode(queries) @ own.T
        for row, owner in enumerate(owners):
            sims[row, index[owner]] = -np.inf
        self.cap = float(np.quantile(sims.max(axis=1), 1 - fpr, method="higher")) - self.params.margin

    def admissible(self, view: AttackerView, question: Question, letter: str, scored: Scored,
                   clean: list[tuple[str, float]]) -> bool:
        """Under the own threshold estimate (ranking is scored separately)."""
        return scored.similarity <= self.cap
