"""The floor of a sweep: its unavoidable parts, each timed alone with the bare libraries."""

from __future__ import annotations

from collections.abc import Sequence

from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.stack import Inputs
from ragpoison.eval.trial import Trial
from ragpoison.poisoning.attacks.base import Poison

from benchmarks.timing import Stopwatch


def measure_floor(config: ExperimentConfig, inputs: Inputs, poisons: Sequence[Poison],
                  trials: list[Trial]) -> Stopwatch:
    """Wall and CPU seconds of each unavoidable part of the sweep that produced ``trials``.

    The parts: loading the model, embedding the clean corpus once, embedding each distinct poisoned passage
    and each question once, raw FAISS searches (poison added to a flat index, searched as deep as the sweep searches,
    removed), and the reader (fitting its term weights, then answering every cell's contexts, each distinct
    context sentence and option embedded once for its semantic support). Crafting the poison text is left out
    (``poisons`` are the sweep's own, crafted beforehand), so the floor is, if anything, low. The model runs in
    the precision the sweep's embedder resolves to.
    """
    import faiss
    import numpy as np
    from ragpoison.rag.embedders._numerics import resolve
    from ragpoison.rag.embedders.sentence_transformers import bundled_model_path, encode_with
    from ragpoison.rag.generators.base import ReaderInput
    from ragpoison.rag.generators.extractive import ExtractiveReader
    from ragpoison.rag.retrievers.base import passage_text
    from sentence_transformers import SentenceTransformer

    parts = Stopwatch()
    model = parts.time("model_load", lambda: SentenceTransformer(str(bundled_model_path()), device="cpu"))

    numerics = resolve("cpu", config.embedder.params.get("precision", "auto"))  # the sweep's own precision

    def encode(texts: list[str]) -> np.ndarray:
        return encode_with(model, texts, None, numerics)

    vectors = parts.time("corpus_embedding", lambda: encode([passage_text(p) for p in inputs.corpus.values()]))
    # Each distinct poisoned passage once: the amounts share their first passages (N=6 holds N=5's).
    unique = {d: passage_text(p) for poison in poisons for d, p in poison.passages.items()}
    poison_texts = list(unique.values())
    row_of = {d: i for i, d in enumerate(unique)}
    questions = [q.question for q in inputs.questions.values()]
    poison_vectors, query_vectors = parts.time("poison_and_query_embedding",
                                               lambda: (encode(poison_texts), encode(questions)))

    def search() -> None:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        clean = index.ntotal
        for poison in poisons:
            n = len(poison.passages)
            index.add(poison_vectors[[row_of[d] for d in poison.passages]])
            index.search(query_vectors, max(config.fetch_k, config.k) + n)
            index.remove_ids(faiss.IDSelectorRange(clean, clean + n))

    parts.time("faiss_search", search)

    class Memo:
        """The bare model for the reader's semantic support, each distinct text embedded once."""

        def __init__(self) -> None:
            self.vectors: dict[str, np.ndarray] = {}

        def encode(self, texts: list[str]) -> np.ndarray:
            missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
            if missing:
                self.vectors.update(zip(missing, encode(missing), strict=True))
            return np.stack([self.vectors[t] for t in texts])

    reader = ExtractiveReader()
    reader.use_embedder(Memo())
    parts.time("reader_fit", lambda: reader.fit(inputs.corpus))
    passages = {**inputs.corpus, **{d: p for poison in poisons for d, p in poison.passages.items()}}
    batches: dict[str, list[ReaderInput]] = {}
    for trial in trials:
        batches.setdefault(trial.cell_id, []).append(
            ReaderInput(inputs.questions[trial.qid], tuple(passages[d] for d in trial.context_ids)))
    parts.time("reader_answers", lambda: [reader.answer(b) for b in batches.values()])
    return parts
