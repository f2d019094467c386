"""Embedding precision: throughput of float32 against the fast precision, and how much retrieval and results move.

Usage: python benchmarks/precision.py [--passages 2000] [--sample N] [--no-quickstart] --json FILE

- ``embed_passages_per_s``: passages a second for each variant, the model alone (no cache), on the same
  sample of the benchmark corpus (a seeded corpus generated from the bundled one), after an untimed first pass
  (``embed_first_pass_s``: kernels built for each batch shape, and for ``+compiled`` the compilation): the
  median of three passes, alternating between the variants. The variants are float32 and the fast precision,
  each eager and compiled (``embedder.params.compile: true``);
- ``embed_speedup``: the fastest fast-precision variant over the fastest float32 variant
  (``embed_speedup_eager``: both eager, as ``compile: false``, the default, runs them);
- ``embed_top5_agreement``: the share of the bundled questions whose top-5 passage ids (as a set) are the same
  under the fast variant of ``embed_speedup`` as under float32 (eager), over the benchmark corpus
  (``embed_top5_agreement_ordered``: the same list, in order; ``embed_top5_agreement_eager``: the eager fast
  precision);
- ``quickstart_metric_change``: ``ragpoison run configs/quickstart.yaml`` in each precision (the default,
  eager); for every summary metric, the largest change over the cells, and ``quickstart_questions_changed``: in
  each cell, the largest number of questions by which a rate moved (rate change times the cell's question count).

The fast precision is what ``precision: auto`` picks on this machine, or bfloat16 where auto picks float32 (no
bfloat16 units): it is then emulated, so slower, and ``fast_precision_accelerated`` says so. ``--sample``
limits the agreement corpus where the fast precision is slow (default: the whole corpus when accelerated,
else 300 passages).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THROUGHPUT_SAMPLE = 512  # passages timed per pass: the corpus rate, beyond a partial batch per length bucket
ANSWER_RATES = ("clean_accuracy", "accuracy_under_attack", "asr", "target_rate_clean", "flip_rate")
RATE_COLUMNS = (*ANSWER_RATES, "poison_precision_at_k", "poison_recall_at_k", "poison_hit_rate", "defense_tpr",
                "defense_fpr")


def fast_precision() -> tuple[str, bool]:
    """The precision ``auto`` picks on this CPU (bfloat16, emulated, where it picks float32) and whether it is fast."""
    from ragpoison.rag.embedders._numerics import accelerates_bfloat16, resolve_precision

    picked = resolve_precision("auto", "cpu")
    return ("bfloat16", False) if picked == "float32" else (picked, accelerates_bfloat16("cpu"))


COMPILED = "+compiled"  # a variant's suffix: embedder.params.compile: true


def _embedder(variant: str, cache: Path | None):
    """The bundled model's embedder in a variant: a precision, ``+compiled`` for ``compile: true``."""
    from ragpoison.rag.embedders.sentence_transformers import SentenceTransformersEmbedder

    return SentenceTransformersEmbedder(SentenceTransformersEmbedder.Params(
        precision=variant.removesuffix(COMPILED), compile=variant.endswith(COMPILED), cache=cache is not None,
        cache_dir=str(cache) if cache else None))


def throughputs(texts: list[str], variants: tuple[str, ...], repeats: int = 3) -> tuple[dict, dict]:
    """Passages a second for the bare model in each variant, and the seconds of each variant's first pass.

    The rate is the median of ``repeats`` timed passes. Each model first embeds the texts once untimed (in
    reduced precision each batch shape builds its kernels on first use; a compiled model compiles); the passes
    alternate between the variants, so a drift in the machine's load falls on all.
    """
    import statistics

    embedders = {variant: _embedder(variant, None) for variant in variants}
    first = {}
    for variant, embedder in embedders.items():
        started = time.perf_counter()
        embedder.encode(texts)
        first[variant] = time.perf_counter() - started
    seconds: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(repeats):
        for variant, embedder in embedders.items():
            started = time.perf_counter()
            embedder.encode(texts)
            seconds[variant].append(time.perf_counter() - started)
    return {variant: len(texts) / statistics.median(times) for variant, times in seconds.items()}, first


def top5_agreement(corpus: dict, questions: list[str], variants: tuple[str, ...],
                   cache: Path) -> list[tuple[float, float]]:
    """Share of questions with the same top-5 ids (as a set, and in order) under each later variant as the first."""
    from ragpoison.rag.retrievers.base import passage_text

    ids = list(corpus)
    texts = [passage_text(corpus[d]) for d in ids]
    tops = []
    for variant in variants:
        embedder = _embedder(variant, cache)
        scores = embedder.encode_queries(questions) @ embedder.encode(texts).T
        tops.append([tuple(ids[i] for i in np.argsort(-row, kind="stable")[:5]) for row in scores])
    return [(float(np.mean([set(a) == set(b) for a, b in zip(tops[0], other, strict=True)])),
             float(np.mean([a == b for a, b in zip(tops[0], other, strict=True)]))) for other in tops[1:]]


def quickstart_change(precisions: tuple[str, str], folder: Path) -> dict:
    """Run the quickstart in each precision; per metric the largest change over cells, and questions moved."""
    import pandas as pd

    frames = []
    for precision in precisions:
        out = folder / f"quickstart-{precision}"
        env = {**os.environ, "RAGPOISON_CACHE": str(folder / f"cache-{precision}")}
        subprocess.run([sys.executable, "-m", "ragpoison", "run", "configs/quickstart.yaml", "--out", str(out),
                        "--no-progress", "--set", f"embedder.params.precision={precision}"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        frames.append(pd.read_csv(out / "summary.csv"))
    cells = ["attack", "attack_params", "poison_per_target", "poison_rate", "defense", "k", "seed"]
    joined = frames[0].merge(frames[1], on=cells, suffixes=("_a", "_b"))
    change, moved = {}, 0.0
    for column in RATE_COLUMNS:
        delta = (joined[f"{column}_a"] - joined[f"{column}_b"]).abs()
        change[column] = float(delta.max()) if delta.notna().any() else None
        if column in ANSWER_RATES:  # a rate over questions: its change in questions
            base = joined["n_flip_eligible_a"] if column == "flip_rate" else joined["n_answered_a"]
            moved = max(moved, float((delta * base).fillna(0).max()))
    return {"metric_change": change, "questions_changed": round(moved, 2), "cells": len(joined)}


def measure(n_passages: int, sample: int | None, quickstart: bool) -> dict:
    """Every precision measurement on a generated corpus of ``n_passages``."""
    from ragpoison.corpora import bundled
    from ragpoison.rag.loaders import load_corpus, load_questions
    from ragpoison.rag.retrievers.base import passage_text

    from benchmarks.synthetic import write_synthetic_corpus

    fast, accelerated = fast_precision()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = load_corpus(write_synthetic_corpus(bundled()["corpus"], n_passages, seed=0, out=tmp / "corpus"))
        questions = [q.question for q in load_questions(bundled()["questions"]).values()]
        limit = sample if sample is not None else (len(corpus) if accelerated else 300)
        subset = dict(list(corpus.items())[:limit])
        texts = [passage_text(p) for p in list(corpus.values())[: min(THROUGHPUT_SAMPLE, len(corpus))]]
        rates, first = throughputs(texts, ("float32", "float32" + COMPILED, fast, fast + COMPILED))
        best_full = max(("float32", "float32" + COMPILED), key=rates.__getitem__)
        best_fast = max((fast, fast + COMPILED), key=rates.__getitem__)
        (same_set, same_list), (eager_set, _) = top5_agreement(subset, questions, ("float32", best_fast, fast),
                                                                tmp / "cache")
        report = {"fast_precision": fast, "fast_precision_accelerated": accelerated,
                  "embed_passages_per_s": {k: round(v, 1) for k, v in rates.items()},
                  "embed_first_pass_s": {k: round(v, 1) for k, v in first.items()},
                  "embed_speedup": round(rates[best_fast] / rates[best_full], 2),
                  "embed_speedup_variants": [best_fast, best_full],
                  "embed_speedup_eager": round(rates[fast] / rates["float32"], 2),
                  "embed_top5_agreement": same_set, "embed_top5_agreement_ordered": same_list,
                  "embed_top5_agreement_eager": eager_set,
                  "embed_agreement_passages": len(subset), "embed_agreement_questions": len(questions)}
        if quickstart:
            change = quickstart_change(("float32", fast), tmp)
            report.update({"quickstart_metric_change": change["metric_change"],
                           "quickstart_questions_changed": change["questions_changed"],
                           "quickstart_cells_compared": change["cells"]})
    return report


def main() -> int:
    """Measure, print and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--sample", type=int, help="passages in the agreement corpus")
    parser.add_argument("--no-quickstart", action="store_true", help="skip the two quickstart runs")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    report = measure(args.passages, args.sample, not args.no_quickstart)
    report.update({"cpu_count": os.cpu_count(), "load_average": os.getloadavg()})
    text = json.dumps(report, indent=2)
    sys.stdout.write(text + "\n")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
