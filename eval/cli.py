"""The ``ragpoison`` command line: one subcommand per module of ``ragpoison.eval.commands``."""

from __future__ import annotations

import argparse
import sys

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

EXIT_INPUT = 2


def _parser(commands: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragpoison",
                                     description="Retrieval-poisoning testbed for clinical RAG pipelines.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in commands.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, run the command, turn input errors into exit code 2."""
    from ragpoison.eval.commands import command_modules

    commands = command_modules()
    args = _parser(commands).parse_args(argv)
    try:
        return commands[args.command].run(args)
    except InputError as exc:
        console.error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
