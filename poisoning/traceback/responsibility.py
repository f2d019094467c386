"""A responsibility score in the spirit of RAGOrigin (Zhang et al., IEEE S&P 2026), calibrated on clean retrievals.

RAGOrigin scores each candidate text of an incident by three signals, each z-scored within the incident and
averaged: the LLM's likelihood of the wrong answer given the text (influence), the likelihood of the query given
the text (semantic) and the retriever's score; it then splits the scores into two groups with 2-means and flags
the higher one. Here, on any reader and embedder: influence is how far the victim's reader, reading the passage
alone, leans to the wrong option (its score margin); semantic is the embedder's cosine between the passage and the
question followed by the wrong option's text (a similarity to the wrong answer, where RAGOrigin uses the query's
likelihood); retrieval is the retriever's score. The three are z-scored within the incident and averaged with
``weights``, and 2-means splits them as in RAGOrigin. Unlike RAGOrigin, which always flags its upper group, a
passage is flagged only if it is also in the upper group **and** its lean to the wrong option exceeds what clean
passages reach at rate ``fpr``, a threshold calibrated on clean retrievals (``calibrate``): an incident whose
passages are all clean flags nothing, at the stated rate.
"""

from __future__ import annotations

import math

from pydantic import Field
from ragpoison.poisoning._contracts import VictimEmbedder, VictimReader
from ragpoison.poisoning.traceback.base import Suspect, TraceCase, TraceContext, Tracer, margin
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import TRACEBACKS
from ragpoison.rag.retrievers.base import passage_text


class ResponsibilityParams(Params):
    """Parameters of the responsibility score."""

    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Weights of influence, semantic similarity to the wrong answer, and retrieval score."""
    fpr: float = Field(0.05, gt=0.0, lt=1.0)
    """Share of clean passages whose lean to an option they do not support exceeds the flagging threshold."""


@TRACEBACKS.register("responsibility")
class Responsibility(Tracer):
    """RAGOrigin-style responsibility: influence, similarity to the wrong answer and retrieval score, 2-means."""

    Params = ResponsibilityParams
    params: ResponsibilityParams

    def __init__(self, params: ResponsibilityParams | None = None) -> None:
        super().__init__(params)
        self.embedder: VictimEmbedder | None = None
        self.threshold = -math.inf

    def fit(self, context: TraceContext) -> None:
        """Keep the victim's embedder for the semantic signal."""
        self.embedder = context.embedder

    def calibrate(self, cases: list[TraceCase], reader: VictimReader) -> None:
        """The lean to the wrong option that clean passages exceed at rate ``fpr``."""
        leans = sorted(lean for case in cases for lean in self._leans(case, reader))
        if not leans:
            raise InputError("no clean retrievals to calibrate the responsibility score on", field="traceback")
        index = min(len(leans) - 1, math.ceil((1.0 - self.params.fpr) * len(leans)) - 1)
        self.threshold = leans[max(0, index)]

    @staticmethod
    def _leans(case: TraceCase, reader: VictimReader) -> list[float]:
        alone = reader.answer([ReaderInput(case.question, (c.passage,)) for c in case.passages])
        return [margin(a, case.wrong) for a in alone]

    def trace(self, case: TraceCase, reader: VictimReader) -> list[Suspect]:
        """Score every passage; flag the upper 2-means group where its lean passes the clean threshold."""
        import numpy as np

        passages = case.passages
        influence = self._leans(case, reader)
        if self.embedder is None:
            raise InputError("the responsibility score needs the stack's embedder", field="traceback")
        vectors = self.embedder.encode([passage_text(dict(c.passage)) for c in passages])
        claim = self.embedder.encode_queries([f"{case.question.question} {case.wrong_text}"])[0]
        semantic = [float(v) for v in vectors @ claim]
        retrieval = [float(c.score) for c in passages]
        signals = np.array([influence, semantic, retrieval], dtype=np.float64)
        spread = signals.std(axis=1, keepdims=True)
        z = np.where(spread > 0, (signals - signals.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1), 0)
        weights = np.array(self.params.weights, dtype=np.float64)
        scores = (weights @ z) / max(weights.sum(), 1e-12)
        upper = _upper_group(scores)
        flagged = {i for i in upper if influence[i] > self.threshold}
        order = sorted(range(len(passages)), key=lambda i: (i not in flagged, -scores[i], i))
        return [Suspect(passages[i].doc_id, float(scores[i]), i in flagged) for i in order]


def _upper_group(scores: object) -> set[int]:
    """The upper group of a 1-D 2-means split (exact: the best cut of the sorted scores); all, when they are equal."""
    import numpy as np

    values = np.asarray(scores, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    if len(ranked) < 2 or ranked[0] == ranked[-1]:
        return set(range(len(values)))
    best, cut = math.inf, 1
    for j in range(1, len(ranked)):
        low, high = ranked[:j], ranked[j:]
        cost = float(((low - low.mean()) ** 2).sum() + ((high - high.mean()) ** 2).sum())
        if cost < best:
            best, cut = cost, j
    return {int(i) for i in order[cut:]}
