"""``ragpoison check``: run a config and gate on its defended cells."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ragpoison.eval import console
from ragpoison.eval.commands._data import add_data_arguments, data_files
from ragpoison.rag.errors import InputError

if TYPE_CHECKING:
    from ragpoison.eval.gate import Thresholds

HELP = "run a config and gate on its defended cells (exit 1 on a breach)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``check``."""
    parser.add_argument("config")
    parser.add_argument("--out", help="results folder (default: runs/check-<config name>)")
    add_data_arguments(parser)
    parser.add_argument("--max-asr", metavar="X", help="highest attack success rate a defended, attacked cell may have")
    parser.add_argument("--max-flip-rate", metavar="X", help="highest flip rate a defended, attacked cell may have")
    parser.add_argument("--min-clean-accuracy", metavar="Y", help="lowest clean accuracy a defended cell may have")
    parser.add_argument("--confidence", metavar="C",
                        help="gate on the two-sided Wilson bound at this level (e.g. 0.95) on the unsafe side "
                             "instead of the point estimate")
    parser.add_argument("--max-errored-rate", metavar="X", default="0",
                        help="highest share of trials whose backend gave no answer (default 0: any fails)")
    parser.add_argument("--allow-reader-at-chance", action="store_true",
                        help="let cells pass whose reader is not above chance on their questions")
    parser.add_argument("--worst-case", action="store_true",
                        help="run the robustness suite (adaptive attacks, every amount) and gate each defense on "
                             "its worst case inside its threat model")
    parser.add_argument("--resume", action="store_true",
                        help="keep finished cells in --out (the same config's) and run the rest")
    parser.add_argument("--overwrite", action="store_true", help="clear --out's results of another config first")
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

    confidence = _fraction(args.confidence, "--confidence")
    if confidence is not None and not 0.0 < confidence < 1.0:
        raise InputError(f"expected a level strictly between 0 and 1, got {args.confidence!r}", field="--confidence")
    errored = _fraction(args.max_errored_rate, "--max-errored-rate")
    limits = Thresholds(_fraction(args.max_asr, "--max-asr"), _fraction(args.max_flip_rate, "--max-flip-rate"),
                        _fraction(args.min_clean_accuracy, "--min-clean-accuracy"), confidence=confidence,
                        max_errored_rate=0.0 if errored is None else errored,
                        allow_reader_at_chance=args.allow_reader_at_chance)
    if not limits.any_rate:
        raise InputError("give at least one of --max-asr, --max-flip-rate, --min-clean-accuracy",
                         field="thresholds")
    return limits


def run(args: argparse.Namespace) -> int:
    """Run the config, check thresholds, optionally write JUnit XML; 0 on pass, 1 on a breach."""
    from ragpoison.eval.config import load_configs
    from ragpoison.eval.gate import evaluate
    from ragpoison.eval.sweep import run_sweep

    limits = thresholds(args)
    data = data_files(args)
    out = Path(args.out) if args.out else Path("runs") / f"check-{Path(args.config).stem}"
    # The default folder is check's own scratch space: a gate reruns there whatever config it last held.
    overwrite = args.overwrite or (args.out is None and not args.resume)
    if args.worst_case:
        from ragpoison.eval.robustness import inside_cells, run_robustness

        results, rows, wide = run_robustness(args.config, out, overrides=args.overrides, data=data,
                                             resume=args.resume, overwrite=overwrite)
        console.emit(console.card_table(rows))
        # Every attacked cell inside its defense's threat model is gated: the worst case among them decides.
        report = evaluate(inside_cells(results.summary, wide), limits)
    else:
        configs = load_configs(args.config, args.overrides, data)
        results = run_sweep(configs, out, resume=args.resume, overwrite=overwrite, progress=console.progress)
        console.emit(console.summary_table(results.summary))
        report = evaluate(results.summary, limits)
    if args.junit:
        report.write_junit(args.junit)
    console.emit(report.message())
    return 0 if report.passed else 1
