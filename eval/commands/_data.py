"""The arguments every command that runs a config shares: the data files it reads and key overrides."""

from __future__ import annotations

import argparse


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--corpus``, ``--questions``, ``--targets`` (replacing the config's ``data``) and ``--set KEY=VALUE``."""
    parser.add_argument("--corpus", help="MedRAG JSONL file or folder (overrides data.corpus)")
    parser.add_argument("--questions", help="MIRAGE benchmark.json (overrides data.questions)")
    parser.add_argument("--targets", help="targets JSON (overrides data.targets)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set k=10 --set seed=[0,1,2]")


def data_files(args: argparse.Namespace) -> dict[str, str | None]:
    """The data files given on the command line (None where the config's stand)."""
    return {"corpus": args.corpus, "questions": args.questions, "targets": args.targets}
