import os
import subprocess
import sys

import numpy as np
import pytest
from ragpoison.rag.embedders._numerics import (
    CPU_BF16_FLAGS,
    accelerates_bfloat16,
    cpu_flags,
    has_cxx_compiler,
    resolve_precision,
)
from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder
from ragpoison.rag.errors import InputError


def test_auto_precision_follows_the_hardware_and_refuses_what_it_cannot_run():
    assert resolve_precision("auto", "cpu", bf16=True) == "bfloat16"
    assert resolve_precision("auto", "cpu", bf16=False) == "float32"
    assert resolve_precision("float32", "cuda", bf16=True) == "float32"
    assert resolve_precision("bfloat16", "cpu", bf16=False) == "bfloat16"  # emulated, slower, but it runs
    with pytest.raises(InputError, match=r"field 'embedder.params.precision': bfloat16 asked for on cuda, which has "
                                         r"no bfloat16 support"):
        resolve_precision("bfloat16", "cuda", bf16=False)
    with pytest.raises(InputError, match="float16 needs a CUDA device"):
        resolve_precision("float16", "cpu", bf16=True)
    assert accelerates_bfloat16("cpu") == any(flag in cpu_flags() for flag in CPU_BF16_FLAGS)


def test_identity_and_cache_key_on_the_precision_and_device_actually_used(tmp_path):
    embedder = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(cache_dir=str(tmp_path)))
    numerics = embedder.numerics
    expected = "bfloat16" if accelerates_bfloat16(numerics.device_type) else "float32"
    shapes = "|rows16x16" if expected == "bfloat16" and numerics.device_type == "cpu" else ""
    assert numerics.precision == expected
    assert embedder.identity.endswith(f"|{expected}@{numerics.device_type}{shapes}")
    explicit = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="float32",
                                                                               cache_dir=str(tmp_path)))
    assert explicit.identity.endswith("|float32@" + numerics.device_type)
    explicit.encode(["warfarin reversal with vitamin K"])
    assert (tmp_path / "embeddings" / explicit._cache.model).is_dir()
    if expected == "bfloat16":  # two precisions, two cache folders: their vectors never mix
        assert embedder._cache.model != explicit._cache.model


def test_bfloat16_vectors_agree_with_float32():
    texts = ["naloxone reverses opioid overdose", "fomepizole treats methanol poisoning",
             "levothyroxine for hypothyroidism", "atropine for organophosphate poisoning"]
    low = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="bfloat16", cache=False))
    full = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="float32", cache=False))
    a, b = low.encode(texts), full.encode(texts)
    assert a.dtype == np.float32 and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.999
    assert low.identity != full.identity


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize(("setting", "message"), [
    ("embedder.params.precision=float16", "field 'embedder.params.precision': float16 needs a CUDA device"),
    ("embedder.params.precision=half", "embedder.params.precision"),
    pytest.param("embedder.params.device=cuda", "field 'embedder.params.device': device 'cuda' asked for, but torch "
                 "sees no CUDA GPU", marks=pytest.mark.skipif(_has_cuda(), reason="a GPU is here")),
])
def test_a_precision_the_machine_cannot_run_exits_2_with_one_line(tmp_path, setting, message):
    done = subprocess.run([sys.executable, "-m", "ragpoison", "run", "configs/quickstart.yaml", "--out",
                           str(tmp_path / "out"), "--no-progress", "--set", setting], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_tokenizing_ahead_in_threads_gives_the_vectors_sentence_transformers_gives(embedder):
    from ragpoison.rag.embedders._numerics import Numerics
    from ragpoison.rag.embedders._pipeline import encode_pipelined

    texts = [f"{word} is used for {use}" for word, use in [("naloxone", "opioid overdose"), ("atropine", "bradycardia"),
                                                          ("fomepizole", "methanol poisoning and ethylene glycol"),
                                                          ("glucagon", "beta-blocker overdose"), ("heparin", "PE")]]
    piped = encode_pipelined(embedder.model, texts, batch_size=2, numerics=Numerics("cpu", "float32"), threads=2)
    direct = embedder.model.encode(texts, batch_size=2, normalize_embeddings=True, convert_to_numpy=True)
    assert piped.shape == (5, 384) and np.allclose(piped, direct, atol=1e-6)


def test_a_bfloat16_vector_on_the_cpu_does_not_depend_on_its_batch():
    """Fixed shapes: the same text gives the same bits alone, beside others, in any order, in another call."""
    from ragpoison.rag.embedders._shapes import BUCKET, plan

    texts = ["naloxone reverses opioid overdose", "fomepizole treats methanol and ethylene glycol poisoning",
             "levothyroxine replaces thyroid hormone in hypothyroidism", "atropine for organophosphate poisoning",
             "vitamin K and four-factor prothrombin complex concentrate reverse warfarin in major bleeding; "
             "fresh frozen plasma is the alternative where concentrate is unavailable", "insulin",
             *[f"patient {i} received {i} mg of a drug" for i in range(20)]]
    low = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="bfloat16", cache=False))
    together = low.encode(texts)
    apart = np.concatenate([low.encode(texts[:1]), low.encode(texts[1:5]), low.encode(texts[5:])])
    reversed_ = low.encode(texts[::-1])[::-1]
    assert np.array_equal(together, apart) and np.array_equal(together, reversed_)
    lengths = np.array([3, 17, 16, 40, 1, 256, 250])
    batches = plan(lengths, rows=2, limit=256)
    assert sorted(i for _, members in batches for i in members) == list(range(7))
    for length, members in batches:  # each text padded to its own bucket, never beside a longer one
        assert len(members) <= 2 and all(-(-max(lengths[i], 1) // BUCKET) * BUCKET == length for i in members)


@pytest.mark.skipif(not has_cxx_compiler(), reason="no C++ compiler for inductor")
def test_a_compiled_model_gives_vectors_that_depend_on_the_text_alone_and_leaves_the_model_as_loaded():
    """compile: true runs the forward pass through torch.compile in fixed shapes; a separate identity and cache."""
    texts = ["naloxone reverses opioid overdose", "fomepizole treats methanol and ethylene glycol poisoning",
             "vitamin K and four-factor prothrombin complex concentrate reverse warfarin in major bleeding",
             *[f"patient {i} received {i} mg of a drug" for i in range(18)]]
    compiled = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="bfloat16", compile=True,
                                                                               cache=False))
    eager = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="bfloat16", cache=False))
    full = SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="float32", cache=False))
    assert compiled.identity.endswith("|bfloat16@cpu+compiled|rows16x16") and compiled.identity != eager.identity
    names = [name for name, _ in compiled.model.named_modules()]
    together = compiled.encode(texts)
    apart = np.concatenate([compiled.encode(texts[:1]), compiled.encode(texts[1:3]), compiled.encode(texts[3:])])
    assert np.array_equal(together, apart) and np.array_equal(together, compiled.encode(texts[::-1])[::-1])
    assert (together * full.encode(texts)).sum(axis=1).min() > 0.999
    assert [name for name, _ in compiled.model.named_modules()] == names  # the compiled pass is kept beside it
    assert all(p.requires_grad for p in compiled.model.parameters())  # white-box attacks still take gradients


def test_compile_is_refused_where_it_cannot_run(monkeypatch):
    from ragpoison.rag.embedders import _numerics

    with pytest.raises(InputError, match=r"field 'embedder.params.compile': compile is supported on the CPU only"):
        _numerics.check_compile("cuda:0")
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(_numerics.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match=r"field 'embedder.params.compile': compile: true needs a C\+\+ compiler"):
        _numerics.resolve("cpu", "auto", compiled=True)
    assert _numerics.resolve("cpu", "auto").compiled is False  # not asked for: no compiler needed


def test_compile_without_a_cxx_compiler_exits_2_with_one_line(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "CXX"}
    env["PATH"] = str(tmp_path)  # no g++ or clang++ to be found
    done = subprocess.run([sys.executable, "-m", "ragpoison", "run", "configs/quickstart.yaml", "--out",
                           str(tmp_path / "out"), "--no-progress", "--set", "embedder.params.compile=true"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "field 'embedder.params.compile': compile: true needs a C++ compiler" in lines[0]
    assert not (tmp_path / "out").exists()
