"""Leave-one-out influence, with suspect groups: which passages, removed, move the answer off the wrong one.

Re-answers the question with each passage removed from the index (the next candidate takes its place, as it
would after a quarantine), and with the suspect group removed: the passages that, read alone, give the wrong
answer, among the context and the candidates that would refill it (near-copies of one poison fall in one group,
and a copy waiting just below the context goes with them when removing the context's members alone does not
move the answer). A single removal rarely moves
an answer that five poisoned passages agree on, which is why the group is removed as one. A passage is flagged
when its removal, or its group's, moves the reader off the wrong answer; it is ranked by how far removal moves
the reader's margin away from the wrong answer. The influence idea is the counterfactual "influence on the
answer" of RAGOrigin (Zhang et al., IEEE S&P 2026) computed by removal rather than with a proxy LM's likelihood.
"""

from __future__ import annotations

import math

from ragpoison.poisoning._contracts import VictimReader
from ragpoison.poisoning.defenses.base import Candidate
from ragpoison.poisoning.traceback.base import Suspect, TraceCase, Tracer, margin
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import TRACEBACKS


class LeaveOneOutParams(Params):
    """Parameters of leave-one-out tracing."""

    groups: bool = True
    """Also remove, as one, the passages that read alone give the wrong answer."""


@TRACEBACKS.register("leave-one-out")
class LeaveOneOut(Tracer):
    """Leave-one-out influence: flags the passages or group whose removal moves the answer off the wrong one."""

    Params = LeaveOneOutParams
    params: LeaveOneOutParams

    def trace(self, case: TraceCase, reader: VictimReader) -> list[Suspect]:
        """Re-read the question without each passage, each passage alone, and without the suspect group."""
        question, wrong = case.question, case.wrong
        context, pool = case.passages, case.passages + case.reserve
        n = len(context)
        variants = [context, *(removed(case, {i}) for i in range(n)), *((c,) for c in pool)]
        answers = reader.answer([ReaderInput(question, tuple(c.passage for c in ctx)) for ctx in variants])
        full, dropped, alone = answers[0], answers[1:n + 1], answers[n + 1:]
        base = margin(full, wrong)
        shift = [base - margin(a, wrong) for a in dropped]
        flagged = {i for i, a in enumerate(dropped) if full.letter == wrong and a.letter != wrong}
        # The suspect group: every passage in view (the context and what would refill it) that alone reads wrong.
        group = {i for i, a in enumerate(alone) if a.letter == wrong}
        group_shift = 0.0
        if self.params.groups and group and full.letter == wrong:
            # The group in the context first; with the copies waiting below it only if that is not enough.
            for members in _widening(group, n):
                rest = reader.answer([ReaderInput(question, tuple(c.passage for c in removed(case, members)))])[0]
                group_shift = base - margin(rest, wrong)
                if rest.letter != wrong:
                    flagged |= members
                    break
        scores = [max(shift[i] if i < n else -math.inf, group_shift if i in group else -math.inf)
                  for i in range(len(pool))]
        shown = [i for i in range(len(pool)) if i < n or i in flagged]
        order = sorted(shown, key=lambda i: (i not in flagged, -scores[i], i))
        return [Suspect(pool[i].doc_id, float(scores[i]), i in flagged) for i in order]


def _widening(group: set[int], n: int) -> list[set[int]]:
    """The suspect group's members in the context, then all of them (when the reserve holds some)."""
    inside = {i for i in group if i < n}
    return [inside, group] if inside and inside != group else [group]


def removed(case: TraceCase, drop: set[int]) -> tuple[Candidate, ...]:
    """The context with the passages at positions ``drop`` of context + reserve gone from the index, refilled."""
    n = len(case.passages)
    kept = [c for i, c in enumerate(case.passages) if i not in drop]
    fill = [c for j, c in enumerate(case.reserve, start=n) if j not in drop]
    return tuple(kept + fill[: n - len(kept)])
