"""``ragpoison robustness``: every defense against every attack, the adaptive ones aimed at it, at every amount."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragpoison.eval import console
from ragpoison.eval.commands._data import add_data_arguments, data_files

HELP = "each defense's worst case over the attacks inside its threat model, adaptive ones included"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robustness``."""
    parser.add_argument("config", help="experiment YAML naming the defenses and the generic attacks")
    parser.add_argument("--out", help="results folder (default: runs/robustness-<config name>)")
    add_data_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="keep finished cells in --out and run the rest")
    parser.add_argument("--overwrite", action="store_true", help="clear --out's results of another config first")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the widened sweep, write robustness.csv beside its results and print the card."""
    from ragpoison.eval.robustness import run_robustness

    out = Path(args.out) if args.out else Path("runs") / f"robustness-{Path(args.config).stem}"
    _, rows, _ = run_robustness(args.config, out, overrides=args.overrides,
                                data=data_files(args),
                                resume=args.resume, overwrite=args.overwrite, progress_bar=not args.no_progress)
    console.emit(console.card_table(rows))
    console.emit(f"\nwrote {out / 'robustness.csv'} (cells in {out / 'summary.csv'})")
    return 0
