"""``ragpoison check``: run a config and gate on its defended cells."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

if TYPE_CHECKING:
    from ragpoison.eval.gate import Thresholds

HELP = "run a config and gate on its defended cells (exit 1 on a breach)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``check``."""
    parser.add_argument("config")
    parser.add_argument("--out", help="results folder (default: runs/check-<config name>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--max-asr", metavar="X", help="highest attack success rate a defended, attacked cell may have")
    parser.add_argument("--max-flip-rate", metavar="X", help="highest flip rate a defended, attacked cell may have")
    parser.add_argument("--min-clean-accuracy", metavar="Y", help="lowest clean accuracy a defended cell may have")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")


def _fraction(text: str | None, option: str) -> float | None:
    """A threshold as a fraction in [0, 1], or None when not given."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise InputError(f"expected a fraction between 0 and 1, got {text!r}", field=option)
    return value


def thresholds(args: argparse.Namespace) -> Thresholds:
    """The thresholds given on the command line, validated (at least one is needed)."""
    from ragpoison.eval.gate import Thresholds

    limits = Thresholds(_fraction(args.max_asr, "--max-asr"), _fraction(args.max_flip_rate, "--max-flip-rate"),
                        _fraction(args.min_clean_accuracy, "--min-clean-accuracy"))
    if limits == Thresholds():
        raise InputError("give at least one of --max-asr, --max-flip-rate, --min-clean-accuracy",
                         field="thresholds")
    return limits


def run(args: argparse.Namespace) -> int:
    """Run the config, check thresholds, optionally write JUnit XML; 0 on pass, 1 on a breach."""
    from ragpoison.eval.config import load_configs
    from ragpoison.eval.gate import evaluate
    from ragpoison.eval.sweep import run_sweep

    limits = thresholds(args)
    configs = load_configs(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / f"check-{Path(args.config).stem}"
    results = run_sweep(configs, out, progress=console.progress)
    results.write(out)
    report = evaluate(results.summary, limits)
    if args.junit:
        report.write_junit(args.junit)
    console.emit(console.summary_table(results.summary))
    console.emit(report.message())
    return 0 if report.passed else 1
