"""``ragpoison trace``: which passages made a wrong answer, on a finished run or in a user's own store.

``trace RUN_DIR`` traces every wrong answer of a finished run and scores it against the poison labels.
``trace --config CONFIG --question ... --answer ...`` (or ``--incidents FILE``) traces an incident in a user's
store, and ``--quarantine`` takes the flagged passages out through a journal ``ragpoison restore`` undoes.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "trace wrong answers to the passages behind them: a finished run, or an incident in your store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``trace``."""
    parser.add_argument("run_dir", nargs="?", help="a finished run's folder (ragpoison run --out)")
    parser.add_argument("--method", default=None,
                        help="traceback method (ragpoison list tracebacks; default leave-one-out)")
    incident = parser.add_argument_group("incident mode (your own store)")
    incident.add_argument("--config", help="incident config: your store, its embedder, the reader (YAML)")
    incident.add_argument("--question", help="the question the system answered wrongly")
    incident.add_argument("--answer", help="the wrong answer it gave")
    incident.add_argument("--expected", help="the answer it should have given")
    incident.add_argument("--incidents", help="JSON Lines of incidents: question, answer, expected or options")
    incident.add_argument("--quarantine", action="store_true",
                          help="take the flagged passages out of the store, journaled (undo: ragpoison restore)")
    incident.add_argument("--with-copies", action="store_true", help="quarantine the flagged passages' copies too")
    incident.add_argument("--journal", help="the quarantine's journal (default: quarantine-TIMESTAMP.jsonl here)")


def run(args: argparse.Namespace) -> int:
    """Trace a run folder, or incidents in a user's store."""
    from ragpoison.rag.registry import TRACEBACKS

    if args.method is not None:
        TRACEBACKS.get(args.method, key="--method")  # an unknown method is refused before anything is built
    if args.config is None:
        if args.run_dir is None:
            raise InputError("give a run folder, or --config with --question/--answer or --incidents",
                             field="run_dir")
        if args.question or args.incidents or args.quarantine:
            raise InputError("--question, --incidents and --quarantine need --config (incident mode)",
                             field="--config")
        return _trace_run(Path(args.run_dir), args.method or "leave-one-out")
    if args.run_dir is not None:
        raise InputError("a run folder and --config cannot be traced together", field="run_dir")
    return _trace_incidents(args)


def _trace_run(folder: Path, method: str) -> int:
    from ragpoison.eval.forensics import trace_run

    _, summaries = trace_run(folder, method, progress=console.progress)
    console.emit(console.trace_table(summaries))
    console.emit(f"\nwrote {folder / 'trace.csv'}, {folder / 'trace_summary.csv'}")
    return 0


def _trace_incidents(args: argparse.Namespace) -> int:
    from ragpoison.eval.incident import Incident, load_incident_config, load_incidents

    config = load_incident_config(args.config)
    if args.incidents:
        if args.question or args.answer:
            raise InputError("give --incidents or --question/--answer, not both", field="--incidents")
        incidents = load_incidents(args.incidents)
    elif args.question is None or args.answer is None:
        raise InputError("incident mode needs --question and --answer (or --incidents)", field="--answer")
    else:
        incidents = [Incident.build("incident", args.question, args.answer, args.expected, where="--")]
    if args.journal and not args.quarantine:
        raise InputError("--journal names the quarantine's journal; add --quarantine", field="--journal")
    from ragpoison.eval.incident_trace import IncidentTracer, store_where

    tracer = IncidentTracer(config, args.method, progress=console.progress)
    traces = [tracer.trace(incident) for incident in incidents]
    console.emit(console.incident_report(traces, tracer.method, store_where(tracer.spec)))
    if args.quarantine:
        ids = list(dict.fromkeys(i for t in traces for i in t.ids(args.with_copies)))
        if not ids:
            console.emit("nothing flagged: nothing quarantined")
            return 0
        from ragpoison.eval.langchain.quarantine import quarantine

        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        journal = Path(args.journal or f"quarantine-{stamp}.jsonl")
        quarantine(tracer.store, tracer.spec, ids, journal)
        console.emit(f"quarantined {len(ids)} passages; journal {journal} (undo: ragpoison restore {journal})")
    return 0
