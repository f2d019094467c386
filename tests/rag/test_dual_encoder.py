"""Asymmetric dense encoders: queries through one local model, passages through another (as MedCPT)."""

import shutil

import numpy as np
import pytest
from ragpoison.rag.embedders.sentence_transformers import bundled_model_path
from ragpoison.rag.errors import InputError
from ragpoison.rag.registry import EMBEDDERS, STORES
from ragpoison.rag.retrievers.dense import DenseRetriever

from tests.builders import PASSAGES

CORPUS = {i: {"title": t, "text": c, "source": s} for i, t, c, s in PASSAGES}


@pytest.fixture(scope="module")
def plain_transformer(tmp_path_factory):
    """The MiniLM weights as a plain transformers directory (no sentence-transformers config), like MedCPT's."""
    folder = tmp_path_factory.mktemp("plain") / "article-encoder"
    shutil.copytree(bundled_model_path(), folder)
    for name in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "1_Pooling")
    return folder


def test_queries_and_passages_go_through_their_own_models(plain_transformer, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    dual = EMBEDDERS.create("dual-encoder", {"query_model": str(bundled_model_path()),
                                             "document_model": str(plain_transformer),
                                             "cache_dir": str(tmp_path), "precision": "float32"})
    texts = ["Naloxone reverses opioid overdose.", "Fomepizole treats methanol poisoning."]
    queries = dual.encode_queries(texts)
    expected_q = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert np.allclose(queries, expected_q, atol=1e-5)

    tokenizer = AutoTokenizer.from_pretrained(str(plain_transformer))
    model = AutoModel.from_pretrained(str(plain_transformer)).eval()
    with torch.no_grad():
        cls = model(**tokenizer(texts, padding=True, truncation=True, return_tensors="pt")).last_hidden_state[:, 0]
    cls = torch.nn.functional.normalize(cls, dim=-1).numpy()
    passages = dual.encode(texts)
    assert np.allclose(passages, cls, atol=1e-5)
    assert not np.allclose(passages, queries, atol=1e-2)
    assert np.allclose(dual.encode(texts), passages)  # the cached vectors are the computed ones
    assert dual.dim == 384 and "article-encoder" in dual.identity


def test_dense_retrieval_embeds_passages_and_queries_with_different_models(plain_transformer, tmp_path):
    dual = EMBEDDERS.create("dual-encoder", {"query_model": str(bundled_model_path()),
                                             "document_model": str(plain_transformer), "pooling": "mean",
                                             "cache_dir": str(tmp_path)})
    retriever = DenseRetriever(embedder=dual, store=STORES.create("faiss", {}, dim=dual.dim))
    retriever.index(CORPUS)
    run = retriever.retrieve({"q": "Which antidote treats methanol poisoning?"}, 3)["q"]
    query_vector = dual.encode_queries(["Which antidote treats methanol poisoning?"])[0]
    passage_vectors = dual.encode([f"{p['title']}. {p['text']}" for p in CORPUS.values()])
    best = [list(CORPUS)[i] for i in np.argsort(-(passage_vectors @ query_vector))[:3]]
    assert list(run) == best
    assert next(iter(run)) == "tox_6"


def test_missing_model_directory_names_the_key(tmp_path):
    with pytest.raises(InputError, match="embedder.params.document_model"):
        EMBEDDERS.create("dual-encoder", {"query_model": str(bundled_model_path()),
                                          "document_model": str(tmp_path / "none")})
    with pytest.raises(InputError, match="embedder.dual-encoder.params.query_model"):
        EMBEDDERS.create("dual-encoder", {"document_model": str(bundled_model_path())})
