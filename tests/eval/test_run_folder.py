import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ragpoison.eval.run_folder import LOCK_NAME, prepare, run_lock, sweep_hash
from ragpoison.rag.errors import InputError

HOLD = """
import sys, time
from pathlib import Path
from ragpoison.eval.run_folder import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(InputError, match=f"pid {proc.pid}"), run_lock(tmp_path):
            pass
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_killed_holder_leaves_a_lock_that_is_taken_over(tmp_path):
    proc = _holder(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == proc.pid  # the stale record is still there
    said = []
    with run_lock(tmp_path, said.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] != proc.pid
    assert said == [f"took over the lock left by pid {proc.pid}, which is no longer running"]
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_lock_is_released_for_the_next_run(tmp_path):
    with run_lock(tmp_path):
        pass
    started = time.perf_counter()
    with run_lock(tmp_path):
        pass
    assert time.perf_counter() - started < 5


def _results(folder, sweep):
    prepare(folder, sweep, resume=False, overwrite=False)
    (folder / "cells").mkdir(exist_ok=True)
    (folder / "cells" / "a.jsonl").write_text("{}\n")
    (folder / "summary.csv").write_text("x\n")


def test_prepare_keeps_two_configs_apart(tmp_path):
    first, second = sweep_hash(["aaa"]), sweep_hash(["bbb"])
    _results(tmp_path, first)
    with pytest.raises(InputError, match="holds results of another config.*--overwrite"):
        prepare(tmp_path, second, resume=False, overwrite=False)
    with pytest.raises(InputError, match="holds results of another config"):
        prepare(tmp_path, second, resume=True, overwrite=False)
    assert (tmp_path / "cells" / "a.jsonl").exists()  # refusing touched nothing
    prepare(tmp_path, first, resume=True, overwrite=False)  # the same sweep resumes
    assert (tmp_path / "cells" / "a.jsonl").exists()
    (tmp_path / "notes.txt").write_text("mine")
    prepare(tmp_path, second, resume=False, overwrite=True)
    assert not (tmp_path / "cells").exists() and not (tmp_path / "summary.csv").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only a run's own files are cleared
    assert json.loads((tmp_path / "run.json").read_text())["sweep"] == second


def test_prepare_refuses_results_that_do_not_say_whose_they_are_unless_resumed(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match="does not say its config"):
        prepare(tmp_path, sweep_hash(["aaa"]), resume=False, overwrite=False)
    prepare(tmp_path, sweep_hash(["aaa"]), resume=True, overwrite=False)  # a run from before run.json resumes
    assert json.loads((tmp_path / "run.json").read_text())["sweep"] == sweep_hash(["aaa"])
    with pytest.raises(InputError, match="give one"):
        prepare(tmp_path, sweep_hash(["aaa"]), resume=True, overwrite=True)


ROOT = Path(__file__).resolve().parents[2]


def _ragpoison(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "ragpoison", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_a_run_into_a_held_folder_and_a_folder_of_another_config(tiny, tmp_path):
    out = tmp_path / "out"
    data = ["--corpus", tiny["corpus"], "--questions", tiny["questions"], "--targets", tiny["targets"],
            "--no-progress", "--set", "fetch_k=8"]
    first = _ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", out, *data)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    summary = (out / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 4 and len(list((out / "cells").glob("*.jsonl"))) == 4
    holder = _holder(out)  # another run holding the folder, as a long sweep would
    try:
        started = time.monotonic()
        second = _ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", out, *data)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert f"another ragpoison run (pid {holder.pid}) is writing to this folder" in err
        assert time.monotonic() - started < 60  # refused before any model is loaded or cell is run
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    assert (out / "summary.csv").read_text().splitlines() == summary
    other = _ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", out, *data, "--set", "k=3")
    _, err = other.communicate(timeout=300)
    assert other.returncode == 2 and "holds results of another config" in err and "--overwrite" in err
    assert (out / "summary.csv").read_text().splitlines() == summary  # refused: nothing touched
    again = _ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", out, *data, "--set", "k=3",
                       "--overwrite")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert len(list((out / "cells").glob("*.jsonl"))) == 4  # the k=5 cells were cleared, not mixed in
