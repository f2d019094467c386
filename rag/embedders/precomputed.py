"""Import passage vectors computed elsewhere, as MedRAG ships them: one ``.npy`` per corpus chunk file.

MedRAG lays a corpus out as ``chunk/NAME.jsonl`` and its vectors as ``index/RETRIEVER/embedding/NAME.npy``,
row i of the array belonging to line i of the chunk file, embedded from the passage's ``contents`` (title,
'. ', content): the text ragpoison indexes. The vectors go into the embedding cache under the configured
embedder's identity, so a run embeds nothing the import covered. Before anything is written, every file's
shape is checked against its chunk file and the embedder's width, and a seeded sample of passages is embedded
with the configured model: vectors another model made (or made from other text) fail that check.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import corpus_files, iter_corpus_lines, parse_medrag_passage
from ragpoison.rag.retrievers.base import passage_text

MIN_COSINE = 0.99  # float32 against bfloat16 vectors of one model agree to about 0.9999; another model, far lower
BATCH = 100_000


@dataclass(frozen=True)
class ImportReport:
    """What an import stored and how well the sample agreed with the configured model."""

    files: int
    passages: int
    checked: int
    min_cosine: float


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


def import_embeddings(corpus: str | Path, embeddings: str | Path, embedder: Embedder, *, normalize: bool = True,
                      sample: int = 16, seed: int = 0) -> ImportReport:
    """Check every ``EMBEDDINGS/<chunk stem>.npy`` against the corpus and the model, then cache the vectors."""
    folder = Path(embeddings)
    if not folder.is_dir():
        raise InputError("embeddings folder not found", path=folder)
    pairs: list[tuple[Path, Path, list[str]]] = []
    for chunk in corpus_files(corpus):
        npy = folder / f"{chunk.stem}.npy"
        if not npy.is_file():
            raise InputError(f"no embeddings for corpus file {chunk.name} (expected {npy.name} here)", path=npy)
        texts = [passage_text(line.passage) for line in iter_corpus_lines([chunk], parse_medrag_passage)]
        try:
            shape = np.load(npy, mmap_mode="r").shape
        except ValueError as exc:
            raise InputError(f"not a NumPy array file ({exc})", path=npy) from None
        if shape != (len(texts), embedder.dim):
            raise InputError(f"array of shape {shape}, expected ({len(texts)}, {embedder.dim}): one row per "
                             f"passage of {chunk.name}, {embedder.dim} wide for {embedder.identity}", path=npy)
        pairs.append((chunk, npy, texts))
    rng = random.Random(seed)
    everywhere = [(i, row) for i, (_, _, texts) in enumerate(pairs) for row in range(len(texts))]
    chosen = sorted(rng.sample(everywhere, min(sample, len(everywhere))))
    own = embedder.encode([pairs[i][2][row] for i, row in chosen])
    worst, worst_file = 1.0, pairs[0][1] if pairs else folder
    for (i, row), mine in zip(chosen, own, strict=True):
        theirs = _unit(np.load(pairs[i][1], mmap_mode="r")[row: row + 1])[0]
        cosine = float(theirs @ _unit(mine[None])[0])
        if cosine < worst:
            worst, worst_file = cosine, pairs[i][1]
    if worst < MIN_COSINE:
        raise InputError(f"these vectors were not made by {embedder.identity} from the passages' text: cosine "
                         f"{worst:.3f} to the model's own vector of a sampled passage (at least {MIN_COSINE} "
                         "needed)", path=worst_file)
    for _, npy, texts in pairs:
        array = np.load(npy, mmap_mode="r")
        for start in range(0, len(texts), BATCH):
            rows = np.asarray(array[start: start + BATCH], dtype=np.float32)
            embedder.remember(texts[start: start + BATCH], _unit(rows) if normalize else rows)
    return ImportReport(len(pairs), sum(len(t) for _, _, t in pairs), len(chosen), worst)
