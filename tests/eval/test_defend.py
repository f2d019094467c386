from ragpoison.eval.runner import defend
from ragpoison.poisoning.defenses.base import Candidate
from ragpoison.poisoning.defenses.provenance import ProvenanceFilter
from ragpoison.rag.types import Question

Q = Question("t/1", "q?", {"A": "a", "B": "b"}, "A")


def _candidates(n_poison, n_clean):
    poison = [Candidate(f"p{i}", 1.0, {"text": "x", "source": "web"}) for i in range(n_poison)]
    clean = [Candidate(f"c{i}", 0.5, {"text": "y", "source": "pubmed"}) for i in range(n_clean)]
    return poison + clean


def test_filter_fetches_deeper_until_k_pass():
    passed, seen = defend([ProvenanceFilter()], Q, _candidates(30, 10), fetch_k=8, k=5)
    assert [c.doc_id for c in passed[:5]] == ["c0", "c1", "c2", "c3", "c4"]
    assert len(seen) == 40  # 8, 16, 32 let fewer than 5 through; the whole list does


def test_undefended_reads_plain_top_k_and_short_lists_end():
    passed, seen = defend([], Q, _candidates(3, 10), fetch_k=8, k=5)
    assert [c.doc_id for c in passed] == ["p0", "p1", "p2", "c0", "c1"]
    passed, _ = defend([ProvenanceFilter()], Q, _candidates(6, 2), fetch_k=4, k=5)
    assert [c.doc_id for c in passed] == ["c0", "c1"]
