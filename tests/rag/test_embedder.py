import shutil

import numpy as np
import pytest
from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder, bundled_model_path
from ragpoison.rag.errors import InputError


def test_bundled_model_embeds_unit_vectors_and_ranks_by_meaning(embedder):
    vectors = embedder.encode(["naloxone reverses opioid overdose", "opioid overdose antidote naloxone",
                               "levothyroxine for hypothyroidism"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_cache_returns_what_the_model_computed(tmp_path):
    texts = [f"passage number {i} about warfarin reversal" for i in range(5)]
    cached = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache_dir=str(tmp_path)))
    first = cached.encode(texts)
    assert list((tmp_path / "embeddings").glob("*/*.keys.npy"))
    again = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache_dir=str(tmp_path)))
    again._encode_raw = None  # a cache hit must not touch the model
    assert np.array_equal(again.encode(texts), first)
    raw = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache=False)).encode(texts)
    assert np.allclose(raw, first, atol=1e-5)


def test_any_local_model_directory_works(tmp_path):
    local = tmp_path / "my-model"
    shutil.copytree(bundled_model_path(), local)
    model = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(model=str(local), cache=False))
    assert model.dim == 384
    assert model.identity.startswith("my-model@")
    assert model.encode(["heparin"]).shape == (1, 384)


def test_missing_model_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="model directory not found"):
        SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(model=str(tmp_path / "nope")))
