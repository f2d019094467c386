"""Incident mode on a real `chroma run` server: trace a planted passage, quarantine it, restore exactly."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from ragpoison.eval.cli import main
from ragpoison.eval.langchain.documents import passage_document
from ragpoison.eval.langchain.journal import read_journal
from ragpoison.poisoning.attacks.base import AttackContext
from ragpoison.rag.registry import ATTACKS

from tests.langchain.conftest import chroma_snapshot

ROOT = Path(__file__).resolve().parents[2]
N_QUESTIONS = 4
PER_QUESTION = 3


@pytest.fixture(scope="module")
def planted(chroma_server, clinical, lc_embeddings):
    """A user's collection: the bundled corpus and one planted passage for each of the first questions."""
    from langchain_chroma import Chroma

    corpus, questions, targets = clinical
    chosen = dict(list(questions.items())[:N_QUESTIONS])
    poison = ATTACKS.create("poisonedrag-blackbox").craft(
        AttackContext(chosen, {q: targets[q] for q in chosen}, corpus, PER_QUESTION, seed=5))
    host, port = chroma_server
    store = Chroma(collection_name="incident-user", embedding_function=lc_embeddings, host=host, port=port)
    store.add_documents([passage_document(i, p) for i, p in corpus.items()], ids=list(corpus))
    store.add_documents([passage_document(i, p) for i, p in poison.passages.items()], ids=list(poison.passages))
    return store, chosen, targets, poison


def _config(tmp_path, chroma_server, collection="incident-user"):
    host, port = chroma_server
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump({"store": {"type": "chroma", "host": host, "port": port,
                                              "collection": collection}}))
    return path


def _incident_args(question, target):
    return ["--question", question.question, "--answer", question.options[target.option],
            "--expected", question.options[question.answer]]


def test_incident_finds_quarantines_and_restores_the_planted_passage(planted, chroma_server, tmp_path, capsys):
    store, chosen, targets, poison = planted
    qid, question = next(iter(chosen.items()))
    planted_ids = sorted(poison.for_question(qid))
    before = chroma_snapshot(store)
    journal = tmp_path / "q.jsonl"
    code = main(["trace", "--config", str(_config(tmp_path, chroma_server)), *_incident_args(question, targets[qid]),
                 "--quarantine", "--journal", str(journal)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert all(f"flagged {pid}" in out for pid in planted_ids), out
    held = read_journal(journal).held
    assert set(planted_ids) <= set(held)
    after = chroma_snapshot(store)
    assert set(after) == set(before) - set(held)
    assert main(["restore", str(journal)]) == 0
    assert chroma_snapshot(store) == before
    assert main(["restore", str(journal)]) == 0 and "nothing to restore" in capsys.readouterr().out


def test_incidents_file_traces_every_planted_passage(planted, chroma_server, tmp_path, capsys):
    store, chosen, targets, poison = planted
    lines = [{"id": qid, "question": q.question, "answer": q.options[targets[qid].option], "options": q.options}
             for qid, q in chosen.items()]
    incidents = tmp_path / "incidents.jsonl"
    incidents.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["trace", "--config", str(_config(tmp_path, chroma_server)), "--incidents", str(incidents)]) == 0
    out = capsys.readouterr().out
    found = [pid for qid in chosen for pid in poison.for_question(qid) if f"flagged {pid}" in out]
    assert len(found) >= PER_QUESTION * (N_QUESTIONS - 1), out


QUARANTINER = textwrap.dedent("""
    import sys, time
    from langchain_chroma import Chroma
    from ragpoison.eval.langchain import quarantine as q
    from ragpoison.eval.langchain.documents import EmbedderEmbeddings

    host, port, collection, journal = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    store = Chroma(collection_name=collection, embedding_function=EmbedderEmbeddings(), host=host, port=port)
    spec = {"type": "chroma", "host": host, "port": port, "collection": collection}
    ids = sorted(store.get()["ids"])[:20]
    q.CHUNK = 5

    def hold(done, total):
        print("DELETED", done, flush=True)
        if done == 10:
            time.sleep(600)

    q.quarantine(store, spec, ids, journal, progress=hold)
""")


def _kill_midway(chroma_server, tmp_path, journal):
    """Run a quarantine of 20 passages in a subprocess and SIGKILL it after 10 are deleted."""
    host, port = chroma_server
    script = tmp_path / "quarantiner.py"
    script.write_text(QUARANTINER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, str(script), host, str(port), "incident-user", str(journal)],
                              stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert worker.stdout.readline().startswith("DELETED 5")
        assert worker.stdout.readline().startswith("DELETED 10")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    return env


def test_a_killed_quarantine_is_undone_by_restore_or_completed_by_cleanup(planted, chroma_server, tmp_path):
    store = planted[0]
    before = chroma_snapshot(store)
    journal = tmp_path / "crash.jsonl"
    env = _kill_midway(chroma_server, tmp_path, journal)
    assert len(chroma_snapshot(store)) == len(before) - 10  # killed halfway through
    assert len(read_journal(journal).held) == 20

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "ragpoison", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=120, env=env)

    done = cli("cleanup", str(journal))  # completes the quarantine
    assert done.returncode == 0, done.stderr
    assert len(chroma_snapshot(store)) == len(before) - 20
    back = cli("restore", str(journal))
    assert back.returncode == 0 and "restored 20 quarantined passages" in back.stdout, back.stderr
    assert chroma_snapshot(store) == before


def test_a_kill_mid_quarantine_then_restore_alone(planted, chroma_server, tmp_path):
    store = planted[0]
    before = chroma_snapshot(store)
    journal = tmp_path / "crash2.jsonl"
    _kill_midway(chroma_server, tmp_path, journal)
    assert len(chroma_snapshot(store)) == len(before) - 10
    assert main(["restore", str(journal)]) == 0
    assert chroma_snapshot(store) == before


def test_incident_errors_are_one_line_with_exit_code_2(planted, chroma_server, tmp_path, capsys):
    _, chosen, targets, _ = planted
    qid, question = next(iter(chosen.items()))
    good = _config(tmp_path, chroma_server)
    (tmp_path / "empty").mkdir()
    from langchain_chroma import Chroma

    host, port = chroma_server
    Chroma(collection_name="incident-empty", host=host, port=port)
    empty = tmp_path / "empty" / "incident.yaml"
    empty.write_text(good.read_text().replace("incident-user", "incident-empty"))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(good.read_text() + "colour: red\n")
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text("\n".join(json.dumps(e) for e in (
        {"journal": "ragpoison-journal/1", "store": {"type": "chroma", "host": host, "port": port,
                                                       "collection": "another-store"}},
        {"op": "quarantine", "ids": ["x"], "records": [{"id": "x", "document": "d", "metadata": None,
                                                        "embedding": [0.0]}]})) + "\n")
    args = _incident_args(question, targets[qid])
    cases = [
        (["trace", "--config", str(good), *args, "--method", "nope"], "--method"),
        (["trace", "--config", str(unknown), *args], "unknown key"),
        (["trace", "--config", str(good), "--question", question.question, "--answer", "x"], "--expected"),
        (["trace", "--config", str(empty), *args], "returned no passage"),
        (["restore", str(foreign)], "cannot open Chroma collection 'another-store'"),
        (["trace", str(tmp_path)], "trials"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if not line.startswith("[ragpoison]")]  # progress lines aside
        assert len(errors) == 1 and expected in errors[0] and "Traceback" not in err, (argv, err)


def test_a_journal_holding_quarantined_records_is_never_overwritten(tmp_path):
    from ragpoison.eval.langchain.journal import Journal
    from ragpoison.rag.errors import InputError

    journal = tmp_path / "held.jsonl"
    spec = {"type": "memory", "class": "FAISS"}
    first = Journal(journal, spec)
    first.quarantining([{"id": "a", "document": "text", "metadata": {}}])
    first.removed(["a"])
    first.close()
    with pytest.raises(InputError, match="ragpoison restore"):
        Journal(journal, spec)
    assert read_journal(journal).held == ["a"] and read_journal(journal).pending == []


def test_an_in_process_store_is_never_quarantined(tmp_path, lc_embeddings):
    from langchain_core.vectorstores import InMemoryVectorStore
    from ragpoison.eval.langchain.quarantine import quarantine
    from ragpoison.rag.errors import InputError

    store = InMemoryVectorStore(lc_embeddings)
    store.add_documents([passage_document("a", {"title": "", "text": "Naloxone reverses opioid overdose."})],
                        ids=["a"])
    with pytest.raises(InputError, match="would not outlive it"):
        quarantine(store, {"type": "factory", "factory": "m:f"}, ["a"], tmp_path / "j.jsonl")
    assert not (tmp_path / "j.jsonl").exists() and len(store.get_by_ids(["a"])) == 1
