"""``ragpoison doctor``: which generator backends this machine can run, and why not."""

from __future__ import annotations

import argparse
import json

from ragpoison.eval import console

HELP = "say which generator backends (extractive, transformers, openai, vllm) this machine can run, and why not"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``doctor``."""
    parser.add_argument("model_dirs", nargs="*", metavar="MODEL_DIR", help="model directories to check")
    parser.add_argument("--base-url", action="append", default=[], help="an OpenAI-compatible server to check")
    parser.add_argument("--require", action="append", default=[], metavar="BACKEND",
                        help="exit 1 unless this backend is usable (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace) -> int:
    """Print every check; exit 1 only when a --require'd backend, model or server is unusable."""
    from ragpoison.eval.doctor import diagnose

    checks = diagnose(args.model_dirs, args.base_url)
    if args.json:
        console.emit(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        section = None
        for check in checks:
            if check.section != section:
                section = check.section
                console.emit(f"{section}:")
            console.emit(f"  {check.name.ljust(width)}  {check.status.ljust(4)}  {check.detail}")
    by_name = {c.name: c for c in checks}
    missing = [name for name in args.require if not (name in by_name and by_name[name].usable)]
    failed = [c.name for c in checks if c.section in ("model", "server") and not c.usable]
    for name in missing:
        console.error(f"required backend {name!r} is not usable here")
    return 1 if missing or failed else 0
