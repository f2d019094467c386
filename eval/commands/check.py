"""``ragpoison check``: run a config and gate on its defended cells."""

from __future__ import annotations

import argparse
from pathlib import Path

from eval import reporting

HELP = "run a config and gate on its defended cells (exit 1 on a breach)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``check``."""
    parser.add_argument("config")
    parser.add_argument("--out", help="results folder (default: runs/check-<config name>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--max-asr", type=float)
    parser.add_argument("--max-flip-rate", type=float)
    parser.add_argument("--min-clean-accuracy", type=float)
    parser.add_argument("--junit", help="write a JUnit XML report here")


def run(args: argparse.Namespace) -> int:
    """Run the config, check thresholds, optionally write JUnit XML; 0 on pass, 1 on a breach."""
    from eval.config import load_configs
    from eval.gate import Thresholds, evaluate
    from eval.sweep import run_sweep

    configs = load_configs(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / f"check-{Path(args.config).stem}"
    results = run_sweep(configs, out, progress=reporting.progress)
    results.write(out)
    report = evaluate(results.summary, Thresholds(args.max_asr, args.max_flip_rate, args.min_clean_accuracy))
    if args.junit:
        report.write_junit(args.junit)
    reporting.emit(reporting.summary_table(results.summary))
    reporting.emit(report.message())
    return 0 if report.passed else 1
