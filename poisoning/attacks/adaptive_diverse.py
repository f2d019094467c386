"""Adaptive attack on near-duplicate and cluster filters: N passages unlike each other (`adaptive-diverse`).

``dedup`` (``defenses/dedup.py``) drops a passage whose embedding cosine with a better-ranked kept one is at
least ``max_cosine`` or whose MinHash Jaccard over word ``shingle_size``-shingles is at least ``max_jaccard``.
``cluster`` (``defenses/cluster.py``, TrustRAG stage 1) runs when some pair of candidates has ROUGE-L F1 above
``overlap`` and drops any 2-means cluster (split to ``max_depth``) whose mean pairwise cosine exceeds
``density``. The MinHash permutations and the k-means seed are the defender's; the thresholds are public.
The attacker keeps every pair of its own passages for one question below all of them with a margin: exact
Jaccard (MinHash only estimates it; its error at 128 permutations is about 0.09, so the margin is 0.2),
cosine below both ``max_cosine`` and ``density``, and ROUGE-L under ``overlap`` where it can. A group whose
pairwise cosines are all below ``density`` has a mean below it, whatever subset a split isolates.
"""

from __future__ import annotations

from pydantic import Field
from ragpoison.poisoning.attacks._adaptive import (
    AdaptiveAttack,
    AdaptiveParams,
    AttackerView,
    Scored,
    faced,
    public_params,
)
from ragpoison.poisoning.textsim import rouge_l, shingles
from ragpoison.rag.registry import ATTACKS
from ragpoison.rag.types import Question


class DiverseParams(AdaptiveParams):
    """Parameters of ``adaptive-diverse``."""

    jaccard_margin: float = Field(0.2, ge=0, lt=1, description="kept below max_jaccard (MinHash error)")


def jaccard(a: str, b: str, size: int) -> float:
    """Exact Jaccard similarity of two texts' word shingles."""
    sa, sb = shingles(a, size), shingles(b, size)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


@ATTACKS.register("adaptive-diverse")
class AdaptiveDiverse(AdaptiveAttack):
    """Adaptive vs dedup and cluster: N corpus-register passages, pairwise below every similarity threshold."""

    aims_at = frozenset({"cluster", "dedup"})

    Params = DiverseParams
    params: DiverseParams

    def variants(self) -> list[tuple[bool, int]]:
        """Vignette echoed or not, padded or not: four shapes that embed apart."""
        return [(True, 0), (False, 0), (True, 1), (False, 2)]

    def prepare(self, view: AttackerView) -> None:
        """Read the public thresholds of whichever of the two filters the chain holds (defaults otherwise)."""
        self.max_cosine, self.max_jaccard, self.shingle = 0.95, 0.8, 3
        self.overlap, self.density = 0.25, 0.88
        if (spec := faced(view.context, "dedup")) is not None:
            p = public_params(spec)
            self.max_cosine, self.max_jaccard, self.shingle = p.max_cosine, p.max_jaccard, p.shingle_size
        if (spec := faced(view.context, "cluster")) is not None:
            p = public_params(spec)
            self.overlap, self.density = p.overlap, p.density
        self.cos_cap = min(self.max_cosine, self.density) - self.params.margin
        self.jac_cap = self.max_jaccard - self.params.jaccard_margin

    def admissible(self, view: AttackerView, question: Question, letter: str, scored: Scored,
                   clean: list[tuple[str, float]]) -> bool:
        """Not a near-copy of any clean passage that may rank above it (which dedup would keep instead)."""
        index = {d: i for i, d in enumerate(view.ids)}
        for doc_id, _ in clean[: self.params.k * 4]:
            if float(view.vectors[index[doc_id]] @ scored.vector) >= self.max_cosine - self.params.margin:
                return False
            if jaccard(str(view.context.corpus[doc_id]["text"]), scored.draft.text, self.shingle) >= self.jac_cap:
                return False
        return True

    def compatible(self, view: AttackerView, chosen: list[Scored], candidate: Scored) -> bool:
        """Below the cosine, Jaccard and ROUGE-L thresholds against every passage already chosen."""
        return all(float(c.vector @ candidate.vector) <= self.cos_cap
                   and jaccard(c.draft.text, candidate.draft.text, self.shingle) < self.jac_cap
                   and rouge_l(c.draft.text, candidate.draft.text) <= self.overlap
                   for c in chosen)
