"""Embedding with tokenization in worker threads, ahead of the model: the GPU, not one CPU thread, sets the pace.

sentence-transformers tokenizes each batch on the calling thread and only then runs the model, so on a GPU the
device waits for the tokenizer (measured on an H200: about 31% busy). Here a pool of threads tokenizes the next
batches (the fast tokenizers release the GIL) while the model works on the current one. Batches are the ones
``SentenceTransformer.encode`` would form (texts sorted by length, longest first), so the vectors are the same.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from ragpoison.rag.types import Vectors

if TYPE_CHECKING:
    from ragpoison.rag.embedders._numerics import Numerics
    from sentence_transformers import SentenceTransformer


def tokenizer_threads() -> int:
    """Threads that tokenize ahead of the model: up to four, one core left for the loop that feeds the device."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def encode_pipelined(model: SentenceTransformer, texts: list[str], batch_size: int, numerics: Numerics,
                     normalize: bool = True, threads: int | None = None) -> Vectors:
    """Embed texts batch by batch on the model's device while worker threads tokenize the batches ahead."""
    import torch
    from sentence_transformers.util import batch_to_device

    order = np.argsort([-len(text) for text in texts], kind="stable")
    batches = [[texts[i] for i in order[start: start + batch_size]] for start in range(0, len(texts), batch_size)]
    vectors = np.empty((len(texts), 0), dtype=np.float32)
    workers = threads or tokenizer_threads()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tokenize") as pool:
        ahead: deque[Future[dict[str, Any]]] = deque()
        upcoming = iter(batches)
        for batch in upcoming:
            ahead.append(pool.submit(model.preprocess, batch))
            if len(ahead) > 2 * workers:
                break
        start = 0
        model.eval()
        with torch.inference_mode(), numerics.autocast():
            while ahead:
                features = ahead.popleft().result()
                following = next(upcoming, None)
                if following is not None:
                    ahead.append(pool.submit(model.preprocess, following))
                features = batch_to_device(features, model.device)
                embedded = model(features)["sentence_embedding"].float()
                if normalize:
                    embedded = torch.nn.functional.normalize(embedded, p=2, dim=1)
                rows = embedded.cpu().numpy()
                if vectors.shape[1] == 0:
                    vectors = np.empty((len(texts), rows.shape[1]), dtype=np.float32)
                vectors[order[start: start + len(rows)]] = rows
                start += len(rows)
    return np.ascontiguousarray(vectors)
