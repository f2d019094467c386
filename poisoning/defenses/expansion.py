"""Knowledge expansion (PoisonedRAG's suggested defense): read many more passages, diluting the poison."""

from __future__ import annotations

from pydantic import Field
from ragpoison.poisoning.defenses.base import Candidate, Defense
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question


class ExpansionParams(Params):
    """Parameters of knowledge expansion."""

    k: int = Field(20, ge=1, description="passages the reader sees (at least the run's k)")


@DEFENSES.register("expansion")
class KnowledgeExpansion(Defense):
    """Knowledge expansion: the reader sees a larger top k, so N poisoned passages are outnumbered."""

    Params = ExpansionParams
    params: ExpansionParams

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Filters nothing; only the context widens."""
        return [True] * len(candidates)

    def context_size(self, k: int) -> int:
        """The wider of the run's k and the expanded k."""
        return max(k, self.params.k)
