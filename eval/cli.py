"""The ``ragpoison`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eval import reporting
from rag.errors import InputError

EXIT_INPUT = 2
LIST_KINDS = ("attacks", "defenses", "generators", "retrievers", "stores", "embedders")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragpoison",
                                     description="Retrieval-poisoning testbed for clinical RAG pipelines.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every cell of an experiment config")
    run.add_argument("config", help="experiment YAML (see configs/)")
    run.add_argument("--out", help="results folder (default: runs/<config name>)")
    run.add_argument("--corpus", help="MedRAG JSONL file or folder (overrides data.corpus)")
    run.add_argument("--questions", help="MIRAGE benchmark.json (overrides data.questions)")
    run.add_argument("--targets", help="targets JSON (overrides data.targets)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set k=10 --set retriever.kind=dense")
    lister = sub.add_parser("list", help="list registered plugins and their descriptions")
    lister.add_argument("kind", nargs="?", choices=LIST_KINDS, default="attacks")
    return parser




def _cmd_run(args: argparse.Namespace) -> int:
    from eval.config import load_config
    from eval.runner import run_experiment

    config = load_config(args.config, args.overrides,
                         {"corpus": args.corpus, "questions": args.questions, "targets": args.targets})
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    results = run_experiment(config, progress=reporting.progress)
    paths = results.write(out)
    reporting.emit(reporting.summary_table(results.summary))
    reporting.emit(f"\nwrote {paths['summary']}, {paths['trials']}, {paths['manifest']}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from rag.registry import REGISTRIES

    registry = REGISTRIES[args.kind.rstrip("s")]
    descriptions = registry.describe()
    width = max(map(len, descriptions), default=0)
    for name, text in descriptions.items():
        reporting.emit(f"{name.ljust(width)}  {text}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, run the command, turn input errors into exit code 2."""
    args = _parser().parse_args(argv)
    handlers = {"run": _cmd_run, "list": _cmd_list}
    try:
        return handlers[args.command](args)
    except InputError as exc:
        reporting.error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        reporting.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
