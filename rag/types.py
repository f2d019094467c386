"""Plain data shapes passed between stages (BEIR-shaped at the seams)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# corpus: {doc_id: {"title": str, "text": str, "source": str, "published": str, "reference": str, ...}}
Corpus = dict[str, dict[str, str]]
# A corpus as indexing reads it: a Corpus, or an OnDiskCorpus (rag.streaming) that reads passages from disk.
CorpusView = Mapping[str, dict[str, str]]
# queries: {qid: question text}
Queries = dict[str, str]
# run: {qid: {doc_id: score}}
Run = dict[str, dict[str, float]]
# Embeddings and store vectors: an (n, dim) float32 array, one row per text (a single vector is 1-d).
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Question:
    """A multiple-choice clinical question in the MIRAGE shape."""

    qid: str
    question: str
    options: dict[str, str]
    answer: str
    dataset: str = ""


@dataclass(frozen=True)
class Target:
    """The wrong, harmful option an attacker wants a question answered with."""

    option: str
    severity: str = "medium"
    assigned_by_seed: bool = False


@dataclass(frozen=True)
class Answer:
    """A generator's answer to one question: the chosen letter and per-option support.

    ``letter`` is ``UNPARSED`` when a generator's output named no option. ``certified_radius`` is set by
    certifying defenses: the answer provably stands against up to that many corrupted passages. ``mentions``
    is set in open-answer mode: the letters whose option text the free-text answer contains. ``error`` is set
    when the backend gave no answer at all (a failed or timed-out request, a refusal): ``letter`` is then
    ``ERRORED`` and the trial is kept apart from every rate, never counted as a wrong or a right answer.
    """

    letter: str
    scores: dict[str, float] = field(default_factory=dict)
    text: str = ""
    certified_radius: int | None = None
    mentions: tuple[str, ...] | None = None
    error: str | None = None


UNPARSED = "unparsed"
ERRORED = "errored"
