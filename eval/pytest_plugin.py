"""A pytest plugin: the ``ragpoison_gate`` fixture lets a team assert on a defense inside its own suite.

It loads by itself wherever ragpoison is installed (a ``pytest11`` entry point): nothing to add to a conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ragpoison.eval.gate import GateReport, Thresholds, evaluate


def run_gate(config: str | Path, out_dir: str | Path, *, overrides: Sequence[str] = (), **limits: Any) -> GateReport:
    """Run a config and check its defended cells against thresholds.

    ``limits`` are ``Thresholds``' fields: ``max_asr``, ``max_flip_rate``, ``min_clean_accuracy``, ``confidence``
    (e.g. 0.95: gate on the Wilson bound, not the point), ``max_errored_rate`` (default 0) and
    ``allow_reader_at_chance``.
    """
    from ragpoison.eval.config import load_configs
    from ragpoison.eval.sweep import run_sweep

    thresholds = Thresholds(**limits)
    results = run_sweep(load_configs(config, list(overrides)), out_dir, overwrite=True)
    return evaluate(results.summary, thresholds)


@pytest.fixture
def ragpoison_gate(tmp_path: Path) -> Callable[..., GateReport]:
    """Return ``gate(config, **thresholds) -> GateReport``; ``assert report.passed, report.message()``."""

    def gate(config: str | Path, **kwargs: Any) -> GateReport:
        return run_gate(config, tmp_path / "ragpoison", **kwargs)

    return gate
