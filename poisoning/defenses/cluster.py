"""TrustRAG's first stage (Zhou et al., 2025): 2-means over retrieved passages, dropping the dense cluster.

Many passages crafted for one question are near-copies of each other, so they overlap strongly (ROUGE-L)
and form a cluster far denser in embedding space than the varied clean passages around them.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
from pydantic import Field
from ragpoison.poisoning.defenses._embedding import Embedded
from ragpoison.poisoning.defenses.base import Candidate, Defense, DefenseContext
from ragpoison.poisoning.textsim import rouge_l
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question


class ClusterParams(Params):
    """Parameters of the clustering filter (TrustRAG's defaults)."""

    # Clustering runs only when some pair of candidates has a ROUGE-L F1 above this.
    overlap: float = 0.25
    # A cluster whose mean pairwise cosine similarity exceeds this is dense and dropped.
    density: float = 0.88
    restarts: int = 10
    # TrustRAG splits the top k once (depth 1). A deeper candidate pool can hold several attack groups, one
    # per neighbouring target question, which one split cannot isolate, so a half that is not dense is
    # split again, down to this depth.
    max_depth: int = Field(4, ge=1)


@DEFENSES.register("cluster")
class ClusterFilter(Embedded, Defense):
    """TrustRAG stage 1: on strong n-gram overlap, 2-means over embeddings and drop the dense cluster."""

    Params = ClusterParams
    params: ClusterParams

    def fit(self, context: DefenseContext) -> None:
        """Bind the victim's embedder; the seed fixes k-means initialisation."""
        self.bind_embedder(context)
        self._seed = context.seed

    def overlapping(self, candidates: list[Candidate]) -> bool:
        """True when some pair of passages shares a long common subsequence (TrustRAG's n-gram check)."""
        texts = [c.passage["text"] for c in candidates]
        return any(rouge_l(a, b) > self.params.overlap for a, b in itertools.combinations(texts, 2))

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Drop every member of a dense cluster (mean pairwise cosine above the threshold)."""
        if len(candidates) < 2 or not self.overlapping(candidates):
            return [True] * len(candidates)
        vectors = self.embed(candidates)
        dropped = {int(i) for members in self.dense_clusters(vectors, np.arange(len(candidates)), 0)
                   for i in members}
        return [i not in dropped for i in range(len(candidates))]

    def dense_clusters(self, vectors: npt.NDArray[np.float32], members: npt.NDArray[np.intp],
                       depth: int) -> list[npt.NDArray[np.intp]]:
        """The dense clusters among ``members``: the group itself if dense, else those of its two halves."""
        if len(members) < 2:
            return []
        if mean_pairwise_cosine(vectors[members]) > self.params.density:
            return [members]
        if depth >= self.params.max_depth or len(members) < 3:
            return []
        labels = two_means(standardise(vectors[members]), self.params.restarts, self._seed)
        if labels.min() == labels.max():
            return []
        return [cluster for label in (0, 1)
                for cluster in self.dense_clusters(vectors, members[labels == label], depth + 1)]


def standardise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.floating]:
    """Zero-mean, unit-variance features, each row then scaled to unit length (as TrustRAG clusters)."""
    centred = vectors - vectors.mean(axis=0)
    std = vectors.std(axis=0)
    scaled = centred / np.where(std > 0, std, 1.0)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    return scaled / np.where(norms > 0, norms, 1.0)


def two_means(points: npt.NDArray[np.floating], restarts: int, seed: int) -> npt.NDArray[np.intp]:
    """Labels (0/1) of the best of ``restarts`` seeded k-means++ runs with k = 2 (lowest inertia)."""
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(points), dtype=int), np.inf
    for _ in range(restarts):
        first = points[rng.integers(len(points))]
        dist = ((points - first) ** 2).sum(axis=1)
        second = points[rng.choice(len(points), p=dist / dist.sum())] if dist.sum() > 0 else first
        centres = np.stack([first, second])
        for _ in range(100):
            labels = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
            moved = np.stack([points[labels == j].mean(axis=0) if np.any(labels == j) else centres[j]
                              for j in (0, 1)])
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = ((points - centres[labels]) ** 2).sum()
        if inertia < best_inertia - 1e-12:
            best, best_inertia = labels, inertia
    return best


def mean_pairwise_cosine(vectors: npt.NDArray[np.float32]) -> float:
    """Mean cosine similarity over pairs of unit vectors; 0 for fewer than two (a singleton is not dense)."""
    n = len(vectors)
    if n < 2:
        return 0.0
    sims = vectors @ vectors.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))
