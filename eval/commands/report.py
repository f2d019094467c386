"""``ragpoison report``: write DIR/report.html with plots from a finished run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "write DIR/report.html with plots from a finished run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``report``."""
    parser.add_argument("dir")


def run(args: argparse.Namespace) -> int:
    """Check the folder holds a finished run, then write the report."""
    from ragpoison.eval.html_report import write_report

    folder = Path(args.dir)
    for name in ("summary.csv", "trials.parquet", "manifest.json"):
        if not (folder / name).is_file():
            raise InputError("not a finished run (run `ragpoison run CONFIG --out DIR` first)", path=folder / name)
    console.emit(f"wrote {write_report(folder)}")
    return 0
