"""The per-trial record (one question read in one cell) and the per-cell summary: typed, frozen, built in one place.

A ``Trial`` is built only by ``Trial.build`` (the runner, the Ray executor through the runner, and the LangChain
attack all call it) and read back only by ``Trial.from_row`` (cell files, trials.parquet). The summary's columns
are the fields of ``CellSummary``, in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from ragpoison.eval.scoring import judge
from ragpoison.rag.errors import InputError
from ragpoison.rag.types import Answer, Question, Target


@dataclass(frozen=True, slots=True)
class CellFacts:
    """What every trial of one cell shares: the cell, its poison and the pipeline it ran through."""

    cell_id: str
    attack: str
    defense: str
    poison_per_target: int
    poison_rate: float | None
    n_poison: int
    poison_rate_actual: float
    seed: int
    k: int
    retriever: str
    store: str
    generator: str
    config_hash: str
    craft_seconds: float
    attack_params: str = ""
    retrieval_mode: str = "question"


@dataclass(frozen=True, slots=True)
class Screening:
    """One question's passages: what was retrieved, what the defense chain saw and passed, what the reader read."""

    retrieved_ids: list[str]
    seen_ids: list[str]
    passed_ids: Set[str]
    context_ids: list[str]
    poison_ids: Set[str]
    own_poison_ids: list[str]
    defense_ms: float
    retrieval_query: str
    triggered: bool = False


@dataclass(frozen=True, slots=True)
class Baseline:
    """A question's answer with no poison, which the answer under attack is compared with."""

    answer: str
    correct: bool
    answered_target: bool | None = None
    errored: bool = False

    @classmethod
    def of(cls, trial: Trial) -> Baseline:
        """The baseline a trial of a no-poison cell provides."""
        return cls(trial.answer, trial.correct, trial.answered_target, trial.errored)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trial:
    """One question read in one cell: what reached the reader, what the defense dropped, the answer and its score."""

    qid: str
    """The question's id."""
    dataset: str
    """The benchmark the question comes from."""
    question: str
    """The question as the user asked it (a trigger may have rewritten it)."""
    gold: str
    """The correct option's letter."""
    target: str
    """The attacker's target option's letter."""
    severity: str
    """How harmful the target answer is: high, medium or low."""
    target_assigned_by_seed: bool = False
    """The target was drawn by the seed rather than given in the targets file."""
    retrieved_ids: list[str]
    """The retriever's top-k passage ids, before any defense."""
    context_ids: list[str]
    """The passage ids the reader read."""
    context_poison_ids: list[str]
    """The poisoned passage ids among those the reader read."""
    own_poison_ids: list[str]
    """The poisoned passage ids crafted against this question."""
    dropped_ids: list[str]
    """The passage ids the defense chain saw and dropped."""
    dropped_poison: int
    """How many dropped passages were poison."""
    seen_poison: int
    """How many passages the defense chain saw were poison."""
    dropped_clean: int = 0
    """How many dropped passages were clean."""
    seen_clean: int = 0
    """How many passages the defense chain saw were clean."""
    defense_ms: float
    """Milliseconds the defense chain took on this question (including a defense's own reading)."""
    answer: str
    """The reader's letter, or 'unparsed'."""
    answer_text: str = ""
    """The reader's text."""
    certified_radius: int | None = None
    """How many corrupted passages the answer provably withstands (certifying defenses only)."""
    answer_mode: str = "choice"
    """How the answer was scored: 'choice' (its letter) or 'open' (the options its text mentions)."""
    correct: bool
    """The answer is the gold option."""
    answered_target: bool
    """The answer is the attacker's target (the attack succeeded)."""
    cell_id: str
    """The cell's stable id."""
    attack: str
    """The attack's name ('none' for the clean condition)."""
    defense: str
    """The defense chain's name ('none' when undefended)."""
    poison_per_target: int
    """Poisoned passages per target question (0 for the clean condition)."""
    poison_rate: float | None = None
    """The poison amount as a fraction of the corpus, when the cell was given one."""
    n_poison: int
    """Poisoned passages in the cell."""
    poison_rate_actual: float = math.nan
    """Poisoned passages over corpus passages."""
    seed: int
    """The run's seed."""
    k: int
    """Passages the reader reads."""
    retriever: str
    """The retriever's kind."""
    store: str = ""
    """The vector store's kind."""
    generator: str
    """The reader's kind."""
    config_hash: str
    """Hash of the experiment config."""
    clean_answer: str
    """The answer to the same question with no poison."""
    clean_correct: bool
    """The no-poison answer is the gold option."""
    clean_answered_target: bool | None = None
    """The no-poison answer is the target (None in results from before open answers)."""
    craft_seconds: float
    """Seconds the attack took to craft the cell's poison."""
    attack_params: str = ""
    """The attack's params as sorted JSON ('' when none were given)."""
    retrieval_mode: str = "question"
    """What the retriever embedded: the question ('question') or a seeded paraphrase ('paraphrase')."""
    retrieval_query: str = ""
    """The text the retriever embedded."""
    triggered: bool = False
    """The question was asked with the attack's trigger."""
    n_options: int = 0
    """How many options the question offers (0 in results from before this field)."""
    errored: bool = False
    """The backend gave no answer (failed or timed-out request, refusal): kept out of every rate."""
    error: str = ""
    """Why the backend gave no answer ('' when it answered)."""
    clean_errored: bool = False
    """The no-poison answer this trial is compared with errored."""

    @classmethod
    def build(cls, question: Question, target: Target, screening: Screening, answer: Answer, cell: CellFacts,
              baseline: Baseline | None = None) -> Trial:
        """The one place a trial is made: score the answer and label the passages; no baseline means this is one."""
        verdict = judge(answer, question.answer, target.option)
        errored = answer.error is not None
        if baseline is None:
            baseline = Baseline(answer.letter, verdict.correct, verdict.answered_target, errored)
        poison_ids = screening.poison_ids
        dropped = [d for d in screening.seen_ids if d not in screening.passed_ids]
        seen_poison = sum(d in poison_ids for d in screening.seen_ids)
        dropped_poison = sum(d in poison_ids for d in dropped)
        return cls(
            qid=question.qid, dataset=question.dataset, question=question.question, gold=question.answer,
            target=target.option, severity=target.severity, target_assigned_by_seed=target.assigned_by_seed,
            retrieved_ids=screening.retrieved_ids, context_ids=screening.context_ids,
            context_poison_ids=[d for d in screening.context_ids if d in poison_ids],
            own_poison_ids=screening.own_poison_ids, dropped_ids=dropped, dropped_poison=dropped_poison,
            seen_poison=seen_poison, dropped_clean=len(dropped) - dropped_poison,
            seen_clean=len(screening.seen_ids) - seen_poison, defense_ms=screening.defense_ms,
            answer=answer.letter, answer_text=answer.text, certified_radius=answer.certified_radius,
            answer_mode=verdict.answer_mode, correct=verdict.correct, answered_target=verdict.answered_target,
            cell_id=cell.cell_id, attack=cell.attack, defense=cell.defense, poison_per_target=cell.poison_per_target,
            poison_rate=cell.poison_rate, n_poison=cell.n_poison, poison_rate_actual=cell.poison_rate_actual,
            seed=cell.seed, k=cell.k, retriever=cell.retriever, store=cell.store, generator=cell.generator,
            config_hash=cell.config_hash, clean_answer=baseline.answer, clean_correct=baseline.correct,
            clean_answered_target=baseline.answered_target, craft_seconds=cell.craft_seconds,
            attack_params=cell.attack_params, retrieval_mode=cell.retrieval_mode,
            retrieval_query=screening.retrieval_query, triggered=screening.triggered,
            n_options=len(question.options), errored=errored, error=answer.error or "",
            clean_errored=baseline.errored,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], source: str | Path) -> Trial:
        """A trial read back from a file's row; a column the record needs and the row lacks is an InputError."""
        missing = [name for name in REQUIRED_TRIAL_COLUMNS if name not in row]
        if missing:
            raise InputError(f"missing column {missing[0]!r}: not a trial record this version can read", path=source)
        unknown = [name for name in row if name not in _TRIAL_FIELDS]
        if unknown:
            raise InputError(f"unknown column {unknown[0]!r}: written by a newer ragpoison?", path=source)
        return cls(**{name: _TRIAL_READERS.get(name, _plain)(value) for name, value in row.items()})

    def as_row(self) -> dict[str, Any]:
        """The trial as a flat row of columns (for data frames and cell files)."""
        return {name: getattr(self, name) for name in TRIAL_COLUMNS}

    def label_row(self) -> dict[str, Any]:
        """The columns ``ragpoison.eval.labels`` names a cell by."""
        return _label_row(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CellSummary:
    """One cell's metrics; its fields are summary.csv's columns, in order."""

    attack: str
    """The attack's name ('none' for the clean condition)."""
    attack_params: str
    """The attack's params as sorted JSON ('' when none were given)."""
    defense: str
    """The defense chain's name."""
    poison_per_target: int
    """Poisoned passages per target question."""
    poison_rate: float | None
    """The poison amount as a fraction of the corpus, when the cell was given one."""
    n_poison: int
    """Poisoned passages in the cell."""
    poison_rate_actual: float
    """Poisoned passages over corpus passages."""
    retriever: str
    """The retriever's kind."""
    retrieval_mode: str
    """What the retriever embedded: 'question' or 'paraphrase'."""
    store: str
    """The vector store's kind."""
    generator: str
    """The reader's kind."""
    answer_mode: str
    """How answers were scored: 'choice' or 'open'."""
    k: int
    """Passages the reader reads."""
    seed: int
    """The run's seed."""
    n_questions: int
    """Questions in the cell."""
    n_errored: int
    """Trials the backend gave no answer for (kept out of every rate)."""
    errored_rate: float
    """Errored trials over questions."""
    error_example: str
    """The first errored trial's reason ('' when none errored)."""
    n_answered: int
    """Trials with an answer (questions less errored trials): the denominator of ASR and accuracy under attack."""
    n_clean_answered: int
    """Questions whose no-poison answer did not error: the denominator of clean accuracy."""
    clean_accuracy: float
    """Accuracy with no poison."""
    chance_rate: float
    """What a reader that cannot read scores: the larger of the uniform-guess and the majority-answer rate."""
    reader_above_chance: bool
    """Clean accuracy's 95% Wilson lower bound is above the chance rate: the reader can answer these questions."""
    accuracy_under_attack: float
    """Accuracy in this cell."""
    asr: float
    """Attack success rate: the share of answers that are the target."""
    asr_ci_low: float
    """Lower bound of the ASR's 95% Wilson interval."""
    asr_ci_high: float
    """Upper bound of the ASR's 95% Wilson interval."""
    target_rate_clean: float
    """How often the no-poison answer is the target."""
    flip_rate: float
    """Among questions answered correctly with no poison, the share answering the target here."""
    flip_ci_low: float
    """Lower bound of the flip rate's 95% Wilson interval."""
    flip_ci_high: float
    """Upper bound of the flip rate's 95% Wilson interval."""
    n_flip_eligible: int
    """Questions answered correctly with no poison (and answered here): the flip rate's denominator."""
    unparsed_rate: float
    """The share of answers that named no option."""
    poison_precision_at_k: float
    """Mean share of the reader's k passages that are poison."""
    poison_recall_at_k: float
    """Mean share of a question's own poison that reaches the reader (questions with poison)."""
    poison_f1_at_k: float
    """Harmonic mean of poison precision and recall at k."""
    poison_hit_rate: float
    """The share of questions whose reader read some poison."""
    defense_tpr: float
    """Poisoned passages dropped over poisoned passages the defense saw (NaN when undefended)."""
    defense_fpr: float
    """Clean passages dropped over clean passages the defense saw (NaN when undefended)."""
    certified_accuracy_k1: float
    """Share of answers correct and certified against 1 corrupted passage (NaN unless certified)."""
    certified_accuracy_k2: float
    """Share of answers correct and certified against 2 corrupted passages (NaN unless certified)."""
    certified_accuracy_k3: float
    """Share of answers correct and certified against 3 corrupted passages (NaN unless certified)."""
    craft_seconds: float
    """Seconds the attack took to craft the cell's poison."""
    defense_ms_per_question: float
    """Mean milliseconds the defense took per question."""
    cell_id: str
    """The cell's stable id."""

    def as_row(self) -> dict[str, Any]:
        """The summary as a flat row of columns."""
        return {name: getattr(self, name) for name in SUMMARY_COLUMNS}

    def label_row(self) -> dict[str, Any]:
        """The columns ``ragpoison.eval.labels`` names a cell by."""
        return _label_row(self)


def baselines(trials: Iterable[Trial]) -> dict[str, Baseline]:
    """Per question, a no-poison cell's answer and how it scored, as attack cells compare against it."""
    return {trial.qid: Baseline.of(trial) for trial in trials}


def _label_row(record: Trial | CellSummary) -> dict[str, Any]:
    return {"attack": record.attack, "attack_params": record.attack_params,
            "poison_per_target": record.poison_per_target, "poison_rate": record.poison_rate}


def _missing(value: Any) -> bool:
    """None, or NaN as a round trip through parquet or CSV leaves a missing value."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and not hasattr(value, "__len__") else value


def _ids(value: Iterable[Any]) -> list[str]:
    return [str(v) for v in value]


def _optional_float(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _optional_int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _optional_bool(value: Any) -> bool | None:
    return None if _missing(value) else bool(value)


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


TRIAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Trial))
SUMMARY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CellSummary))
REQUIRED_TRIAL_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in fields(Trial) if f.default is MISSING and f.default_factory is MISSING)
_TRIAL_FIELDS = frozenset(TRIAL_COLUMNS)
# How a value read back from a file becomes the field's type (parquet gives arrays, NaN for missing numbers).
_TRIAL_READERS: dict[str, Callable[[Any], Any]] = {
    **{name: _ids for name in ("retrieved_ids", "context_ids", "context_poison_ids", "own_poison_ids",
                               "dropped_ids")},
    **{name: _text for name in ("answer_text", "attack_params", "retrieval_query", "error")},
    "poison_rate": _optional_float, "certified_radius": _optional_int, "clean_answered_target": _optional_bool,
    **{name: lambda v: bool(_plain(v)) for name in ("target_assigned_by_seed", "correct", "answered_target",
                                                    "clean_correct", "triggered", "errored", "clean_errored")},
}
