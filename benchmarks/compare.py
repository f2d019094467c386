"""Compare two pipelines' retrieved ids question by question, telling float-noise ties from real differences."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

TIE_TOLERANCE = 1e-5
"""Scores closer than this are a tie. The same passage embedded in a different batch moves its cosine scores
by about 1e-7 (another padding length changes the float summation order), far below any real score gap."""


def compare_retrievals(ours: Mapping[Hashable, Sequence[str]],
                       reference: Mapping[Hashable, Sequence[tuple[str, float]]], k: int,
                       tolerance: float = TIE_TOLERANCE) -> dict:
    """Compare our top-k ids per key with a reference's ranked (id, score) hits, scored by the reference.

    A key whose top-k ids differ is a tie when each of our ids holds a rank the reference gives the same
    score (within ``tolerance``): the two rankings then differ only in the order of passages that tie.
    Anything else (an id the reference ranks elsewhere, a missing key) is a real difference.
    """
    differing, ties, real = 0, [], []
    for key, ids in ours.items():
        top, hits = list(ids[:k]), reference.get(key)
        theirs = [doc_id for doc_id, _ in hits[:k]] if hits is not None else None
        if theirs == top:
            continue
        differing += 1
        gap = _tie_gap(top, hits, k) if hits is not None else None
        record = {"key": list(key) if isinstance(key, tuple) else key, "ours": top, "reference": theirs,
                  "score_gap": gap}
        (ties if gap is not None and gap <= tolerance else real).append(record)
    return {"compared": len(ours), "differing": differing, "ties": ties, "real": real, "tolerance": tolerance}


def _tie_gap(ids: list[str], hits: Sequence[tuple[str, float]], k: int) -> float | None:
    """The largest score gap between our id at each rank and the reference's id there; None if not comparable."""
    scores = dict(hits)
    if len(ids) != min(k, len(hits)) or any(doc_id not in scores for doc_id in ids):
        return None
    return max(abs(scores[doc_id] - hits[rank][1]) for rank, doc_id in enumerate(ids))
