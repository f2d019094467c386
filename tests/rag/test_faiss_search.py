import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ragpoison.rag.stores.faiss_store import FaissStore

DIM = 8


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["add", "delete"]), st.integers(0, 11)), min_size=1, max_size=40),
       k=st.integers(1, 15), seed=st.integers(0, 10_000))
def test_search_matches_brute_force_after_any_adds_and_deletes(steps, k, seed):
    """Whatever was added, deleted and added back, search names the right ids (k past the size included)."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(12, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store, present = FaissStore(dim=DIM), set()
    for action, i in steps:
        doc_id = f"d{i}"
        if action == "add" and doc_id not in present:
            store.add([doc_id], vectors[i: i + 1])
            present.add(doc_id)
        elif action == "delete" and doc_id in present:
            store.delete([doc_id])
            present.discard(doc_id)
    queries = rng.normal(size=(3, DIM)).astype(np.float32)
    for query, hits in zip(queries, store.search(queries, k), strict=True):
        scores = {d: float(vectors[int(d[1:])] @ query) for d in present}
        assert len(hits) == min(k, len(present))
        assert {d for d, _ in hits} <= present
        for doc_id, score in hits:
            assert abs(score - scores[doc_id]) < 1e-5
        kth = sorted(scores.values(), reverse=True)[len(hits) - 1] if hits else None
        assert all(s >= kth - 1e-5 for _, s in hits)  # the top, not just any, of what is stored
