"""Adaptive attack on RobustRAG's majority vote: every passage must win its own isolated read (`adaptive-vote`).

``robustrag-vote`` (``defenses/robustrag.py``) has the reader answer from each of the top k passages alone and
takes the majority; a passage supporting no option abstains. The attacker (k public; ``threat`` only affects
the certificate, not the answer) needs more target votes in the top k than the correct answer keeps, so each
poisoned passage must (a) rank in the top k and (b) make the reader, reading it alone, answer the target.
The attacker checks (b) with its own copy of the extractive reader (fitted on its own sample) and keeps only
drafts that vote the target alone. It cannot win with fewer passages than the correct answer's votes among
the clean passages left in the top k: with k = 5 and N = 1 the vote holds whenever two clean passages vote
correctly, which is what RobustRAG's certificate (n1 - n2 - pushed-out > k') promises.
"""

from __future__ import annotations

from ragpoison.poisoning.attacks._adaptive import AdaptiveAttack, AttackerView, Scored, faced, public_params
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.registry import ATTACKS
from ragpoison.rag.types import Question


@ATTACKS.register("adaptive-vote")
class AdaptiveVote(AdaptiveAttack):
    """Adaptive vs robustrag-vote: corpus-register poison each of whose passages votes the target on its own."""

    aims_at = frozenset({"robustrag-vote"})

    def variants(self) -> list[tuple[bool, int]]:
        """Vignette echoed (relevance for the lone read) with and without padding."""
        return [(True, 0), (True, 1), (False, 0)]

    def prepare(self, view: AttackerView) -> None:
        """Take the vote's k from the defense when it names one."""
        self.k = self.params.k
        if (spec := faced(view.context, "robustrag-vote")) is not None and public_params(spec).k is not None:
            self.k = public_params(spec).k

    def admissible(self, view: AttackerView, question: Question, letter: str, scored: Scored,
                   clean: list[tuple[str, float]]) -> bool:
        """The own reader, reading this draft alone, answers the target with positive support."""
        answer = view.reader.answer([ReaderInput(question, (scored.passage,))])[0]
        return answer.letter == letter and max(answer.scores.values()) > 0
