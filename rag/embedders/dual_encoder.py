"""Asymmetric dense encoders: one model for queries, another for passages (MedCPT's Query and Article encoders)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from ragpoison.rag._hub import resolve_model
from ragpoison.rag.cache import default_cache_dir
from ragpoison.rag.embedders._cache import EmbeddingCache, cached_encode, text_key
from ragpoison.rag.embedders._numerics import Numerics, Precision, resolve
from ragpoison.rag.embedders._shapes import shape_key
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.embedders.sentence_transformers import embedding_dimension, encode_with, model_fingerprint
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import EMBEDDERS
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class DualEncoderParams(Params):
    """Parameters of the dual encoder.

    ``pooling``: ``auto`` uses a directory's sentence-transformers configuration when it has one, and CLS
    pooling (as MedRAG loads MedCPT) when it is a plain transformers model; ``cls`` or ``mean`` force one.
    ``normalize: false`` keeps raw vectors, as MedCPT's inner-product search does.
    """

    query_model: str
    document_model: str
    pooling: Literal["auto", "cls", "mean"] = "auto"
    normalize: bool = True
    query_max_length: int = 64
    document_max_length: int = 512
    batch_size: int = 32
    cache: bool = True
    cache_dir: str | None = None
    device: str = "auto"
    precision: Precision = "auto"
    compile: bool = False  # the forward passes compiled by torch.compile, on the CPU (_compiled)


def _model_dir(value: str, field: str) -> Path:
    path = resolve_model(value, field).path
    if not path.is_dir():
        raise InputError("model directory not found", path=path, field=field)
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise InputError("not a transformers or sentence-transformers model directory", path=path, field=field)
    return path.resolve()


@EMBEDDERS.register("dual-encoder")
class DualEncoderEmbedder(Embedder):
    """Separate query and passage encoders from local directories, as MedCPT's Query and Article encoders."""

    Params = DualEncoderParams
    params: DualEncoderParams

    def __init__(self, params: DualEncoderParams) -> None:
        super().__init__(params)
        self.query_path = _model_dir(self.params.query_model, "embedder.params.query_model")
        self.document_path = _model_dir(self.params.document_model, "embedder.params.document_model")
        _ = self.numerics  # a device or precision this machine cannot run is refused before any work

    def _load(self, path: Path, max_length: int) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
        except ImportError:  # sentence-transformers before 6
            from sentence_transformers.models import (  # type: ignore[no-redef]  # the same classes' older home
                Pooling,
                Transformer,
            )

        if self.params.pooling == "auto" and (path / "modules.json").exists():
            model = SentenceTransformer(str(path), device=self.numerics.device)
        else:
            transformer = Transformer(str(path), max_seq_length=max_length)
            mode = "mean" if self.params.pooling == "mean" else "cls"
            # sentence-transformers 6 names the Transformer module's width get_embedding_dimension; before 6 it
            # was get_word_embedding_dimension (pyproject allows >= 3), a name 6's typed module no longer declares.
            width = getattr(transformer, "get_embedding_dimension", None) or getattr(  # noqa: B009 - see above
                transformer, "get_word_embedding_dimension")
            pooling = Pooling(int(width()), pooling_mode=mode)
            model = SentenceTransformer(modules=[transformer, pooling], device=self.numerics.device)
        model.max_seq_length = max_length
        return model

    @cached_property
    def query_encoder(self) -> SentenceTransformer:
        """The loaded query model."""
        return self._load(self.query_path, self.params.query_max_length)

    @cached_property
    def document_encoder(self) -> SentenceTransformer:
        """The loaded passage model."""
        return self._load(self.document_path, self.params.document_max_length)

    @property
    def model(self) -> SentenceTransformer:
        """The passage model (white-box attacks craft passages against it)."""
        return self.document_encoder

    @cached_property
    def numerics(self) -> Numerics:
        """The resolved device and precision (``auto`` settled against this machine's hardware)."""
        return resolve(self.params.device, self.params.precision, compiled=self.params.compile)

    @cached_property
    def identity(self) -> str:
        """Both models' fingerprints and every setting that changes the vectors."""
        p = self.params
        return (f"dual[{self.query_path.name}@{model_fingerprint(self.query_path)}|"
                f"{self.document_path.name}@{model_fingerprint(self.document_path)}|{p.pooling}|"
                f"norm={p.normalize}|{p.query_max_length}|{p.document_max_length}|{self.numerics.key}"
                f"{shape_key(self.numerics, p.batch_size)}]")

    @property
    def source(self) -> str:
        """Both model directories: queries, then documents."""
        return f"{self.query_path} | {self.document_path}"

    @cached_property
    def dim(self) -> int:
        """Embedding dimension (the two models must agree)."""
        dims = [embedding_dimension(self.query_encoder, "embedder.params.query_model"),
                embedding_dimension(self.document_encoder, "embedder.params.document_model")]
        if dims[0] != dims[1]:
            raise InputError(f"query model gives {dims[0]}-dimensional vectors, passage model {dims[1]}",
                             field="embedder.params")
        return dims[0]

    @cached_property
    def _caches(self) -> dict[str, EmbeddingCache] | None:
        if not self.params.cache:
            return None
        directory = Path(self.params.cache_dir) if self.params.cache_dir else default_cache_dir()
        return {side: EmbeddingCache(directory, f"{self.identity}:{side}", self.dim) for side in ("query", "doc")}

    def _encode(self, side: str, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.query_encoder if side == "query" else self.document_encoder

        def raw(batch: list[str]) -> Vectors:
            return encode_with(model, batch, self.params.batch_size, self.numerics, normalize=self.params.normalize)

        return cached_encode(None if self._caches is None else self._caches[side], texts, raw, self.dim)

    def remember(self, texts: list[str], vectors: Vectors) -> None:
        """Store precomputed passage-model vectors in the passage side's embedding cache."""
        if self._caches is None:
            raise InputError("importing vectors needs the embedding cache (embedder.params.cache: true)",
                             field="embedder.params.cache")
        self._caches["doc"].put_many([text_key(t) for t in texts], vectors)

    def encode(self, texts: list[str]) -> Vectors:
        """Embed passages with the passage model."""
        return self._encode("doc", texts)

    def encode_queries(self, texts: list[str]) -> Vectors:
        """Embed queries with the query model."""
        return self._encode("query", texts)
