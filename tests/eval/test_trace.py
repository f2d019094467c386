"""``ragpoison trace`` on a finished run: trace.csv and trace_summary.csv scored against the run's poison labels."""

import json
import shutil

import pandas as pd
import pytest
from ragpoison.eval.forensics import TraceRow, TraceSummary

from tests.eval.test_cli import ROOT, _one_line_error, ragpoison


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from tests.builders import write_dataset

    data = write_dataset(tmp_path_factory.mktemp("trace") / "tiny")
    out = data["corpus"].parent.parent / "run"
    proc = ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", out, "--corpus", data["corpus"],
                     "--questions", data["questions"], "--targets", data["targets"], "--set", "fetch_k=8",
                     "--set", "k=3", "--set", "poison_per_target=[3]", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def traced(finished):
    proc = ragpoison("trace", finished)
    assert proc.returncode == 0, proc.stderr
    return proc, pd.read_csv(finished / "trace.csv"), pd.read_csv(finished / "trace_summary.csv")


def test_trace_writes_one_row_per_wrong_answer_with_ranked_suspects_and_ground_truth(traced, finished):
    proc, rows, summary = traced
    assert list(rows.columns) == [f for f in TraceRow.__dataclass_fields__]
    assert list(summary.columns) == [f for f in TraceSummary.__dataclass_fields__]
    trials = pd.read_parquet(finished / "trials.parquet")
    wrong = trials[(trials.attack != "none") & ~trials.correct]
    assert sorted(zip(rows.cell_id, rows.qid, strict=True)) == sorted(zip(wrong.cell_id, wrong.qid, strict=True))
    for row in rows.itertuples():
        suspects = json.loads(row.suspects)
        flags = [s[2] for s in suspects]
        assert flags == sorted(flags, reverse=True), "flagged suspects first"
        assert all(s[3] == s[0].startswith("poison::") for s in suspects), "the ground truth is the run's labels"
        assert set(json.loads(row.flagged_ids)) == {s[0] for s in suspects if s[2]}
    assert "leave-one-out" in proc.stdout and "precision" in proc.stdout


def test_the_undefended_attack_is_traced_to_its_poison_and_removing_it_recovers_the_answers(traced):
    _, rows, summary = traced
    cell = summary[(summary.attack == "poisonedrag-blackbox") & (summary.defense == "none")].iloc[0]
    assert cell.n_traced >= 2
    assert cell.trace_precision == 1.0 and cell.trace_recall >= 0.8, cell
    assert cell.recovery_rate >= 0.5, cell
    assert cell.clean_false_flags == 0 and cell.clean_trials >= 1, "nothing flagged where the answer was right"
    attacked = rows[rows.defense == "none"]
    assert attacked.recovered.mean() == cell.recovery_rate


def test_the_same_run_traces_the_same_way(traced, finished, tmp_path):
    again = tmp_path / "again"
    shutil.copytree(finished, again)
    (again / "trace.csv").unlink()
    assert ragpoison("trace", again).returncode == 0
    first, second = traced[1], pd.read_csv(again / "trace.csv")
    assert first.equals(second)


def test_bad_input_exits_2_with_one_line(finished, tmp_path):
    _one_line_error(ragpoison("trace", tmp_path), "trials.parquet")
    _one_line_error(ragpoison("trace", finished, "--method", "oracle"), "--method", "leave-one-out")
    empty = tmp_path / "empty"
    empty.mkdir()
    trials = pd.read_parquet(finished / "trials.parquet")
    trials.iloc[0:0].to_parquet(empty / "trials.parquet")
    shutil.copy(finished / "manifest.json", empty / "manifest.json")
    _one_line_error(ragpoison("trace", empty), "no trials")


def test_the_report_gains_a_traceback_section(traced, finished):
    assert ragpoison("report", finished).returncode == 0
    page = (finished / "report.html").read_text()
    assert 'id="traceback"' in page and "trace_precision" in page and "leave-one-out" in page
