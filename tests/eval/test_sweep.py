import itertools
from pathlib import Path

import pytest
from ragpoison.eval.config import load_configs
from ragpoison.eval.runner import Experiment, conditions, craft, plan_cells
from ragpoison.eval.sweep import run_sweep
from ragpoison.rag.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def _configs(tiny, *overrides):
    return load_configs(ROOT / "configs/quickstart.yaml", ["fetch_k=8", *overrides],
                        {k: str(v) for k, v in tiny.items()})


def test_every_axis_expands_into_distinct_cells(tiny, tmp_path):
    configs = _configs(tiny, "seed=[0,1]", "k=[3,5]", "retriever.kind=[dense, bm25]", "store.kind=[faiss, chroma]",
                       "poison_per_target=[1,3]", "poison_rate=[0.01]", "attacks=[none, poisonedrag-blackbox, x]",
                       "defenses=[none, provenance]")
    axes = [(c.seed, c.k, c.retriever.kind, c.store.kind) for c in configs]
    assert axes == list(itertools.product([0, 1], [3, 5], ["dense", "bm25"], ["faiss", "chroma"]))
    plans = [plan_cells(c) for c in configs]
    # per config: the clean condition, then 2 attacks x (2 per-target amounts + 1 rate), each under 2 defenses
    assert {len(plan) for plan in plans} == {(1 + 2 * 3) * 2}
    amounts = {(c.condition.attack.name, c.condition.poison_per_target, c.condition.poison_rate)
               for c in plans[0]}
    assert amounts == {("none", 0, None)} | {(a, n, r) for a in ("poisonedrag-blackbox", "x")
                                             for n, r in ((1, None), (3, None), (0, 0.01))}
    ids = [c.cell_id for plan in plans for c in plan]
    assert len(set(ids)) == len(ids) == 16 * 14
    with pytest.raises(InputError, match="store.kind"):  # names are checked before anything runs
        run_sweep(_configs(tiny, "store.kind=[faiss, no-such-store]"), tmp_path / "never-written")
    assert not (tmp_path / "never-written").exists()
    with pytest.raises(InputError, match="an empty list gives no cells"):
        _configs(tiny, "k=[]")


def test_grid_runs_every_cell_once_with_a_progress_bar(tiny, tmp_path, capsys):
    configs = _configs(tiny, "seed=[0,1,1]", "k=[3,5]", "poison_per_target=[1,2]", "poison_rate=[0.5]")
    assert len(configs) == 6  # seed 1 is listed twice: its cells run once
    results = run_sweep(configs, tmp_path / "out", progress_bar=True)
    summary = results.summary_dataframe()
    assert len(summary) == 2 * 2 * (1 + 3) * 2
    assert summary.cell_id.is_unique and len(results.trials) == len(summary) * 4
    assert len(list((tmp_path / "out" / "cells").glob("*.jsonl"))) == len(summary)
    assert set(zip(summary.seed, summary.k, strict=True)) == {(0, 3), (0, 5), (1, 3), (1, 5)}
    attacked = summary[summary.attack == "poisonedrag-blackbox"]
    assert sorted(set(attacked.poison_per_target)) == [0, 1, 2]
    by_rate = attacked[attacked.poison_rate.notna()]
    assert set(by_rate.poison_rate) == {0.5} and set(by_rate.n_poison) == {5}  # 0.5 x 10 passages
    assert set(attacked[attacked.poison_rate.isna()].n_poison) == {4, 8}  # N x 4 target questions
    assert (attacked[attacked.defense == "none"].poison_hit_rate > 0).all()
    assert (attacked[attacked.defense == "provenance"].poison_hit_rate == 0).all()
    bar = capsys.readouterr().err
    assert "cells 32/32" in bar and "128/128" in bar


def test_clean_corpus_is_embedded_once_across_runs_and_configs(tiny, tmp_path, monkeypatch):
    from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder
    from ragpoison.rag.loaders import load_corpus
    from ragpoison.rag.retrievers.base import passage_text

    embedded: list[str] = []
    original = SentenceTransformersEmbedder._encode_raw

    def recording(self, texts):
        embedded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(SentenceTransformersEmbedder, "_encode_raw", recording)
    clean = {passage_text(p) for p in load_corpus(tiny["corpus"]).values()}
    cache = f"embedder.params.cache_dir={tmp_path / 'cache'}"
    run_sweep(_configs(tiny, cache), tmp_path / "a")
    assert clean <= set(embedded) and len(embedded) == len(set(embedded))  # each text embedded once
    first = set(embedded)
    embedded.clear()
    # Another run of another config: other k, seed, amounts and cells. Only its new poison is embedded.
    second = _configs(tiny, cache, "k=3", "seed=7", "poison_per_target=[2]", "defenses=[provenance]")
    run_sweep(second, tmp_path / "b")
    assert not set(embedded) & clean, "the clean corpus was embedded again"
    second_run = set(embedded)
    experiment = Experiment(second[0])  # the poison is written with the stack, as the run wrote it
    new_poison = craft(conditions(second[0])[1], experiment.inputs, 7, experiment.stack)
    assert second_run == {passage_text(p) for p in new_poison.passages.values()} != set()
    assert not second_run & first
