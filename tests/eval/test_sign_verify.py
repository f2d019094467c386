"""`ragpoison keygen`, `sign` and `verify`: round trip, tampering found line by line, bad input exits 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ragpoison.eval.cli import main
from ragpoison.rag.loaders import load_corpus

from tests.builders import write_corpus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv("RAGPOISON_SIGNING_KEY", raising=False)


@pytest.fixture
def keys(tmp_path):
    assert main(["keygen", "--out", str(tmp_path / "keys" / "ingest.key")]) == 0
    return tmp_path / "keys" / "ingest.key", tmp_path / "keys" / "ingest.key.pub"


def edit_line(path: Path, line: int, **changes) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[line - 1])
    record.update(changes)
    lines[line - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def test_sign_then_verify_round_trip_and_the_signed_copy_loads(tmp_path, keys, capsys):
    private, public = keys
    corpus = write_corpus(tmp_path / "corpus")
    signed = tmp_path / "signed.jsonl"
    assert main(["sign", str(corpus), "--out", str(signed), "--key", str(private)]) == 0
    assert main(["verify", str(signed), "--public-key", str(public)]) == 0
    assert "10 of 10 passages verify" in capsys.readouterr().out
    loaded = load_corpus(signed)
    assert all(p["signature"].startswith("ed25519:") for p in loaded.values())
    assert {d: {k: v for k, v in p.items() if k != "signature"} for d, p in loaded.items()} == load_corpus(corpus)
    assert main(["verify", str(corpus), "--public-key", str(public)]) == 1  # the original carries none


def test_verify_names_every_tampered_line(tmp_path, keys, capsys):
    private, public = keys
    signed = tmp_path / "signed.jsonl"
    assert main(["sign", str(write_corpus(tmp_path / "c")), "--out", str(signed), "--key", str(private)]) == 0
    edit_line(signed, 2, content="Serum acetaminophen is plotted at forty hours.")
    edit_line(signed, 4, source="guideline")
    moved = json.loads(signed.read_text().splitlines()[6])["signature"]
    edit_line(signed, 8, signature=moved)
    edit_line(signed, 9, contents="Something else entirely.")
    capsys.readouterr()
    assert main(["verify", str(signed), "--key", str(private)]) == 1
    out = capsys.readouterr().out
    assert f"{signed}:2: tox_2: signature does not match" in out
    assert f"{signed}:4: tox_4: signature does not match" in out
    assert f"{signed}:8: card_2: signature does not match" in out
    assert f"{signed}:9: card_3: contents disagrees" in out
    assert "6 of 10 passages verify" in out


def test_sign_a_folder_with_the_key_in_the_environment(tmp_path, keys, monkeypatch):
    private, public = keys
    folder = tmp_path / "medrag"
    write_corpus(folder / "pubmed")  # no source field: the loader infers it from the folder name
    (folder / "pubmed" / "corpus.jsonl").write_text("\n".join(
        json.dumps({k: v for k, v in json.loads(line).items() if k != "source"})
        for line in (folder / "pubmed" / "corpus.jsonl").read_text().splitlines()) + "\n")
    monkeypatch.setenv("RAGPOISON_SIGNING_KEY", private.read_text())
    assert main(["sign", str(folder), "--out", str(tmp_path / "signed")]) == 0
    moved = tmp_path / "moved"
    (tmp_path / "signed" / "pubmed").rename(moved)  # provenance was written out, so it survives a move
    assert main(["verify", str(moved), "--public-key", str(public)]) == 0
    assert {p["source"] for p in load_corpus(moved).values()} == {"pubmed"}


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, keys, capsys):
    private, _ = keys
    corpus = write_corpus(tmp_path / "c")
    lines = corpus.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    out = tmp_path / "signed.jsonl"
    cases = [
        (["sign", str(broken), "--out", str(out), "--key", str(private)], "broken.jsonl:2"),
        (["sign", str(corpus), "--out", str(out)], "RAGPOISON_SIGNING_KEY"),
        (["sign", str(corpus), "--out", str(out), "--key", str(tmp_path / "nope.key")], "no such key file"),
        (["sign", str(corpus), "--out", str(corpus), "--key", str(private)], "refusing to write into"),
        (["sign", str(corpus.parent), "--out", str(corpus.parent / "signed"), "--key", str(private)],
         "refusing to write into"),
        (["sign", str(corpus), "--out", str(tmp_path), "--key", str(private)], "must be a file"),
        (["verify", str(corpus), "--public-key", str(private)], "not an Ed25519 public key"),
        (["keygen", "--out", str(private)], "already exists"),
    ]
    for argv, needle in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_verify_exit_codes_from_a_real_subprocess(tmp_path, keys):
    private, public = keys
    signed = tmp_path / "signed.jsonl"
    assert main(["sign", str(write_corpus(tmp_path / "c")), "--out", str(signed), "--key", str(private)]) == 0
    env = {k: v for k, v in os.environ.items() if k != "RAGPOISON_SIGNING_KEY"}

    def verify(*extra):
        return subprocess.run([sys.executable, "-m", "ragpoison", "verify", str(signed), *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    assert verify("--public-key", str(public)).returncode == 0
    edit_line(signed, 1, published="2024-01-01")
    failed = verify("--public-key", str(public))
    assert failed.returncode == 1 and f"{signed}:1: tox_1" in failed.stdout
    missing = verify()
    assert missing.returncode == 2 and missing.stderr.startswith("ragpoison: error:")
    assert private.read_text().splitlines()[1] not in failed.stdout + failed.stderr + missing.stderr
