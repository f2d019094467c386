"""``ragpoison run``: run every cell of an experiment config and write its results."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragpoison.eval import console
from ragpoison.eval.commands._data import add_data_arguments, data_files

HELP = "run every cell of an experiment config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``run``."""
    parser.add_argument("config", help="experiment YAML (see configs/)")
    parser.add_argument("--out", help="results folder (default: runs/<config name>)")
    add_data_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="keep finished cells in --out and run the rest")
    parser.add_argument("--overwrite", action="store_true",
                        help="clear --out's previous results first (a folder holding another config's results "
                             "is refused without it)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="where cells run")
    parser.add_argument("--ray-address", help="Ray cluster address (default: start a local instance)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the sweep, write summary.csv, trials.parquet and manifest.json, print the table."""
    from ragpoison.eval.config import load_configs
    from ragpoison.eval.sweep import run_sweep
    from ragpoison.rag.errors import InputError

    if args.ray_address is not None and args.executor != "ray":
        raise InputError("a cluster address needs --executor ray", field="--ray-address")
    configs = load_configs(args.config, args.overrides,
                           data_files(args))
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    results = run_sweep(configs, out, resume=args.resume, overwrite=args.overwrite, executor=args.executor,
                        address=args.ray_address,
                        progress=console.progress, progress_bar=not args.no_progress)
    console.emit(console.summary_table(results.summary))
    console.emit(f"\nwrote {out / 'summary.csv'}, {out / 'trials.parquet'}, {out / 'manifest.json'}")
    return 0
