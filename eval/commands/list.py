"""``ragpoison list``: registered plugins and their one-line descriptions."""

from __future__ import annotations

import argparse

from ragpoison.eval import console

HELP = "list registered plugins and their descriptions"
KINDS = ("attacks", "defenses", "generators", "retrievers", "stores", "embedders", "tracebacks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``list``."""
    parser.add_argument("kind", nargs="?", choices=KINDS, default="attacks")


def run(args: argparse.Namespace) -> int:
    """Print each plugin of the kind with the first line of its docstring."""
    from ragpoison.rag.registry import REGISTRIES

    descriptions = REGISTRIES[args.kind.removesuffix("s")].describe()
    width = max(map(len, descriptions), default=0)
    for name, text in descriptions.items():
        console.emit(f"{name.ljust(width)}  {text}")
    return 0
