"""The quickstart with BM25, hybrid retrieval and a Chroma store: still answerable, still corrupted by poison."""

from pathlib import Path

import pytest
from ragpoison.eval.config import load_configs
from ragpoison.eval.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    found = {}
    for label, overrides in (("bm25", ["retriever.kind=bm25"]), ("hybrid", ["retriever.kind=hybrid"]),
                             ("chroma", ["store.kind=chroma", "defenses=[none]"])):
        out = tmp_path_factory.mktemp(label)
        configs = load_configs(ROOT / "configs/quickstart.yaml", [*overrides, f"store.params.path={out / 'db'}"]
                               if label == "chroma" else overrides)
        found[label] = {(c.attack, c.defense): c for c in run_sweep(configs, out).summary}
    return found


@pytest.mark.parametrize("label", ["bm25", "hybrid", "chroma"])
def test_quickstart_runs_with_each_retriever_and_store(cells, label):
    clean = cells[label][("none", "none")]
    attacked = cells[label][("poisonedrag-blackbox", "none")]
    assert clean.n_questions >= 50
    assert clean.clean_accuracy >= 0.6
    assert attacked.asr >= 0.5
    assert attacked.retriever == {"chroma": "dense"}.get(label, label)
    assert attacked.store == ("chroma" if label == "chroma" else "faiss")


def test_provenance_still_stops_the_attack_under_bm25_and_hybrid(cells):
    for label in ("bm25", "hybrid"):
        defended = cells[label][("poisonedrag-blackbox", "provenance")]
        assert defended.poison_hit_rate == 0.0 and defended.flip_rate <= 0.05


def test_pgvector_with_no_server_configured_gives_faiss_trials(tmp_path):
    """The embedded default starts its own PostgreSQL; every trial's context and answer equal FAISS's."""
    import pandas as pd

    runs = {}
    for store in ("faiss", "pgvector"):
        configs = load_configs(ROOT / "configs/quickstart.yaml", [f"store.kind={store}", "defenses=[none]"])
        run_sweep(configs, tmp_path / store)
        trials = pd.read_parquet(tmp_path / store / "trials.parquet").sort_values(["attack", "qid"])
        runs[store] = trials[["attack", "qid", "retrieved_ids", "context_ids", "answer"]].astype(str).to_numpy()
    assert len(runs["faiss"]) >= 100
    assert (runs["faiss"] == runs["pgvector"]).all()
