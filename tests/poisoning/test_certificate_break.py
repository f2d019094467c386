"""RobustRAG's certificate checked exhaustively, and the checker shown to catch a certificate broken on purpose."""

import itertools
from collections.abc import Callable, Sequence

from ragpoison.poisoning.defenses import robustrag
from ragpoison.poisoning.defenses.robustrag import Vote, tally

CHOICES: tuple[Vote, ...] = ("A", "B", None)


def _radius_with(certify: Callable[[Sequence[Vote], int], bool], votes: Sequence[Vote]) -> int:
    radius = 0
    while radius < len(votes) and certify(votes, radius + 1):
        radius += 1
    return radius


def counterexamples(certify: Callable[[Sequence[Vote], int], bool], k_max: int = 5) -> list[tuple]:
    """Every (votes, injected, attacked) where an answer certified for k' injected passages changed.

    The attacker injects k' <= radius passages voting anything, at any ranks; the last k' benign votes are pushed
    out of the top k. Exhaustive over votes of length up to ``k_max`` from two options and abstention.
    """
    found = []
    for k in range(1, k_max + 1):
        for votes in itertools.product(CHOICES, repeat=k):
            winner, _, _ = tally(votes)
            radius = _radius_with(certify, votes)
            if winner is None or radius == 0:
                continue
            for k_prime in range(1, radius + 1):
                kept = list(votes[: k - k_prime])
                for injected in itertools.product(CHOICES, repeat=k_prime):
                    # Where the injected passages rank does not change an isolated vote's count.
                    attacked = kept + list(injected)
                    for tie_key in (str, lambda option: -ord(option)):
                        if tally(attacked, tie_key)[0] != winner:
                            found.append((votes, injected, attacked))
    return found


def test_robustrags_certificate_has_no_counterexample():
    assert counterexamples(lambda votes, n: robustrag.certified(votes, n, "injection")) == []


def test_a_certificate_broken_on_purpose_is_caught():
    # Forgetting that injected passages push the winner's own last votes out of the top k.
    def forgets_pushed_out(votes, corrupted):
        winner, top, runner_up = tally(votes)
        return winner is not None and top - runner_up > corrupted

    # Off by one: a margin equal to k' is not enough (the runner-up can tie, and a tie is not a win).
    def off_by_one(votes, corrupted):
        winner, top, runner_up = tally(votes)
        pushed = sum(v == winner for v in votes[len(votes) - corrupted:])
        return winner is not None and top - runner_up - pushed >= corrupted

    assert counterexamples(forgets_pushed_out)
    assert counterexamples(off_by_one)
