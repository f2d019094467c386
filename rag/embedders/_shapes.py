"""Reduced precision on the CPU in shapes that do not depend on the batch: a text's vector is a function of the text.

In bfloat16 the CPU's kernels round differently for different shapes: a text padded to the length of the longest
text beside it comes out different by up to about 5e-4 (measured with all-MiniLM-L6-v2 on a CPU with AMX; the
same shapes with other companions give the same bits). A corpus embedded once and poison embedded apart would
then rank differently from a from-scratch index of both. So here every text is padded to its own length bucket
(its token count rounded up to a multiple of ``BUCKET``, at most the model's maximum length) and embedded in a
batch of at most ``rows`` texts of that bucket. Every layer treats the rows of a batch apart (attention stays
within one text), and in eager mode the number of rows does not change a row's bits (measured on CPUs with AMX and
with AVX512-BF16 alone: every bucket from 32 to 208 tokens, 1 to 128 rows, the same bits), so a partial batch runs
with its own rows; with the length fixed by the text alone its vector is the same in any call. A compiled forward
pass (``_compiled``) may specialise on the batch size, so there a partial batch is filled to ``rows`` with copies
of its first text whose outputs are dropped.

float32 keeps sentence-transformers' own loop (there the batch moves scores by about 1e-7), except compiled
(``_compiled``), which always runs in these fixed shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from ragpoison.rag.embedders._numerics import Numerics
    from sentence_transformers import SentenceTransformer

BUCKET = 16  # tokens; lengths are padded up to a multiple of this
ROWS = 16  # texts a batch on the CPU in reduced precision (the fastest measured with MiniLM on a 2-core AMX CPU)
FLOAT32_BATCH = 64  # sentence-transformers' batch for float32 and on a GPU
PROBE_CHUNK = 1024  # texts tokenized at once to learn their lengths


def fixed_shapes(numerics: Numerics) -> bool:
    """Whether this device and precision embed in fixed shapes (reduced precision or compiled, on the CPU)."""
    return numerics.device_type == "cpu" and (numerics.precision != "float32" or numerics.compiled)


def default_batch_size(numerics: Numerics) -> int:
    """``batch_size`` when the config leaves it out: ``ROWS`` in fixed shapes, else ``FLOAT32_BATCH``."""
    return ROWS if fixed_shapes(numerics) else FLOAT32_BATCH


def shape_key(numerics: Numerics, rows: int) -> str:
    """The part of an embedder's identity that the batch shape decides (empty where the batch moves nothing)."""
    return f"|rows{rows}x{BUCKET}" if fixed_shapes(numerics) else ""


def _lengths(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """Each text's token count after the model's own tokenization and truncation."""
    counts = [model.preprocess(texts[start: start + PROBE_CHUNK])["attention_mask"].sum(1).numpy()
              for start in range(0, len(texts), PROBE_CHUNK)]
    return np.concatenate(counts).astype(np.int64)


def _pad(features: dict[str, Any], length: int, pad_id: int, left: bool) -> dict[str, Any]:
    """Every (batch, tokens) tensor padded to ``length`` tokens: input ids with the pad id, the rest with 0."""
    import torch

    padded = {}
    for key, value in features.items():
        if isinstance(value, torch.Tensor) and value.dim() == 2 and value.shape[1] < length:
            extra = length - value.shape[1]
            value = torch.nn.functional.pad(value, (extra, 0) if left else (0, extra),
                                            value=pad_id if key == "input_ids" else 0)
        padded[key] = value
    return padded


def plan(lengths: np.ndarray, rows: int, limit: int) -> list[tuple[int, np.ndarray]]:
    """Batches as (padded length, indices of at most ``rows`` texts), longest bucket first, texts in input order."""
    buckets = np.minimum(-(-np.maximum(lengths, 1) // BUCKET) * BUCKET, max(limit, int(lengths.max(initial=1))))
    batches = []
    for length in sorted(set(buckets.tolist()), reverse=True):
        members = np.flatnonzero(buckets == length)
        batches += [(int(length), members[start: start + rows]) for start in range(0, len(members), rows)]
    return batches


def encode_fixed(model: SentenceTransformer, texts: list[str], rows: int, numerics: Numerics,
                 normalize: bool = True) -> Vectors:
    """Embed texts in batches of ``rows`` texts of one length bucket each; float32 rows (unit rows if ``normalize``)."""
    import torch
    from ragpoison.rag.embedders._compiled import forward_of
    from ragpoison.rag.embedders.sentence_transformers import embedding_dimension

    tokenizer = model.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    left = getattr(tokenizer, "padding_side", "right") == "left"
    limit = int(model.max_seq_length or tokenizer.model_max_length)
    vectors = np.empty((len(texts), embedding_dimension(model)), dtype=np.float32)
    model.eval()
    forward = forward_of(model, numerics)
    with torch.inference_mode(), numerics.autocast():
        for length, members in plan(_lengths(model, texts), rows, limit):
            batch = [texts[i] for i in members]
            if numerics.compiled:  # one batch size for the compiled graph; eager kernels need no filler rows
                batch += [batch[0]] * (rows - len(batch))
            features = _pad(model.preprocess(batch), length, pad_id, left)
            embedded = forward(features)["sentence_embedding"][: len(members)].float()
            if normalize:
                embedded = torch.nn.functional.normalize(embedded, p=2, dim=1)
            vectors[members] = embedded.numpy()
    return vectors
