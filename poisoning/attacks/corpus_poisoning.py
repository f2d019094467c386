"""Corpus poisoning (Zhong et al., EMNLP 2023): untargeted adversarial passages for unseen questions.

The attacker holds a set of training questions (a seeded fraction of the question set), clusters their
embeddings with k-means into as many clusters as it may inject passages, and for each cluster optimises a
passage of ``passage_tokens`` tokens with HotFlip to maximise its mean similarity to the cluster's
questions. The search starts from [MASK] tokens (``init: mask``, as in the paper, which runs thousands of
iterations on a GPU) or, the default for CPU budgets, from the cluster's own training questions run together
and cut to length (``init: questions``), a warm start that HotFlip then moves towards the cluster centre.
The passages assert nothing: they are built to be retrieved, crowding the reader's context for questions
the attacker never saw. The cell measures only those held-apart questions (``Poison.trained_on``).
"""

from __future__ import annotations

import random
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field
from ragpoison.poisoning.attacks._hotflip import FlipProblem, HotFlip, gradient_embedder
from ragpoison.poisoning.attacks._slots import web_metadata
from ragpoison.poisoning.attacks.base import Attack, AttackContext, Poison, poison_id
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import ATTACKS


class CorpusPoisoningParams(Params):
    """Parameters of the corpus-poisoning attack."""

    train_fraction: float = Field(0.5, gt=0, lt=1, description="questions the attacker trains on")
    passage_tokens: int = Field(50, ge=1)
    iterations: int = Field(100, ge=0, description="HotFlip rounds (the paper runs 5000 on a GPU)")
    candidates: int = Field(100, ge=1)
    init: Literal["mask", "questions"] = "questions"


def kmeans(vectors: npt.NDArray[np.float32], k: int, seed: str, rounds: int = 50) -> npt.NDArray[np.intp]:
    """Spherical k-means (cosine) with k-means++ seeding; returns each vector's cluster index."""
    rng = random.Random(seed)
    centres = [vectors[rng.randrange(len(vectors))]]
    while len(centres) < k:
        nearest = np.max(vectors @ np.stack(centres).T, axis=1)
        weights = np.clip(1.0 - nearest, 0.0, None) ** 2
        if not weights.sum():
            weights = np.ones(len(vectors))
        centres.append(vectors[rng.choices(range(len(vectors)), weights=weights.tolist())[0]])
    centres_arr = np.stack(centres)
    labels = np.full(len(vectors), -1)
    for _ in range(rounds):
        new = np.argmax(vectors @ centres_arr.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = vectors[labels == c]
            if len(members):
                mean = members.mean(axis=0)
                centres_arr[c] = mean / (np.linalg.norm(mean) or 1.0)
    return labels


@ATTACKS.register("corpus-poisoning")
class CorpusPoisoning(Attack):
    """Zhong et al. corpus poisoning: untargeted HotFlip passages fit to k-means clusters of training questions."""

    Params = CorpusPoisoningParams
    params: CorpusPoisoningParams

    def craft(self, context: AttackContext) -> Poison:
        """One passage per cluster of training questions; the budget sets the number of clusters."""
        embedder = gradient_embedder(context.embedder, self.name)
        qids = sorted(context.questions)
        rng = random.Random(f"{context.seed}:{self.name}:split")
        n_train = min(len(qids) - 1, max(1, round(self.params.train_fraction * len(qids))))
        train = sorted(rng.sample(qids, n_train))
        vectors = embedder.encode([context.questions[q].question for q in train])
        k = max(1, min(context.budget, len(train)))
        labels = kmeans(vectors, k, f"{context.seed}:{self.name}:kmeans")
        flip = HotFlip(embedder.model, candidates=self.params.candidates, seed=f"{context.seed}:{self.name}")
        problems = []
        for c in range(k):
            members = [q for q, label in zip(train, labels, strict=True) if label == c]
            if members:
                problems.append(FlipProblem(self._start(flip, context, members), [], vectors[labels == c]))
        flip.optimise(problems, self.params.iterations)
        poison = Poison(trained_on=set(train))
        for index, problem in enumerate(problems):
            pid = poison_id(self.name, "untargeted", index)
            meta_rng = random.Random(f"{context.seed}:{self.name}:{index}")
            poison.passages[pid] = {"title": "", "text": flip.decode(problem.prefix),
                                    **web_metadata(meta_rng, f"cluster-{index}")}
        return poison

    def _start(self, flip: HotFlip, context: AttackContext, members: list[str]) -> list[int]:
        """The passage's first tokens: [MASK] throughout, or the cluster's questions cut to length."""
        length = self.params.passage_tokens
        if self.params.init == "mask":
            return [flip.tokenizer.mask_token_id] * length
        ids = flip.tokens(" ".join(context.questions[q].question for q in members))[:length]
        return ids + [flip.tokenizer.mask_token_id] * (length - len(ids))
