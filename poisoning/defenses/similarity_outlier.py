"""Question-similarity outliers: passages anomalously close to the question in embedding space.

PoisonedRAG's passages begin with the question itself (S = Q), so they sit closer to it than a clean
passage normally does.
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt
from pydantic import Field
from ragpoison.poisoning.defenses._embedding import Embedded
from ragpoison.poisoning.defenses.base import Candidate, Defense, DefenseContext
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._text import sentences
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.retrievers.base import passage_text
from ragpoison.rag.types import Question


class SimilarityOutlierParams(Params):
    """Parameters of the similarity-outlier filter."""

    fpr: float = Field(0.05, gt=0, lt=1, description="rate at which the best clean match is dropped")
    calibration_size: int = Field(2000, ge=10, description="clean passages sampled for calibration")
    min_words: int = Field(6, ge=1, description="shortest sentence used as a calibration query")


@DEFENSES.register("similarity-outlier")
class SimilarityOutlierFilter(Embedded, Defense):
    """Drop passages far more similar to the question than clean passages get (calibrated on clean queries)."""

    Params = SimilarityOutlierParams
    params: SimilarityOutlierParams

    threshold: float | None = None

    def fit(self, context: DefenseContext) -> None:
        """Set the threshold to the (1 - fpr) quantile of clean best-match similarities.

        Calibration queries are sentences drawn by seed from clean passages; each is matched against the
        rest of the clean corpus (its own passage excluded, since a passage containing the query verbatim is
        exactly what this filter hunts), and the best match's cosine similarity is recorded.
        """
        self.bind_embedder(context)
        self.threshold = float(np.quantile(calibration_similarities(context, self.params), 1 - self.params.fpr,
                                           method="higher"))

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep a candidate whose cosine similarity to the question is at most the calibrated threshold."""
        if not candidates:
            return []
        if self.threshold is None:
            raise RuntimeError("similarity-outlier must be fitted before it filters")
        query = self.embedder.encode([question.question])[0]
        return [float(s) <= self.threshold for s in self.embed(candidates) @ query]


def calibration_similarities(context: DefenseContext, params: SimilarityOutlierParams) -> npt.NDArray[np.float32]:
    """Best-match similarity of each calibration query to the clean corpus, its own passage excluded."""
    ids = list(context.corpus)
    rng = random.Random(f"{context.seed}:similarity-outlier")
    sample = rng.sample(ids, min(params.calibration_size, len(ids)))
    queries, owners = [], []
    for doc_id in sample:
        usable = [s for s in sentences(context.corpus[doc_id]["text"]) if len(s.split()) >= params.min_words]
        if usable:
            queries.append(rng.choice(usable))
            owners.append(doc_id)
    if len(queries) < 2 or len(ids) < 2:
        raise InputError(f"too few clean sentences to calibrate on (need {params.min_words}+ words)",
                         field="defenses.similarity-outlier.params.min_words")
    embedder = context.embedder
    if embedder is None:
        raise RuntimeError("defense 'similarity-outlier' needs the victim's embedder in its context")
    query_vectors = embedder.encode(queries)
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    chunk = 4096
    for start in range(0, len(ids), chunk):
        block = ids[start:start + chunk]
        sims = query_vectors @ embedder.encode([passage_text(dict(context.corpus[d])) for d in block]).T
        for row, owner in enumerate(owners):
            position = index[owner] - start
            if 0 <= position < len(block):
                sims[row, position] = -np.inf
        best = np.maximum(best, sims.max(axis=1))
    return best
