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
