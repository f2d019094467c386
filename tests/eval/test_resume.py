"""A sweep SIGKILLed part-way, twice, and resumed ends with the trials of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from ragpoison.eval.config import load_configs
from ragpoison.eval.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
TIMING = ["defense_ms", "craft_seconds"]
# 3 seeds x (clean + N in {3, 6}) x 2 defenses = 18 cells. The embedding cache is off, so every attack cell
# embeds its poison afresh (4 questions x N passages): cells take measurable time whatever ran before, and
# most of the run's work is still ahead when the first cells land.
GRID = ["fetch_k=8", "seed=[0,1,2]", "poison_per_target=[3,6]", "embedder.params.cache=false"]
N_CELLS = 18


def _trials(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "trials.parquet").drop(columns=TIMING)
    return frame.sort_values(["cell_id", "qid"]).reset_index(drop=True)


def _start(tiny, out: Path, log: Path, *extra: str) -> subprocess.Popen:
    sets = [arg for item in GRID for arg in ("--set", item)]
    with log.open("w") as stderr:  # a file, not a pipe: nobody reads it while the run goes on
        return subprocess.Popen(
                [sys.executable, "-m", "ragpoison", "run", str(ROOT / "configs/quickstart.yaml"), "--out", str(out),
             "--corpus", str(tiny["corpus"]), "--questions", str(tiny["questions"]), "--targets",
             str(tiny["targets"]), "--no-progress", *sets, *extra],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)


def _finished(cells: Path) -> dict[str, int]:
    """Finished cell files and their inode numbers (a rewritten file gets a new one)."""
    return {path.name: path.stat().st_ino for path in cells.glob("*.jsonl")} if cells.exists() else {}


def _kill_once_at_least(proc: subprocess.Popen, cells: Path, log: Path, wanted: int) -> dict[str, int]:
    """SIGKILL the run as soon as ``wanted`` cells are on disk; return what was on disk after it died."""
    deadline = time.monotonic() + 300
    while len(_finished(cells)) < wanted:
        assert proc.poll() is None, f"the run ended before it could be killed:\n{log.read_text()}"
        assert time.monotonic() < deadline, "no progress within 300 s"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    return _finished(cells)


def test_killed_run_resumes_to_the_same_trials(tiny, tmp_path):
    killed = tmp_path / "killed"
    cells = killed / "cells"
    # First kill: right after the first cell lands, while the first attack cell embeds its poison.
    log = tmp_path / "stderr.txt"
    first = _kill_once_at_least(_start(tiny, killed, log), cells, log, 1)
    assert 1 <= len(first) < N_CELLS // 2
    assert not (killed / "trials.parquet").exists()
    # Second kill: a resumed run, killed again once it has added cells of its own.
    second = _kill_once_at_least(_start(tiny, killed, log, "--resume"), cells, log, len(first) + 2)
    assert len(first) + 2 <= len(second) < N_CELLS
    assert all(second[name] == inode for name, inode in first.items()), "a finished cell was rewritten"
    assert not (killed / "trials.parquet").exists()

    proc = _start(tiny, killed, log, "--resume")
    assert proc.wait(timeout=600) == 0, log.read_text()
    stderr = log.read_text()
    done = _finished(cells)
    assert len(done) == N_CELLS
    assert all(done[name] == inode for name, inode in second.items()), "a finished cell was rewritten"
    # Only the missing cells ran (each announces itself on stderr before it runs).
    assert sum("[ragpoison] cell " in line for line in stderr.splitlines()) == N_CELLS - len(second)
    assert not [p for p in cells.iterdir() if not p.name.endswith(".jsonl")], "temporary files left behind"

    uninterrupted = tmp_path / "uninterrupted"
    run_sweep(load_configs(ROOT / "configs/quickstart.yaml", GRID, {k: str(v) for k, v in tiny.items()}),
              uninterrupted).write(uninterrupted)
    resumed = _trials(killed)
    assert len(resumed) == N_CELLS * 4
    assert not resumed.duplicated(["cell_id", "qid"]).any()
    pd.testing.assert_frame_equal(resumed, _trials(uninterrupted))
