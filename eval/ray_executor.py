"""Run cells as Ray tasks: clean cells first (attack cells compare against them), one task per condition."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from ragpoison.eval.cellstore import CellStore
from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.runner import Cell, Experiment
from ragpoison.eval.trial import Baseline, Trial
from ragpoison.rag.errors import InputError

_ENV = ("RAGPOISON_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _run_cells(config_json: dict[str, Any], cells: list[Cell], clean_answers: dict[str, dict[str, Baseline]],
               ) -> list[tuple[str, list[Trial]]]:
    """A Ray task: the trials of cells that share a condition, compared with the clean answers given."""
    experiment = Experiment(ExperimentConfig(**config_json))
    for defense, answers in clean_answers.items():
        experiment.clean_answers[defense] = answers
    return [(cell.cell_id, experiment.run_cell(cell)) for cell in cells]


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (ray.init would retry for minutes)."""
    if address in ("auto", "local"):
        return
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"expected HOST:PORT, 'ray://HOST:PORT' or 'auto', got {address!r}", field="--ray-address")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}",
                         field="--ray-address") from None


def _connect(address: str | None) -> tuple[Any, bool]:
    """Connect to the cluster at ``address``, or start a local instance; returns (ray, whether we started it)."""
    try:
        import ray
    except ImportError:
        raise InputError("ray is not installed (pip install ray)", field="--executor") from None
    if ray.is_initialized():  # a caller that already holds a Ray session (a notebook, a test) keeps it
        return ray, False
    if address is not None:
        _check_reachable(address)
    env = {key: os.environ[key] for key in _ENV if key in os.environ}
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env} if env else None)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot reach the Ray cluster: {first}", field="--ray-address") from None
    return ray, True


def run_on_ray(experiments: list[Experiment], plans: list[list[Cell]], store: CellStore, address: str | None,
               advance: Callable[[int], None]) -> None:
    """Run unfinished cells on Ray, writing each cell to the store as its task returns."""
    ray, started = _connect(address)
    remote = ray.remote(_run_cells)
    try:
        for clean_phase in (True, False):
            pending: dict[Any, Experiment] = {}
            for experiment, cells in zip(experiments, plans, strict=True):
                groups: dict[str, list[Cell]] = {}
                for cell in cells:
                    if cell.condition.is_clean != clean_phase:
                        continue
                    if store.has(cell.cell_id):
                        trials = store.read(cell.cell_id)
                        if clean_phase:
                            experiment.remember_clean(cell.defense.name, trials)
                        advance(len(trials))
                        continue
                    groups.setdefault(cell.condition.key, []).append(cell)
                config_json = experiment.config.model_dump(mode="json")
                for group in groups.values():
                    ref = remote.remote(config_json, group, dict(experiment.clean_answers))
                    pending[ref] = experiment
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                experiment = pending.pop(done[0])
                for cell_id, trials in ray.get(done[0]):
                    store.write(cell_id, trials)
                    if clean_phase:
                        experiment.remember_clean(trials[0].defense, trials)
                    advance(len(trials))
    finally:
        if started:  # disconnects from a cluster, or stops the local instance started here
            ray.shutdown()
