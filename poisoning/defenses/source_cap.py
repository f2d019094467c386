"""Source cap: at most m passages from any one source reach the reader, so one source cannot flood it."""

from __future__ import annotations

from collections import Counter

from pydantic import Field
from ragpoison.poisoning.defenses.base import Candidate, Defense
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question


class SourceCapParams(Params):
    """Parameters of the source cap."""

    max_per_source: int = Field(2, ge=1, description="passages kept per source, best ranked first")
    field: str = Field("source", description="metadata field naming a passage's source")


@DEFENSES.register("source-cap")
class SourceCap(Defense):
    """Keep at most m passages per source (by rank), so a single source cannot fill the context."""

    Params = SourceCapParams
    params: SourceCapParams

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep a candidate while its source has fewer than m kept passages ahead of it."""
        seen: Counter[str] = Counter()
        keep = []
        for candidate in candidates:
            source = candidate.passage.get(self.params.field, "").strip().lower()
            seen[source] += 1
            keep.append(seen[source] <= self.params.max_per_source)
        return keep
