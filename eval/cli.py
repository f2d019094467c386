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
                     help="override a config key, e.g. --set k=10 --set seed=[0,1,2]")
    run.add_argument("--resume", action="store_true", help="keep finished cells in --out and run the rest")
    run.add_argument("--executor", choices=("local", "ray"), default="local", help="where cells run")
    run.add_argument("--ray-address", help="Ray cluster address (default: start a local instance)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    check = sub.add_parser("check", help="run a config and gate on its defended cells (exit 1 on a breach)")
    check.add_argument("config")
    check.add_argument("--out", help="results folder (default: runs/check-<config name>)")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    check.add_argument("--max-asr", type=float)
    check.add_argument("--max-flip-rate", type=float)
    check.add_argument("--min-clean-accuracy", type=float)
    check.add_argument("--junit", help="write a JUnit XML report here")
    report = sub.add_parser("report", help="write DIR/report.html with plots from a finished run")
    report.add_argument("dir")
    lister = sub.add_parser("list", help="list registered plugins and their descriptions")
    lister.add_argument("kind", nargs="?", choices=LIST_KINDS, default="attacks")
    return parser




def _cmd_run(args: argparse.Namespace) -> int:
    from eval.config import load_configs
    from eval.sweep import run_sweep

    configs = load_configs(args.config, args.overrides,
                           {"corpus": args.corpus, "questions": args.questions, "targets": args.targets})
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    results = run_sweep(configs, out, resume=args.resume, executor=args.executor, address=args.ray_address,
                        progress=reporting.progress, progress_bar=not args.no_progress)
    paths = results.write(out)
    reporting.emit(reporting.summary_table(results.summary))
    reporting.emit(f"\nwrote {paths['summary']}, {paths['trials']}, {paths['manifest']}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from eval.config import load_configs
    from eval.gate import Thresholds, evaluate
    from eval.sweep import run_sweep

    configs = load_configs(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / f"check-{Path(args.config).stem}"
    results = run_sweep(configs, out, progress=reporting.progress)
    results.write(out)
    report = evaluate(results.summary, Thresholds(args.max_asr, args.max_flip_rate, args.min_clean_accuracy))
    if args.junit:
        report.write_junit(args.junit)
    reporting.emit(reporting.summary_table(results.summary))
    reporting.emit(report.message())
    return 0 if report.passed else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from eval.report import write_report

    folder = Path(args.dir)
    for name in ("summary.csv", "trials.parquet", "manifest.json"):
        if not (folder / name).is_file():
            raise InputError("not a finished run (run `ragpoison run CONFIG --out DIR` first)", path=folder / name)
    reporting.emit(f"wrote {write_report(folder)}")
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
    handlers = {"run": _cmd_run, "check": _cmd_check, "report": _cmd_report, "list": _cmd_list}
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
