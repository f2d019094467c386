"""``ragpoison restore``: put back, exactly, the passages a quarantine took out of a store (from its journal)."""

from __future__ import annotations

import argparse

from ragpoison.eval import console

HELP = "put back the passages a quarantine (trace --quarantine) took out of a store, exactly (from its journal)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``restore``."""
    parser.add_argument("journal", help="the journal the quarantine wrote (JSON Lines)")


def run(args: argparse.Namespace) -> int:
    """Reopen the journal's store, add back every quarantined record not yet restored, mark them restored."""
    from ragpoison.eval.langchain.quarantine import restore

    report = restore(args.journal)
    if report.restored == 0 and report.still_there == 0:
        console.emit(f"{args.journal}: nothing to restore")
    else:
        console.emit(f"{args.journal}: restored {report.restored} quarantined passages to {report.store}"
                     + (f" ({report.still_there} had not been removed yet)" if report.still_there else ""))
    return 0
