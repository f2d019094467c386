"""RobustRAG (Xiang et al., 2024): isolate-then-aggregate majority voting with its robustness certificate.

The reader answers from each retrieved passage alone; a passage that supports no option abstains; the
option with most votes wins. RobustRAG's certificate for majority voting: with vote counts n1 (the winner)
and n2 (the runner-up), an attacker who injects k' passages into the top k pushes the k' lowest-ranked
benign passages out and can vote k' times for the runner-up, so the answer provably stands when
n1 - n2 - (winner's votes among the last k') > k' (injection). An attacker who instead rewrites k' of the
retrieved passages moves at most 2k' of the margin: n1 - n2 > 2k' (modification). Ties are never certified.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field
from ragpoison.poisoning._contracts import VictimReader
from ragpoison.poisoning.defenses.base import Candidate, Defense
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import UNPARSED, Answer, Question

Vote = str | None  # an option letter, or None for a passage that abstains


class RobustRAGParams(Params):
    """Parameters of RobustRAG's majority vote."""

    k: int | None = Field(None, ge=1, description="passages voting (default: the run's k)")
    threat: Literal["injection", "modification"] = "injection"


def tally(votes: Sequence[Vote], tie_key: Callable[[str], str] = str) -> tuple[Vote, int, int]:
    """The winning option (None when every passage abstains), its vote count and the runner-up's."""
    counts = Counter(v for v in votes if v is not None)
    if not counts:
        return None, 0, 0
    ranked = sorted(counts, key=lambda option: (-counts[option], tie_key(option)))
    runner_up = counts[ranked[1]] if len(ranked) > 1 else 0
    return ranked[0], counts[ranked[0]], runner_up


def certified(votes: Sequence[Vote], corrupted: int, threat: str = "injection") -> bool:
    """RobustRAG's voting certificate: no ``corrupted`` adversarial passages can change the winner."""
    winner, top, runner_up = tally(votes)
    if winner is None:
        return False
    if corrupted <= 0:
        return True
    margin = top - runner_up
    if threat == "modification":
        return margin > 2 * corrupted
    # Injected passages push the lowest-ranked benign ones out of the top k.
    pushed_out = sum(v == winner for v in votes[len(votes) - corrupted:]) if corrupted < len(votes) else top
    return margin - pushed_out > corrupted


def certified_radius(votes: Sequence[Vote], threat: str = "injection") -> int:
    """The largest k' for which the certificate holds (0 when it holds for no corrupted passage)."""
    radius = 0
    while radius < len(votes) and certified(votes, radius + 1, threat):
        radius += 1
    return radius


def vote_of(answer: Answer, question: Question) -> Vote:
    """A passage's vote: the option it answered, or None when it named none or supported none."""
    if answer.letter == UNPARSED or answer.letter not in question.options:
        return None
    if answer.scores and max(answer.scores.values()) <= 0:
        return None
    return answer.letter


@DEFENSES.register("robustrag-vote")
class RobustRAGVote(Defense):
    """RobustRAG: answer from each passage alone, majority-vote the answers, certify against k' corrupted."""

    Params = RobustRAGParams
    params: RobustRAGParams

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Filters nothing: robustness comes from isolating passages when reading."""
        return [True] * len(candidates)

    def context_size(self, k: int) -> int:
        """The number of passages that vote."""
        return self.params.k or k

    def read(self, question: Question, passages: list[dict[str, str]], generator: VictimReader) -> Answer | None:
        """Majority vote over isolated answers, with the certified radius; closed-book when all abstain."""
        if not passages:
            return None
        answers = generator.answer([ReaderInput(question, (passage,)) for passage in passages])
        votes = [vote_of(answer, question) for answer in answers]
        winner, _, _ = tally(votes, lambda option: _tie_key(question.qid, option))
        if winner is None:
            closed_book = generator.answer([ReaderInput(question, ())])[0]
            return Answer(closed_book.letter, closed_book.scores, closed_book.text, certified_radius=0)
        counts = Counter(v for v in votes if v is not None)
        radius = certified_radius(votes, self.params.threat)
        return Answer(winner, {o: float(counts.get(o, 0)) for o in question.options}, question.options[winner],
                      certified_radius=radius)


def _tie_key(qid: str, option: str) -> str:
    # Ties break by a hash of the question, as the reader's do, not by letter order.
    return hashlib.sha256(f"{qid}:{option}".encode()).hexdigest()
