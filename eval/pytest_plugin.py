"""A pytest plugin: the ``ragpoison_gate`` fixture lets a team assert on a defense inside its own suite.

Enable it in a conftest.py with ``pytest_plugins = ["ragpoison.eval.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ragpoison.eval.gate import GateReport, Thresholds, evaluate


def run_gate(config: str | Path, out_dir: str | Path, *, overrides: Sequence[str] = (), max_asr: float | None = None,
             max_flip_rate: float | None = None, min_clean_accuracy: float | None = None) -> GateReport:
    """Run a config and check its defended cells against thresholds."""
    from ragpoison.eval.config import load_configs
    from ragpoison.eval.sweep import run_sweep

    results = run_sweep(load_configs(config, list(overrides)), out_dir)
    results.write(out_dir)
    return evaluate(results.summary, Thresholds(max_asr, max_flip_rate, min_clean_accuracy))


@pytest.fixture
def ragpoison_gate(tmp_path: Path) -> Callable[..., GateReport]:
    """Return ``gate(config, **thresholds) -> GateReport``; ``assert report.passed, report.message()``."""

    def gate(config: str | Path, **kwargs: Any) -> GateReport:
        return run_gate(config, tmp_path / "ragpoison", **kwargs)

    return gate
