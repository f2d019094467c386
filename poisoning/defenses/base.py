"""The Defense base: decide which retrieved candidates may reach the reader, and optionally how it reads them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ragpoison.poisoning._contracts import VictimEmbedder, VictimReader
from ragpoison.poisoning.attacks.base import DefenseSpec
from ragpoison.rag.plugin import Plugin
from ragpoison.rag.types import Answer, Question


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its id and retrieval score."""

    doc_id: str
    score: float
    passage: dict[str, str]


@dataclass(frozen=True)
class DefenseContext:
    """What a defender may use to calibrate: the trusted clean corpus, the victim's embedder and reader.

    ``embedder`` and ``generator`` are the stack's own, of which a defense may use what ``VictimEmbedder`` and
    ``VictimReader`` state (None where a caller has none to give).
    """

    corpus: Mapping[str, Mapping[str, str]]
    embedder: VictimEmbedder | None = None
    generator: VictimReader | None = None
    seed: int = 0


@dataclass(frozen=True)
class OutOfScope:
    """An attack a defense does not claim to stop: the attack's name, the params that make it so, and why."""

    attack: str
    why: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, attack: str, params: Mapping[str, Any]) -> bool:
        """True for this attack with these params (``params`` with the attack's defaults filled in)."""
        return attack == self.attack and all(params.get(k) == v for k, v in self.params.items())


@dataclass(frozen=True)
class ThreatModel:
    """What a defense claims to stop, and the attacks that lie outside that claim (reported apart, never hidden).

    Every attack not listed in ``outside`` is inside the claim: the defense's worst case is taken over those.
    """

    claims: str
    outside: tuple[OutOfScope, ...] = ()


SECRET = "secret"


def secret(description: str = "") -> dict[str, Any]:
    """Field options marking a parameter as the defender's secret (never shown to an attacker)."""
    return {"description": description, "json_schema_extra": {SECRET: True}}


class Defense(Plugin, ABC):
    """Filters retrieved candidates; returns one keep/drop verdict per candidate.

    ``threat_model`` states what the defense claims to stop; by default every attack is inside it.
    """

    threat_model: ClassVar[ThreatModel] = ThreatModel("drops or out-votes the poisoned passages it is shown")

    def fit(self, context: DefenseContext) -> None:  # noqa: B027 - optional hook
        """Calibrate on the clean corpus before filtering; optional."""

    @abstractmethod
    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """True to keep a candidate, False to drop it; same length and order as ``candidates``."""

    def context_size(self, k: int) -> int:
        """How many passages that pass reach the reader (knowledge expansion widens it); default k."""
        return k

    def read(self, question: Question, passages: list[dict[str, str]], generator: VictimReader) -> Answer | None:
        """Answer in place of the plain reader (isolate-then-aggregate defenses); None to leave it be."""
        return None


def public_spec(defense: Defense) -> DefenseSpec:
    """The defense as an attacker may know it: its name and its parameters, less those marked secret."""
    hidden = {name for name, info in type(defense.params).model_fields.items()
              if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(SECRET)}
    return DefenseSpec(defense.name, defense.params.model_dump(mode="json", exclude=hidden))


def outside_chain(chain: list[Defense], attack: str, params: Mapping[str, Any]) -> OutOfScope | None:
    """Why an attack lies outside a chain's threat model (outside every member's), or None when it is inside."""
    if not chain:
        return None
    reasons = [next((o for o in d.threat_model.outside if o.matches(attack, params)), None) for d in chain]
    return reasons[0] if all(reasons) else None


def apply_chain(chain: list[Defense], question: Question, candidates: list[Candidate]) -> list[Candidate]:
    """Run defenses in order, each seeing only what the previous ones kept."""
    kept = list(candidates)
    for defense in chain:
        verdicts = defense.verdicts(question, kept)
        kept = [c for c, keep in zip(kept, verdicts, strict=True) if keep]
    return kept


def chain_context_size(chain: list[Defense], k: int) -> int:
    """Passages the chain lets the reader see: the widest any of its defenses asks for."""
    return max((defense.context_size(k) for defense in chain), default=k)


def chain_reader(chain: list[Defense]) -> Defense | None:
    """The last defense in the chain that reads for itself, if any."""
    readers = [d for d in chain if type(d).read is not Defense.read]
    return readers[-1] if readers else None
