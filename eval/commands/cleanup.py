"""``ragpoison cleanup``: remove from a user's store the passages an interrupted attack injected."""

from __future__ import annotations

import argparse

from ragpoison.eval import console

HELP = "remove injected passages an interrupted attack left in a store (from its journal)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cleanup``."""
    parser.add_argument("journal", help="the journal the attack wrote (JSON Lines)")


def run(args: argparse.Namespace) -> int:
    """Reopen the journal's store, delete the ids it lists as injected and not removed, mark them removed."""
    from ragpoison.eval.langchain.journal import cleanup

    report = cleanup(args.journal)
    if report.removed == 0 and report.already_gone == 0:
        console.emit(f"{args.journal}: nothing to clean ({report.store} holds no passage injected by this journal)")
    else:
        console.emit(f"{args.journal}: removed {report.removed} injected passages from {report.store}"
                       + (f" ({report.already_gone} were already gone)" if report.already_gone else ""))
    return 0
