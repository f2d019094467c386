import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from ragpoison.eval.results import SUMMARY_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def ragpoison(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "ragpoison", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_run_writes_summary_trials_and_manifest(tiny, tmp_path):
    out = tmp_path / "out"
    proc = ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", out, "--corpus", tiny["corpus"],
                     "--questions", tiny["questions"], "--targets", tiny["targets"], "--set", "fetch_k=8")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert set(zip(summary.attack, summary.defense, strict=False)) == {
        ("none", "none"), ("none", "provenance"), ("poisonedrag-blackbox", "none"),
        ("poisonedrag-blackbox", "provenance")}
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 4 * 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0 and len(manifest["corpus_sha256"]) == 64
    assert manifest["packages"]["faiss-cpu"] != "not installed"
    model_path = Path(manifest["embedder"]["model_path"])
    assert model_path.is_dir() and (model_path / "config.json").is_file(), model_path  # the bundled model's folder
    assert manifest["embedder"]["identity"].startswith(f"{model_path.name}@")
    # the device and precision actually used, which `auto` settled on this machine
    from ragpoison.rag.embedders._numerics import resolve
    from ragpoison.rag.embedders._shapes import default_batch_size, shape_key

    expected = resolve("auto", "auto")
    ran = manifest["embedder"]
    assert (ran["device"], ran["precision"], ran["compiled"]) == (expected.device, expected.precision, False)
    assert ran["identity"].endswith(f"|{expected.key}{shape_key(expected, default_batch_size(expected))}")
    assert "poisonedrag-blackbox" in proc.stdout and "provenance" in proc.stdout
    again = tmp_path / "again"
    ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", again, "--corpus", tiny["corpus"],
              "--questions", tiny["questions"], "--targets", tiny["targets"], "--set", "fetch_k=8")
    assert pd.read_parquet(again / "trials.parquet").drop(columns=["defense_ms", "craft_seconds"]).equals(
        trials.drop(columns=["defense_ms", "craft_seconds"]))


def test_list_prints_names_and_descriptions():
    proc = ragpoison("list", "attacks")
    assert proc.returncode == 0
    assert any(line.startswith("poisonedrag-blackbox ") for line in proc.stdout.splitlines())
    assert "PoisonedRAG" in proc.stdout
    assert "provenance" in ragpoison("list", "defenses").stdout


@pytest.mark.parametrize("mutate, fragments", [
    (lambda d: d["corpus"].write_text('{"id": "a", "content": "x"}\n{"id": broken\n'),
     ["corpus.jsonl:2", "malformed JSON"]),
    (lambda d: d["corpus"].write_text('{"id": "a", "title": "t"}\n'), ["corpus.jsonl:1", "field 'content'"]),
    (lambda d: d["corpus"].write_text('{"id": "a", "content": "x"}\n{"id": "a", "content": "y"}\n'),
     ["corpus.jsonl:2", "duplicate id 'a'"]),
    (lambda d: d["corpus"].write_text(""), ["corpus is empty"]),
    (lambda d: d["corpus"].unlink(), ["corpus.jsonl", "no such file"]),
    (lambda d: d["questions"].write_text(d["questions"].read_text().replace('"answer": "B"', '"answer": "F"')),
     ["benchmark.json", "tiny/0001.answer", "'F' not among options"]),
])
def test_bad_input_exits_2_with_one_line(tiny, tmp_path, mutate, fragments):
    mutate(tiny)
    proc = ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", tmp_path / "o", "--corpus", tiny["corpus"],
                     "--questions", tiny["questions"], "--targets", tiny["targets"])
    _one_line_error(proc, *fragments)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragments", [
    (["--set", "retriever.knd=dense"], ["retriever.knd", "unknown key"]),
    (["--set", "retriever.kind=sparse"], ["retriever.kind", "unknown retriever 'sparse'"]),
    (["--set", "attacks=[poisonedrag-greybox]"], ["attacks", "unknown attack 'poisonedrag-greybox'"]),
    (["--set", "defenses=[{name: provenance, params: {trusted: [web]}}]"],
     ["defenses.provenance.params.trusted", "unknown key"]),
])
def test_bad_config_exits_2_with_one_line(tiny, tmp_path, args, fragments):
    proc = ragpoison("run", ROOT / "configs/quickstart.yaml", "--out", tmp_path / "o", "--corpus", tiny["corpus"],
                     "--questions", tiny["questions"], *args)
    _one_line_error(proc, *fragments)


def test_missing_config_file_exits_2(tmp_path):
    _one_line_error(ragpoison("run", tmp_path / "nope.yaml"), "nope.yaml", "no such config file")
