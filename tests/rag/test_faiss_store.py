import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragpoison.rag.stores.faiss_store import FaissStore


def _unit(rng, n, dim=8):
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_is_exact_inner_product():
    rng = np.random.default_rng(0)
    store = FaissStore(dim=8)
    vectors = _unit(rng, 20)
    store.add([f"d{i}" for i in range(20)], vectors)
    query = _unit(rng, 1)
    hits = store.search(query, 5)[0]
    expected = np.argsort(-(vectors @ query[0]))[:5]
    assert [h[0] for h in hits] == [f"d{i}" for i in expected]
    assert hits[0][1] == pytest.approx(float(vectors[expected[0]] @ query[0]), abs=1e-5)


def test_duplicate_and_unknown_ids_are_errors():
    store = FaissStore(dim=8)
    store.add(["a"], _unit(np.random.default_rng(1), 1))
    with pytest.raises(ValueError):
        store.add(["a"], _unit(np.random.default_rng(2), 1))
    with pytest.raises(KeyError):
        store.delete(["zzz"])


@settings(max_examples=40, deadline=None)
@given(n_clean=st.integers(1, 30), n_poison=st.integers(0, 15), seed=st.integers(0, 10_000))
def test_inject_then_remove_restores_store(n_clean, n_poison, seed):
    rng = np.random.default_rng(seed)
    store = FaissStore(dim=8)
    clean_ids = [f"c{i}" for i in range(n_clean)]
    clean = _unit(rng, n_clean)
    store.add(clean_ids, clean)
    queries = _unit(rng, 4)
    before = store.search(queries, 10)
    poison_ids = [f"p{i}" for i in range(n_poison)]
    store.add(poison_ids, _unit(rng, n_poison))
    assert len(store) == n_clean + n_poison
    store.delete(poison_ids)
    assert store.ids() == clean_ids
    assert np.array_equal(np.stack([store.vector(i) for i in clean_ids]), clean)
    assert store.search(queries, 10) == before
