import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from ragpoison.corpora import bundled
from ragpoison.rag.embedders._cache import text_key
from ragpoison.rag.embedders.precomputed import import_embeddings
from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.retrievers.base import passage_text


@pytest.fixture
def medrag(tmp_path, embedder32):
    """A MedRAG-laid-out corpus of two chunk files and the model's own vectors for it, one .npy per file."""
    lines = (bundled()["corpus"] / "clinical_mini.jsonl").read_text().splitlines()[:24]
    chunk, vectors = tmp_path / "corpus" / "chunk", tmp_path / "embedding"
    chunk.mkdir(parents=True)
    vectors.mkdir()
    for name, part in (("first", lines[:14]), ("second", lines[14:])):
        (chunk / f"{name}.jsonl").write_text("\n".join(part) + "\n")
        texts = [passage_text({"title": (r := json.loads(line))["title"], "text": r["content"]}) for line in part]
        # float32, as import-embeddings checks them by default
        np.save(vectors / f"{name}.npy", embedder32.encode(texts) * 3.0)  # MedRAG's vectors need not be unit
    return tmp_path


def test_imported_vectors_are_what_a_run_reads_and_nothing_is_embedded_again(medrag):
    cache = medrag / "cache"
    done = subprocess.run([sys.executable, "-m", "ragpoison", "import-embeddings", "configs/quickstart.yaml",
                           str(medrag / "embedding"), "--corpus", str(medrag / "corpus"),
                           "--questions", str(bundled()["questions"])],
                          env={**os.environ, "RAGPOISON_CACHE": str(cache)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "imported 24 passage vectors from 2 file(s)" in done.stdout
    reader = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache_dir=str(cache),
                                                                             precision="float32"))
    reader._encode_raw = None  # every passage must come from the import
    lines = [json.loads(line) for f in sorted((medrag / "corpus/chunk").glob("*.jsonl"))
             for line in f.read_text().splitlines()]
    texts = [passage_text({"title": r["title"], "text": r["content"]}) for r in lines]
    got = reader.encode(texts)
    expected = np.concatenate([np.load(medrag / "embedding/first.npy"), np.load(medrag / "embedding/second.npy")])
    assert np.allclose(got, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)


def test_arrays_that_do_not_fit_the_corpus_or_the_model_are_refused_before_anything_is_stored(medrag, tmp_path):
    embedder = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache_dir=str(tmp_path / "c"),
                                                                               precision="float32"))
    second = medrag / "embedding/second.npy"
    good = np.load(second)
    np.save(second, good[:-1])
    with pytest.raises(InputError, match=r"second.npy: array of shape \(9, 384\), expected \(10, 384\)"):
        import_embeddings(medrag / "corpus", medrag / "embedding", embedder)
    np.save(second, np.random.default_rng(0).standard_normal(good.shape).astype(np.float32))
    made_by = re.escape(embedder.identity)
    with pytest.raises(InputError, match=rf"second.npy: these vectors were not made by {made_by} from"):
        import_embeddings(medrag / "corpus", medrag / "embedding", embedder)
    second.unlink()
    with pytest.raises(InputError, match=r"second.npy: no embeddings for corpus file second.jsonl"):
        import_embeddings(medrag / "corpus", medrag / "embedding", embedder)
    # nothing half-imported: what the cache holds is only the model's own vectors of the passages it sampled
    texts = [passage_text({"title": (r := json.loads(line))["title"], "text": r["content"]})
             for line in (medrag / "corpus/chunk/second.jsonl").read_text().splitlines()]
    found, held = embedder._cache.lookup([text_key(t) for t in texts])
    assert found.sum() < len(texts)
    assert np.allclose(held[found], good[found] / 3.0, atol=1e-5)
