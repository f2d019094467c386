import json
import os
import subprocess
import sys

import numpy as np
from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder, bundled_model_path

REVISION = "8b3219a92973c328a8e22fadcfa821b5dc75636a"


def _hub_cache(root):
    """A Hugging Face hub cache laid out as `hf download` leaves it: blobs, a snapshot of links, refs/main."""
    repo = root / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / REVISION
    for file in bundled_model_path().rglob("*"):
        if file.is_file():
            blob = repo / "blobs" / f"{abs(hash(str(file))):x}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(file.read_bytes())
            link = snapshot / file.relative_to(bundled_model_path())
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return root


def test_a_cached_hub_id_loads_offline_and_gives_the_bundled_models_vectors(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("HF_HUB_CACHE", str(_hub_cache(tmp_path / "hub")))
    named = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(
        model="sentence-transformers/all-MiniLM-L6-v2", cache=False, precision="float32"))
    assert named.origin.revision == REVISION and named.model_path.name == REVISION
    assert named.identity.startswith("sentence-transformers--all-MiniLM-L6-v2@")
    texts = ["naloxone reverses opioid overdose", "fomepizole for ethylene glycol poisoning"]
    bundled = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache=False, precision="float32"))
    assert np.array_equal(named.encode(texts), bundled.encode(texts))
    assert named.origin_provenance() == {"hub_id": "sentence-transformers/all-MiniLM-L6-v2", "revision": REVISION}


def test_a_hub_id_in_a_run_is_recorded_and_an_uncached_one_exits_2(tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(_hub_cache(tmp_path / "hub")), "RAGPOISON_CACHE": str(tmp_path / "c")}
    base = [sys.executable, "-m", "ragpoison", "run", "configs/quickstart.yaml", "--no-progress",
            "--set", "attacks=[none]", "--set", "defenses=[none]"]
    done = subprocess.run([*base, "--out", str(tmp_path / "ok"), "--set",
                           "embedder.params.model=sentence-transformers/all-MiniLM-L6-v2"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    recorded = json.loads((tmp_path / "ok" / "manifest.json").read_text())["embedder"]
    assert recorded["hub_id"] == "sentence-transformers/all-MiniLM-L6-v2" and recorded["revision"] == REVISION
    missing = subprocess.run([*base, "--out", str(tmp_path / "no"), "--set",
                              "embedder.params.model=ncbi/MedCPT-Query-Encoder"], env=env, capture_output=True,
                             text=True)
    assert missing.returncode == 2
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and "field 'embedder.params.model'" in lines[0]
    assert "'ncbi/MedCPT-Query-Encoder' is neither a local directory nor in the Hugging Face cache" in lines[0]
    assert "hf download ncbi/MedCPT-Query-Encoder" in lines[0] and not (tmp_path / "no").exists()


def test_generators_take_hub_ids_through_the_same_cache(tmp_path, monkeypatch):
    import pytest
    from ragpoison.rag.errors import InputError
    from ragpoison.rag.generators._model_dir import check_model_dir

    monkeypatch.setenv("HF_HUB_CACHE", str(_hub_cache(tmp_path / "hub")))
    folder = check_model_dir("sentence-transformers/all-MiniLM-L6-v2@main", "generator.params.model")
    assert folder.name == REVISION and (folder / "config.json").is_file()
    assert check_model_dir(str(bundled_model_path()), "generator.params.model") == bundled_model_path().resolve()
    with pytest.raises(InputError, match=r"field 'generator.params.model': model 'meta-llama/Llama-3.1-8B-Instruct' "
                                         r"is neither a local directory nor in the Hugging Face cache"):
        check_model_dir("meta-llama/Llama-3.1-8B-Instruct", "generator.params.model")
