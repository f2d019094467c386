"""CLI subcommands: one module per command, each with ``HELP``, ``add_arguments(parser)`` and ``run(args)``.

A module added here becomes a ``ragpoison`` subcommand named after it (underscores become dashes).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def command_modules() -> dict[str, ModuleType]:
    """Every command module, keyed by its command name."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found[info.name.replace("_", "-")] = importlib.import_module(f"{__name__}.{info.name}")
    return found
