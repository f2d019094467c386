"""``ragpoison compare BASE_RUN NEW_RUN``: is the new run's defense significantly worse, cell by cell."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "compare two runs cell by cell with McNemar's exact test (exit 1 if a defended cell got worse)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``compare``."""
    parser.add_argument("base", help="the reference run's folder (ragpoison run --out)")
    parser.add_argument("new", help="the run to judge against it")
    parser.add_argument("--alpha", default="0.05", help="significance level of the paired test (default 0.05)")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here (one case per shared cell)")


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        raise InputError(f"expected a level strictly between 0 and 1, got {text!r}", field="--alpha")
    return value


def run(args: argparse.Namespace) -> int:
    """Compare the runs, print a table and the verdict; 1 when a defended cell is significantly worse."""
    from ragpoison.eval.compare import compare_runs, render, write_junit
    from ragpoison.eval.results import Results

    alpha = _alpha(args.alpha)
    base, new = Results.read(Path(args.base)), Results.read(Path(args.new))
    changes = compare_runs(base.trials, new.trials, alpha)
    if args.junit:
        write_junit(changes, Path(args.junit))
    console.emit(render(changes))
    return 1 if any(change.worse for change in changes) else 0
