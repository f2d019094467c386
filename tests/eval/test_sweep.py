import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval.config import load_configs
from eval.runner import Experiment, conditions, craft
from eval.sweep import run_sweep
from rag.registry import RETRIEVERS, STORES

ROOT = Path(__file__).resolve().parents[2]
TIMING = ["defense_ms", "craft_seconds"]


def _configs(tiny, *overrides):
    return load_configs(ROOT / "configs/quickstart.yaml", ["fetch_k=8", *overrides],
                        {k: str(v) for k, v in tiny.items()})


def _trials(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "trials.parquet").drop(columns=TIMING)
    return frame.sort_values(["cell_id", "qid"]).reset_index(drop=True)


def test_grid_expands_seeds_and_k_into_cells(tiny, tmp_path):
    configs = _configs(tiny, "seed=[0,1]", "k=[3,5]")
    assert [(c.seed, c.k) for c in configs] == [(0, 3), (0, 5), (1, 3), (1, 5)]
    results = run_sweep(configs, tmp_path / "out")
    summary = pd.DataFrame(results.summary)
    assert len(summary) == 4 * 4
    assert set(zip(summary.seed, summary.k, strict=True)) == {(0, 3), (0, 5), (1, 3), (1, 5)}
    assert summary.cell_id.is_unique
    attacked = summary[summary.attack == "poisonedrag-blackbox"]
    assert (attacked[attacked.defense == "none"].poison_hit_rate > 0).all()
    assert (attacked[attacked.defense == "provenance"].poison_hit_rate == 0).all()


def test_overlay_equals_index_built_from_scratch_with_poison(tiny, embedder):
    config = _configs(tiny)[0]
    experiment = Experiment(config)
    attack = [c for c in conditions(config) if not c.is_clean][0]
    poison, overlaid, _ = experiment._retrieve(attack)
    store = STORES.create("faiss", dim=embedder.dim)
    scratch = RETRIEVERS.create("dense", embedder=embedder, store=store)
    scratch.index({**experiment.inputs.corpus, **poison.passages})
    queries = {qid: q.question for qid, q in experiment.inputs.questions.items()}
    depth = len(next(iter(overlaid.values())))
    assert depth >= 8
    rebuilt = scratch.retrieve(queries, depth)
    assert {q: list(r) for q, r in overlaid.items()} == {q: list(r) for q, r in rebuilt.items()}
    for qid in overlaid:
        assert np.allclose(list(overlaid[qid].values()), list(rebuilt[qid].values()), atol=1e-5)
    # the overlay left the clean index exactly as it was
    assert experiment.stack.retriever.store.ids() == list(experiment.inputs.corpus)
    assert poison == craft(attack, experiment.inputs, config.seed, experiment.stack)


def test_clean_corpus_is_embedded_once_across_runs_and_configs(tiny, tmp_path, monkeypatch):
    from rag.embedders.sentence_transformers import SentenceTransformersEmbedder

    calls: list[int] = []
    original = SentenceTransformersEmbedder._encode_raw

    def counting(self, texts):
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(SentenceTransformersEmbedder, "_encode_raw", counting)
    cache = f"embedder.params.cache_dir={tmp_path / 'cache'}"
    run_sweep(_configs(tiny, cache), tmp_path / "a")
    first = sum(calls)
    assert first >= 10  # the 10 clean passages, the questions and the poison were embedded
    calls.clear()
    run_sweep(_configs(tiny, cache, "k=3", "seed=0"), tmp_path / "b")
    assert sum(calls) == 0, "a second run with another k re-embedded something"


def _run_cli(tiny, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "eval.cli", "run", str(ROOT / "configs/quickstart.yaml"),
                             "--out", str(out), "--corpus", str(tiny["corpus"]), "--questions",
                             str(tiny["questions"]), "--targets", str(tiny["targets"]), "--no-progress",
                             "--set", "fetch_k=8", "--set", "seed=[0,1,2]", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_run_resumes_to_the_same_trials(tiny, tmp_path):
    full = tmp_path / "full"
    proc = _run_cli(tiny, full)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    killed = tmp_path / "killed"
    proc = _run_cli(tiny, killed)
    cells = killed / "cells"
    deadline = time.time() + 300
    while time.time() < deadline and not (cells.exists() and len(list(cells.glob("*.jsonl"))) >= 3):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(cells.glob("*.jsonl")))
    assert 3 <= done_before < 12, "the run should have been killed part-way"
    assert not (killed / "trials.parquet").exists()
    proc = _run_cli(tiny, killed, "--resume")
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    assert len(list(cells.glob("*.jsonl"))) == 12
    resumed, uninterrupted = _trials(killed), _trials(full)
    assert not resumed.duplicated(["cell_id", "qid"]).any()
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_ray_executor_gives_the_same_trials(tiny, tmp_path):
    pytest.importorskip("ray")
    local = tmp_path / "local"
    run_sweep(_configs(tiny), local).write(local)
    on_ray = tmp_path / "ray"
    run_sweep(_configs(tiny), on_ray, executor="ray").write(on_ray)
    pd.testing.assert_frame_equal(_trials(on_ray), _trials(local))
