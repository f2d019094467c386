"""Near-duplicate filtering: of passages that embed almost identically or share most word shingles, keep one."""

from __future__ import annotations

from pydantic import Field
from ragpoison.poisoning.defenses._embedding import Embedded
from ragpoison.poisoning.defenses.base import Candidate, Defense, DefenseContext
from ragpoison.poisoning.textsim import MinHasher
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question


class DedupParams(Params):
    """Parameters of the near-duplicate filter."""

    max_cosine: float = Field(0.95, gt=0, le=1, description="embedding similarity at which two are duplicates")
    max_jaccard: float = Field(0.8, gt=0, le=1, description="MinHash Jaccard at which two are duplicates")
    num_perm: int = Field(128, ge=8)
    shingle_size: int = Field(3, ge=1)


@DEFENSES.register("dedup")
class DedupFilter(Embedded, Defense):
    """Near-duplicate filter: keep the best-ranked of passages alike by embedding cosine or MinHash Jaccard."""

    Params = DedupParams
    params: DedupParams

    def fit(self, context: DefenseContext) -> None:
        """Bind the victim's embedder and seed the MinHash permutations."""
        self.bind_embedder(context)
        self._hasher = MinHasher(self.params.num_perm, self.params.shingle_size, context.seed)

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Walk the candidates best first; drop one that duplicates a passage already kept."""
        if not candidates:
            return []
        vectors = self.embed(candidates)
        signatures = [self._hasher.signature(c.passage["text"]) for c in candidates]
        kept: list[int] = []
        keep = []
        for i in range(len(candidates)):
            duplicate = any(float(vectors[i] @ vectors[j]) >= self.params.max_cosine
                            or MinHasher.jaccard(signatures[i], signatures[j]) >= self.params.max_jaccard
                            for j in kept)
            keep.append(not duplicate)
            if not duplicate:
                kept.append(i)
        return keep

