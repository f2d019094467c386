import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test run embeds into its own cache, so a stale cache can never hide a bug."""
    cache = tmp_path_factory.mktemp("embedding-cache")
    old = os.environ.get("RAGPOISON_CACHE")
    os.environ["RAGPOISON_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("RAGPOISON_CACHE", None)
    else:
        os.environ["RAGPOISON_CACHE"] = old


@pytest.fixture(scope="session")
def embedder():
    from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder

    return SentenceTransformersEmbedder()


@pytest.fixture(scope="session")
def embedder32():
    """The bundled embedder pinned to float32: for tests that compare vectors made in different batches or by
    another code path, which agree to float32 rounding only (``precision: auto`` is bfloat16 on CPUs with AMX)."""
    from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder

    return SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(precision="float32"))


@pytest.fixture
def tiny(tmp_path) -> dict[str, Path]:
    from tests.builders import write_dataset

    return write_dataset(tmp_path / "tiny")



@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A Llama-shaped model with random weights, a chat template and a tokenizer trained on the bundled corpus."""
    from benchmarks.random_llama import build_random_llama

    return build_random_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="module")
def single_torch_thread():
    """Tiny models run fastest on one thread; two threads contending for shared cores run them 50x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """One real `chroma run` server on loopback per test module."""
    from tests.chroma_server import chroma_server as start

    with start(tmp_path_factory.mktemp("chroma-server") / "db") as address:
        yield address


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """One real PostgreSQL server with pgvector (the pgserver package's), on a Unix socket; yields its URI."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
