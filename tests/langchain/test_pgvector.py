"""Attack a LangChain PGVector store on a real PostgreSQL server, journaled; a killed attacker is cleaned up."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ragpoison.eval.langchain.attack import LangChainAttack
from ragpoison.eval.langchain.documents import passage_document
from ragpoison.eval.langchain.journal import read_journal

ROOT = Path(__file__).resolve().parents[2]


def _url(uri):
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def pg_snapshot(uri, collection):
    """Every row of one PGVector collection, by id: document, metadata and embedding, read with SQL."""
    import psycopg

    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            "SELECT e.id, e.document, e.cmetadata::text, e.embedding::text FROM langchain_pg_embedding e "
            "JOIN langchain_pg_collection c ON e.collection_id = c.uuid WHERE c.name = %s", (collection,)).fetchall()
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def user_pg(request, postgres_server, clinical, lc_embeddings):
    from langchain_postgres import PGVector

    corpus, _, _ = clinical
    name = "user-" + request.node.name.replace("_", "-")[:40]
    store = PGVector(lc_embeddings, connection=_url(postgres_server), collection_name=name)
    store.add_documents([passage_document(i, p) for i, p in corpus.items()], ids=list(corpus))
    return store, name


def test_pgvector_attack_measures_and_leaves_the_collection_as_it_was(user_pg, postgres_server, clinical, tmp_path):
    store, name = user_pg
    corpus, questions, targets = clinical
    chosen = dict(list(questions.items())[:12])
    before = pg_snapshot(postgres_server, name)
    assert len(before) == len(corpus)
    seen = {}
    report = LangChainAttack(store, chosen, {q: targets[q] for q in chosen}, journal=tmp_path / "j.jsonl",
                             corpus=corpus).run(while_injected=lambda ids: seen.update(
                                 n=len(pg_snapshot(postgres_server, name))))
    assert seen["n"] == len(corpus) + 5 * len(chosen)
    assert report.cell("poisonedrag-blackbox").asr >= 0.5
    assert pg_snapshot(postgres_server, name) == before
    assert read_journal(tmp_path / "j.jsonl").store["type"] == "pgvector"


ATTACKER = textwrap.dedent("""
    import sys, time
    from langchain_postgres import PGVector
    from ragpoison.corpora import bundled
    from ragpoison.eval.langchain.attack import LangChainAttack
    from ragpoison.eval.langchain.documents import EmbedderEmbeddings
    from ragpoison.rag.loaders import load_questions, load_targets

    url, collection, journal = sys.argv[1], sys.argv[2], sys.argv[3]
    store = PGVector(EmbedderEmbeddings(), connection=url, collection_name=collection)
    every = load_questions(bundled()["questions"])
    questions = dict(list(every.items())[:4])
    targets = {qid: t for qid, t in load_targets(bundled()["targets"], every, 0).items() if qid in questions}

    def hold(id_map):
        print("INJECTED", len(id_map), flush=True)
        time.sleep(600)

    LangChainAttack(store, questions, targets, journal=journal).run(while_injected=hold)
""")


def test_a_killed_pgvector_attacker_is_undone_by_cleanup(user_pg, postgres_server, tmp_path):
    _, name = user_pg
    before = pg_snapshot(postgres_server, name)
    journal = tmp_path / "crash.jsonl"
    script = tmp_path / "attacker.py"
    script.write_text(ATTACKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    attacker = subprocess.Popen([sys.executable, str(script), _url(postgres_server), name, str(journal)],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert attacker.stdout.readline().startswith("INJECTED 20")
    finally:
        attacker.send_signal(signal.SIGKILL)
        attacker.wait()
    assert len(pg_snapshot(postgres_server, name)) == len(before) + 20
    done = subprocess.run([sys.executable, "-m", "ragpoison", "cleanup", str(journal)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env=env)
    assert done.returncode == 0 and "removed 20 injected passages" in done.stdout, done.stderr
    assert pg_snapshot(postgres_server, name) == before


def test_incident_mode_on_pgvector_quarantines_and_restores(user_pg, postgres_server, clinical, tmp_path, capsys):
    import yaml
    from ragpoison.eval.cli import main
    from ragpoison.poisoning.attacks.base import AttackContext
    from ragpoison.rag.registry import ATTACKS

    store, name = user_pg
    corpus, questions, targets = clinical
    qid, question = next(iter(questions.items()))
    poison = ATTACKS.create("poisonedrag-blackbox").craft(AttackContext({qid: question}, {qid: targets[qid]}, corpus,
                                                                         3, seed=2))
    store.add_documents([passage_document(i, p) for i, p in poison.passages.items()], ids=list(poison.passages))
    before = pg_snapshot(postgres_server, name)
    config = tmp_path / "incident.yaml"
    config.write_text(yaml.safe_dump({"store": {"type": "pgvector", "connection": _url(postgres_server),
                                                "collection": name}}))
    journal = tmp_path / "q.jsonl"
    assert main(["trace", "--config", str(config), "--question", question.question,
                 "--answer", question.options[targets[qid].option], "--expected", question.options[question.answer],
                 "--quarantine", "--journal", str(journal)]) == 0
    out = capsys.readouterr().out
    assert all(f"flagged {pid}" in out for pid in poison.passages), out
    assert set(pg_snapshot(postgres_server, name)) == set(before) - set(read_journal(journal).held)
    assert main(["restore", str(journal)]) == 0
    assert pg_snapshot(postgres_server, name) == before
