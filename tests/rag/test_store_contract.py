"""Every registered vector store, in each of its configurations, keeps the same contract.

Poison goes in and out through the store's own add and delete, and afterwards the store is exactly as it was:
same ids in the same order, same search results (ids, scores and order), same stored vectors.
"""

import numpy as np
import pytest
from ragpoison.rag.registry import STORES

DIM = 16
N_CLEAN = 300  # enough for IVF-PQ to train on

# Configurations per store; a store registered later runs with its defaults until it is listed here.
VARIANTS = {
    "faiss": [{"index": "flat"}, {"index": "hnsw"}, {"index": "ivfpq", "pq_m": 8}],
    "chroma": ["embedded", "server"],
    "pgvector": ["private", "dsn"],  # a server of its own; a PostgreSQL server the tests start, by its dsn
}


def _cases():
    return [pytest.param(name, variant, id=f"{name}-{variant if isinstance(variant, str) else variant['index']}")
            for name in STORES.names() for variant in VARIANTS.get(name, [{}])]


@pytest.fixture
def make_store(request, tmp_path):
    def make(name, variant):
        params = variant
        if variant == "embedded":
            params = {"path": str(tmp_path / "chroma")}
        elif variant == "server":
            host, port = request.getfixturevalue("chroma_server")
            params = {"host": host, "port": port}
        elif variant == "private":
            params = {}
        elif variant == "dsn":
            params = {"dsn": request.getfixturevalue("postgres_server")}
        return STORES.create(name, params, dim=DIM)

    return make


def _unit(rng, n):
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize(("name", "variant"), _cases())
def test_inject_then_remove_leaves_the_store_exactly_as_it_was(make_store, name, variant):
    rng = np.random.default_rng(7)
    store = make_store(name, variant)
    clean_ids = [f"c{i}" for i in range(N_CLEAN)]
    clean = _unit(rng, N_CLEAN)
    store.add(clean_ids, clean)
    store.seal()
    sample = clean_ids[::10]
    vectors_before = np.stack([store.vector(i) for i in sample])
    queries = _unit(rng, 6)
    before = store.search(queries, 10)
    assert [len(row) for row in before] == [10] * 6

    # Poison placed right next to each query: it must rank at the top while it is in (top 3: PQ is lossy).
    poison_ids = [f"p{i}" for i in range(6)]
    near = queries + 0.01 * _unit(rng, 6)
    store.add(poison_ids, near / np.linalg.norm(near, axis=1, keepdims=True))
    assert len(store) == N_CLEAN + 6
    poisoned = store.search(queries, 10)
    assert all(pid in [doc_id for doc_id, _ in row[:3]] for pid, row in zip(poison_ids, poisoned, strict=True))
    store.delete(poison_ids)
    assert store.ids() == clean_ids
    assert store.search(queries, 10) == before

    # An in-place edit of clean passages and its undoing (what an insider's edit does), also exact.
    edited = [row[0][0] for row in before[:3]]
    store.delete(edited)
    store.add(edited, _unit(rng, 3))
    assert store.search(queries, 10) != before
    store.delete(edited)
    store.add(edited, clean[[clean_ids.index(i) for i in edited]])
    assert store.ids() == clean_ids
    assert store.search(queries, 10) == before
    assert np.array_equal(np.stack([store.vector(i) for i in sample]), vectors_before)


@pytest.mark.parametrize(("name", "variant"), _cases())
def test_duplicate_and_unknown_ids_are_errors(make_store, name, variant):
    store = make_store(name, variant)
    vectors = _unit(np.random.default_rng(1), 3)
    store.add(["a", "b", "c"], vectors)
    with pytest.raises(ValueError):
        store.add(["a"], vectors[:1])
    with pytest.raises(ValueError):
        store.add(["d", "d"], vectors[:2])
    with pytest.raises(KeyError):
        store.delete(["zzz"])
    assert sorted(store.ids()) == ["a", "b", "c"]
    hits = store.search(vectors[:1], 10)[0]
    assert len(hits) == 3
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)


@pytest.mark.parametrize(("name", "variant"), _cases())
def test_vector_returns_what_was_stored_and_refuses_unknown_ids(make_store, name, variant):
    store = make_store(name, variant)
    vectors = _unit(np.random.default_rng(2), 3)
    store.add(["a", "b", "c"], vectors)
    stored = store.vector("b")
    assert stored.shape == (DIM,)
    assert stored.dtype == np.float32
    if not (isinstance(variant, dict) and variant.get("index") == "ivfpq"):  # PQ keeps a lossy code
        assert stored == pytest.approx(vectors[1], abs=1e-6)
    store.delete(["b"])
    with pytest.raises(KeyError):
        store.vector("b")
    with pytest.raises(KeyError):
        store.vector("zzz")
