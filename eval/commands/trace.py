"""``ragpoison trace RUN_DIR``: which passages made each wrong answer of a finished run, and how well that is found."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragpoison.eval import console

HELP = "trace every wrong answer of a finished run to the passages that caused it (trace.csv, trace_summary.csv)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``trace``."""
    parser.add_argument("run_dir", help="a finished run's folder (ragpoison run --out)")
    parser.add_argument("--method", default="leave-one-out",
                        help="traceback method (ragpoison list tracebacks; default leave-one-out)")


def run(args: argparse.Namespace) -> int:
    """Trace, write the two CSV files into the run folder and print the summary."""
    from ragpoison.eval.forensics import trace_run
    from ragpoison.rag.registry import TRACEBACKS

    TRACEBACKS.get(args.method, key="--method")  # an unknown method is refused before the stack is built
    folder = Path(args.run_dir)
    _, summaries = trace_run(folder, args.method, progress=console.progress)
    console.emit(console.trace_table(summaries))
    console.emit(f"\nwrote {folder / 'trace.csv'}, {folder / 'trace_summary.csv'}")
    return 0
