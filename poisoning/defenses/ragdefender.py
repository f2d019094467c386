"""RAGDefender (Kim, Lee and Koo, "Rescuing the Unpoisoned", ACSAC 2025), the authors' released package, adapted.

A thin adapter over PyPI ``ragdefender`` (``RAGDefender.defend(query, R, return_indices=True)``): its Stage 1
estimates how many of the retrieved passages are adversarial (TF-IDF-guided 2-means for single-hop questions,
embedding concentration for multi-hop ones), its Stage 2 ranks passages by how often they appear in the most
similar pairs and drops that many. The package embeds with all-MiniLM-L6-v2 by default; here it is handed the
stack's own embedder (vectors through the same cache and precision), which for the default stack is that
model. Nothing of the method is re-implemented: what it drops is what the package returns.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from ragpoison.poisoning._contracts import VictimEmbedder
from ragpoison.poisoning.defenses.base import Candidate, Defense, DefenseContext
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.retrievers.base import passage_text
from ragpoison.rag.types import Question


class RAGDefenderParams(Params):
    """Parameters of RAGDefender (the package's defaults)."""

    task_type: Literal["single_hop", "multi_hop"] = "single_hop"
    p: int = Field(2, ge=1)  # Stage 2 frequency-score exponent (paper Eq. 6)
    m: int = Field(5, ge=1)  # Stage 1 TF-IDF top-m terms (paper Eq. 1)


class _Encoder:
    """The stack's embedder behind the ``encode(texts, convert_to_tensor=True)`` call RAGDefender makes."""

    def __init__(self, embedder: VictimEmbedder) -> None:
        self._embedder = embedder

    def encode(self, texts: list[str], convert_to_tensor: bool = False, **_: Any) -> Any:
        vectors = self._embedder.encode(list(texts))
        if not convert_to_tensor:
            return vectors
        import torch

        return torch.from_numpy(vectors.copy())


@DEFENSES.register("ragdefender")
class RAGDefenderFilter(Defense):
    """RAGDefender (ACSAC 2025, PyPI ragdefender): estimate how many passages are adversarial, drop that many."""

    Params = RAGDefenderParams
    params: RAGDefenderParams

    def fit(self, context: DefenseContext) -> None:
        """Build the package's defender over the victim's embedder."""
        if context.embedder is None:
            raise RuntimeError("defense 'ragdefender' needs the victim's embedder in its context")
        from ragdefender import RAGDefender

        self._defender = RAGDefender(embedder=_Encoder(context.embedder), task_type=self.params.task_type,
                                     device="cpu", p=self.params.p, m=self.params.m)

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep what RAGDefender keeps; it sees the passages as the retriever indexed them."""
        if len(candidates) < 2:
            return [True] * len(candidates)
        texts = [passage_text(c.passage) for c in candidates]
        _, removed = self._defender.defend(question.question, texts, return_indices=True)
        dropped = {int(i) for i in removed}
        return [i not in dropped for i in range(len(candidates))]
