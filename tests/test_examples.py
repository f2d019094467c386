"""The examples run as a user runs them, as real subprocesses, and say what they promise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name, *args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:__main__"},
                          timeout=300)


@pytest.mark.parametrize("store", ["faiss", "chroma"])
def test_attack_examples_restore_the_users_store(store, tmp_path, request):
    args = ["--max-questions", "8"]
    if store == "chroma":
        host, port = request.getfixturevalue("chroma_server")
        args += ["--host", host, "--port", str(port), "--collection", "example-notes"]
    result = run_example(f"attack_langchain_{store}.py", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    attack = next(line for line in lines if line.startswith("poisonedrag-blackbox"))
    asr = float(attack.split("asr=")[1].split()[0])
    assert asr >= 0.5
    assert "injected 40 passages; store restored: True" in result.stdout
    assert (tmp_path / "runs" / f"{store}-attack.journal.jsonl").is_file()


def test_defended_chain_example_keeps_the_web_passage_out(tmp_path):
    result = run_example("defended_chain.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    undefended, defended = result.stdout.split("undefended:")[1].split("+ provenance:")
    assert "[web]" in undefended and "[web]" not in defended
    assert "[web]" not in result.stdout.split("your FAISS")[0]
