"""Defense costs on the bundled set: calibration (fit) time and filtering time per question, per defense.

Usage: python benchmarks/defenses.py --json FILE [--repeats 3]

The corpus is embedded once before timing (warm cache), as in a run; each defense is then fitted
``repeats`` times and the median is reported, and its verdicts are timed over every question's fetched
candidates under PoisonedRAG's black-box attack (N = 5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    """Time every registered defense and write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from ragpoison.eval.config import load_config
    from ragpoison.eval.runner import Experiment, conditions, craft, retrieve_with_overlay
    from ragpoison.poisoning.defenses.base import Candidate, DefenseContext
    from ragpoison.rag.registry import DEFENSES

    config = load_config(ROOT / "configs/defenses_all.yaml", ["defenses=[none]"])
    experiment = Experiment(config)
    stack, inputs = experiment.stack, experiment.inputs
    poison = craft(conditions(config)[1], inputs, config.seed, stack)
    run = retrieve_with_overlay(stack.retriever, inputs, poison, config.fetch_k)
    context = DefenseContext(inputs.corpus, stack.embedder, stack.generator, config.seed)
    passages = {**inputs.corpus, **poison.passages}
    windows = {qid: [Candidate(d, s, passages[d]) for d, s in list(run[qid].items())[: config.fetch_k]]
               for qid in inputs.questions}
    report = {}
    for name in DEFENSES.names():
        fits = []
        for _ in range(args.repeats):
            defense = DEFENSES.create(name)
            started = time.perf_counter()
            defense.fit(context)
            fits.append(time.perf_counter() - started)
        started = time.perf_counter()
        for qid, window in windows.items():
            defense.verdicts(inputs.questions[qid], window)
        per_question = (time.perf_counter() - started) * 1000 / len(windows)
        report[name] = {"fit_seconds": statistics.median(fits), "verdict_ms_per_question": per_question,
                        "candidates_per_question": config.fetch_k}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    for name, figures in report.items():
        print(f"{name:20s} fit {figures['fit_seconds']:.3f} s   verdicts {figures['verdict_ms_per_question']:.2f} ms/q")
    return 0


if __name__ == "__main__":
    sys.exit(main())
