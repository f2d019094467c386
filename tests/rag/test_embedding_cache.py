import numpy as np
from ragpoison.rag.embedders._cache import EmbeddingCache, text_key


def test_vectors_are_keyed_by_model_identity_and_text(tmp_path):
    keys = [text_key("Naloxone reverses opioid overdose."), text_key("Fomepizole treats methanol poisoning.")]
    vectors = np.eye(2, 4, dtype=np.float32)
    first = EmbeddingCache(tmp_path, "all-MiniLM-L6-v2@aaaa", dim=4)
    first.put_many(keys, vectors)
    first.close()
    # another process (a new connection) with the same model sees them, bit for bit
    again = EmbeddingCache(tmp_path, "all-MiniLM-L6-v2@aaaa", dim=4)
    found = again.get_many([*keys, text_key("not embedded yet")])
    assert set(found) == set(keys)
    assert all(np.array_equal(found[k], v) for k, v in zip(keys, vectors, strict=True))
    # other weights under the same name share nothing
    assert EmbeddingCache(tmp_path, "all-MiniLM-L6-v2@bbbb", dim=4).get_many(keys) == {}
    assert text_key("Naloxone reverses opioid overdose. ") != keys[0]


def test_many_small_writes_are_merged_and_every_vector_survives(tmp_path, monkeypatch):
    from ragpoison.rag.embedders import _cache

    cache = EmbeddingCache(tmp_path, "m@1|float32@cpu", dim=3)
    rng = np.random.default_rng(0)
    written = {}
    for batch in range(3 * _cache.MAX_SHARDS):
        keys = [text_key(f"text {batch} {i}") for i in range(batch % 4 + 1)]
        vectors = rng.standard_normal((len(keys), 3), dtype=np.float32)
        cache.put_many(keys, vectors)
        written.update(zip(keys, vectors, strict=True))
    shards = list(cache.path.glob("*.keys.npy"))
    assert len(shards) <= _cache.MAX_SHARDS
    found = EmbeddingCache(tmp_path, "m@1|float32@cpu", dim=3).get_many(list(written))
    assert set(found) == set(written) and all(np.array_equal(found[k], v) for k, v in written.items())


def test_a_shard_cut_off_before_its_keys_were_written_is_not_read(tmp_path):
    cache = EmbeddingCache(tmp_path, "m@1|float32@cpu", dim=2)
    kept, cut = [text_key("kept")], [text_key("cut off")]
    cache.put_many(kept, np.ones((1, 2), dtype=np.float32))
    cache.put_many(cut, np.zeros((1, 2), dtype=np.float32))
    # a writer killed between its two renames leaves vectors without keys (and perhaps a temporary file)
    newest = max(cache.path.glob("*.keys.npy"), key=lambda p: p.stat().st_mtime_ns)
    newest.unlink()
    (cache.path / ".x.keys.npy.1234.tmp").write_bytes(b"half a file")
    found = EmbeddingCache(tmp_path, "m@1|float32@cpu", dim=2).get_many(kept + cut)
    assert list(found) == kept
