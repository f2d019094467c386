"""Provenance allowlist: only passages from trusted sources reach the reader."""

from __future__ import annotations

from ragpoison.poisoning.defenses.base import Candidate, Defense, OutOfScope, ThreatModel
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question

DEFAULT_TRUSTED = ("pubmed", "statpearls", "textbook", "textbooks", "guideline")


class ProvenanceParams(Params):
    """Parameters of the provenance filter."""

    trusted_sources: tuple[str, ...] = DEFAULT_TRUSTED


@DEFENSES.register("provenance")
class ProvenanceFilter(Defense):
    """Keep only passages whose `source` metadata is on an allowlist of trusted sources."""

    Params = ProvenanceParams
    params: ProvenanceParams
    threat_model = ThreatModel(
        "passages whose claimed source is not on the allowlist never reach the reader (the claim itself is trusted)",
        (OutOfScope("provenance-spoof", "forges the source field (and a reference in the corpus's format)"),
         OutOfScope("adaptive-multisource", "faced with an allowlist, claims sources on it"),
         OutOfScope("content-edit", "an insider edits trusted passages under their own ids and provenance",
                    {"mode": "in-place"})))

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep a candidate when its source (case-insensitive) is trusted."""
        trusted = {s.lower() for s in self.params.trusted_sources}
        return [c.passage.get("source", "").lower() in trusted for c in candidates]
