"""The typed trial record: built in one place, written and read back unchanged, old runs and cell files still read."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from ragpoison.eval.cellstore import CellStore
from ragpoison.eval.results import Results, summarize
from ragpoison.eval.scoring import judge
from ragpoison.eval.trial import (
    REQUIRED_TRIAL_COLUMNS,
    SUMMARY_COLUMNS,
    TRIAL_COLUMNS,
    Baseline,
    CellFacts,
    CellSummary,
    Screening,
    Trial,
)
from ragpoison.rag.errors import InputError
from ragpoison.rag.types import Answer, Question, Target

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Protamine"}


def _facts(attack: str = "none", defense: str = "none") -> CellFacts:
    return CellFacts(cell_id=f"{attack}-{defense}", attack=attack, defense=defense,
                     poison_per_target=0 if attack == "none" else 2, poison_rate=None,
                     n_poison=0 if attack == "none" else 2, poison_rate_actual=0.0, seed=0, k=2, retriever="dense",
                     store="faiss", generator="extractive", config_hash="abc", craft_seconds=0.5)


def _trial(qid: str, letter: str, facts: CellFacts, clean: Baseline | None = None, poisoned: bool = False,
           radius: int | None = None) -> Trial:
    poison = {f"p:{qid}:0", f"p:{qid}:1"} if poisoned else set()
    retrieved = [*sorted(poison), "c1", "c2"][:3]
    passed = {d for d in retrieved if d not in poison} if facts.defense != "none" else set(retrieved)
    screening = Screening(retrieved_ids=retrieved[:2], seen_ids=retrieved, passed_ids=passed,
                          context_ids=[d for d in retrieved if d in passed][:2], poison_ids=poison,
                          own_poison_ids=sorted(poison), defense_ms=1.25, retrieval_query=f"question {qid}?")
    question = Question(qid, f"question {qid}?", OPTIONS, "B", dataset="tiny")
    return Trial.build(question, Target("C", "high"), screening, Answer(letter, certified_radius=radius), facts,
                       clean)


def _results() -> Results:
    """Two clean cells and an attacked one, scored as the runner scores them."""
    clean = [_trial("q1", "B", _facts()), _trial("q2", "C", _facts())]
    defended = [_trial("q1", "B", _facts(defense="provenance"), radius=2),
                _trial("q2", "C", _facts(defense="provenance"), radius=None)]
    baselines = {t.qid: Baseline.of(t) for t in clean}
    attacked = [_trial("q1", "C", _facts("blackbox"), baselines["q1"], poisoned=True),
                _trial("q2", "C", _facts("blackbox"), baselines["q2"], poisoned=True)]
    trials = clean + defended + attacked
    return Results(trials=trials, summary=summarize(trials), manifest={"config_hash": "abc"})


def test_build_scores_labels_and_compares_with_the_clean_answer():
    clean = _trial("q1", "B", _facts())
    assert (clean.correct, clean.answered_target, clean.clean_answer, clean.clean_correct) == (True, False, "B", True)
    attacked = _trial("q1", "C", _facts("blackbox"), Baseline.of(clean), poisoned=True)
    assert attacked.answered_target and not attacked.correct and attacked.clean_answer == "B"
    assert attacked.context_poison_ids == ["p:q1:0", "p:q1:1"] and attacked.seen_poison == 2
    defended = _trial("q1", "B", _facts("blackbox", "provenance"), Baseline.of(clean), poisoned=True)
    assert defended.dropped_ids == ["p:q1:0", "p:q1:1"] and defended.dropped_poison == 2
    assert (defended.seen_clean, defended.dropped_clean, defended.context_poison_ids) == (1, 0, [])
    assert attacked.as_row()["attack"] == attacked.attack == "blackbox"


def test_judge_scores_letters_and_open_answers_alike_for_every_caller():
    assert judge(Answer("C"), "B", "C").answered_target
    open_answer = judge(Answer("unparsed", mentions=("B",)), "B", "C")
    assert (open_answer.answer_mode, open_answer.correct, open_answer.answered_target) == ("open", True, False)


def test_summary_columns_are_the_summary_model():
    results = _results()
    assert SUMMARY_COLUMNS[0] == "attack" and SUMMARY_COLUMNS[-1] == "cell_id"
    assert list(results.summary_dataframe().columns) == list(SUMMARY_COLUMNS)
    assert list(results.to_dataframe().columns) == list(TRIAL_COLUMNS)
    cells = {(c.attack, c.defense): c for c in results.summary}
    assert isinstance(cells[("none", "none")], CellSummary)
    assert cells[("blackbox", "none")].asr == 1.0 and cells[("blackbox", "none")].flip_rate == 1.0
    assert cells[("none", "provenance")].certified_accuracy_k2 == 0.5
    assert math.isnan(cells[("none", "none")].certified_accuracy_k1)


def test_results_round_trip_through_their_files(tmp_path):
    results = _results()
    results.write(tmp_path)
    again = Results.read(tmp_path)
    assert again.trials == results.trials
    assert again.summary_dataframe().equals(results.summary_dataframe())
    assert pd.read_csv(tmp_path / "summary.csv").columns.tolist() == list(SUMMARY_COLUMNS)


def test_an_old_run_without_the_columns_added_later_reads_with_their_defaults(tmp_path):
    results = _results()
    results.write(tmp_path)
    later = ["clean_answered_target", "retrieval_mode", "answer_mode", "attack_params", "answer_text",
             "retrieval_query", "triggered", "certified_radius", "poison_rate"]
    assert not set(later) & set(REQUIRED_TRIAL_COLUMNS)
    frame = pd.read_parquet(tmp_path / "trials.parquet").drop(columns=later)
    frame.to_parquet(tmp_path / "trials.parquet", index=False)
    old = Results.read(tmp_path)
    assert [t.qid for t in old.trials] == [t.qid for t in results.trials]
    first = old.trials[0]
    assert (first.retrieval_mode, first.answer_mode, first.attack_params, first.clean_answered_target,
            first.certified_radius) == ("question", "choice", "", None, None)
    # The clean answer's target hit falls back to its letter: the same figure as the run recorded.
    before = {c.cell_id: c.target_rate_clean for c in results.summary}
    assert {c.cell_id: c.target_rate_clean for c in old.summary} == before


def test_a_run_missing_a_needed_column_is_a_one_line_error(tmp_path):
    _results().write(tmp_path)
    frame = pd.read_parquet(tmp_path / "trials.parquet").drop(columns=["context_ids"])
    frame.to_parquet(tmp_path / "trials.parquet", index=False)
    with pytest.raises(InputError, match=r"trials\.parquet: missing column 'context_ids'"):
        Results.read(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "ragpoison", "report", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "trials.parquet" in lines[0] and "'context_ids'" in lines[0]
    assert not (tmp_path / "report.html").exists()


def test_a_cell_file_written_before_the_typed_record_still_resumes(tmp_path):
    store = CellStore(tmp_path, resume=True)
    trials = _results().trials[:2]
    # As the earlier runner wrote it: a dict per trial, keys sorted, without the columns added since.
    rows = [{k: v for k, v in sorted(t.as_row().items()) if k not in ("clean_answered_target", "triggered")}
            for t in trials]
    (store.folder / "old.jsonl").write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
    assert store.has("old")
    read = store.read("old")
    assert [t.answer for t in read] == [t.answer for t in trials]
    assert [t.clean_answered_target for t in read] == [None, None] and not any(t.triggered for t in read)
    store.write("new", trials)
    assert store.read("new") == trials
    assert [json.loads(line) for line in (store.folder / "new.jsonl").read_text().splitlines()] == [
        json.loads(json.dumps(t.as_row(), sort_keys=True)) for t in trials]


def test_a_cell_file_missing_a_needed_column_names_the_file(tmp_path):
    store = CellStore(tmp_path, resume=True)
    row = {k: v for k, v in _results().trials[0].as_row().items() if k != "answer"}
    (store.folder / "bad.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match=r"bad\.jsonl: missing column 'answer'"):
        store.read("bad")
