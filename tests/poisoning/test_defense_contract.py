"""Contract tests run over every registered defense."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poisoning.defenses.base import Candidate, apply_chain
from rag.registry import DEFENSES
from rag.types import Question

ALL_DEFENSES = DEFENSES.names()
Q = Question("t/1", "What is the antidote for acetaminophen overdose?",
             {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole"}, "B")
SOURCES = ["pubmed", "statpearls", "textbook", "guideline", "web", "wikipedia", "unknown"]


@st.composite
def candidate_lists(draw):
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        poison = draw(st.booleans())
        source = draw(st.sampled_from(SOURCES))
        text = Q.question + " The answer is Flumazenil." if poison else f"Background passage {i} on toxicology."
        out.append((Candidate(f"{'p' if poison else 'c'}{i}", 1.0 - i / 20, {"title": "", "text": text,
                                                                              "source": source}), poison))
    return out


@pytest.mark.parametrize("name", ALL_DEFENSES)
@settings(max_examples=50, deadline=None)
@given(items=candidate_lists())
def test_a_filter_never_adds_poison_and_keeps_order(name, items):
    defense = DEFENSES.create(name)
    candidates = [c for c, _ in items]
    verdicts = defense.verdicts(Q, candidates)
    assert len(verdicts) == len(candidates)
    kept = apply_chain([defense], Q, candidates)
    poison = {c.doc_id for c, is_poison in items if is_poison}
    assert sum(c.doc_id in poison for c in kept) <= len(poison)
    assert [c.doc_id for c in kept] == [c.doc_id for c in candidates if c in kept]


def test_provenance_keeps_only_trusted_sources():
    defense = DEFENSES.create("provenance")
    cands = [Candidate(s, 1.0, {"text": "x", "source": s}) for s in SOURCES + ["PubMed", "textbooks"]]
    kept = {c.doc_id for c in apply_chain([defense], Q, cands)}
    assert kept == {"pubmed", "statpearls", "textbook", "guideline", "PubMed", "textbooks"}
    custom = DEFENSES.create("provenance", {"trusted_sources": ["wikipedia"]})
    assert [c.doc_id for c in apply_chain([custom], Q, cands)] == ["wikipedia"]
