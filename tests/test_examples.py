"""The examples run as scripts (in this interpreter, which already holds torch and the model) and do what they say."""

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_example(monkeypatch, capsys, tmp_path):
    def run(name, *args):
        monkeypatch.chdir(tmp_path)
        monkeypatch.syspath_prepend(str(ROOT / "examples"))
        monkeypatch.setattr(sys, "argv", [name, *args])
        runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
        return capsys.readouterr().out

    return run


@pytest.mark.parametrize("store", ["faiss", "chroma"])
def test_attack_examples_restore_the_users_store(store, run_example, tmp_path, request):
    args = ["--max-questions", "8"]
    if store == "chroma":
        host, port = request.getfixturevalue("chroma_server")
        args += ["--host", host, "--port", str(port), "--collection", "example-notes"]
    out = run_example(f"attack_langchain_{store}.py", *args)
    attack = next(line for line in out.splitlines() if line.startswith("poisonedrag-blackbox"))
    assert float(attack.split("asr=")[1].split()[0]) >= 0.5
    assert "injected 40 passages; store restored: True" in out
    assert (tmp_path / "runs" / f"{store}-attack.journal.jsonl").is_file()


def test_defended_chain_example_keeps_the_web_passage_out(run_example):
    out = run_example("defended_chain.py")
    undefended, defended = out.split("undefended:")[1].split("+ provenance:")
    assert "[web]" in undefended and "[web]" not in defended
    assert "[web]" not in out.split("your FAISS")[0]
