"""Sweeps: expand a config's grid into cells, run them locally or on Ray, persist each cell, resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ragpoison.eval.cellstore import CellStore
from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.results import Results, summarize
from ragpoison.eval.run_folder import prepare, run_lock, sweep_hash
from ragpoison.eval.runner import Cell, Experiment, plan_cells
from ragpoison.eval.stack import Stack

Progress = Callable[[str], None]


class _Bar:
    """A progress bar over cells and questions on stderr (silent when not wanted)."""

    def __init__(self, total_cells: int, total_questions: int, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total_questions, unit="q", desc=f"cells 0/{total_cells}")
        self.cells, self.total_cells = 0, total_cells

    def advance(self, questions: int) -> None:
        self.cells += 1
        if self._bar is not None:
            self._bar.set_description(f"cells {self.cells}/{self.total_cells}")
            self._bar.update(questions)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_sweep(configs: list[ExperimentConfig], out_dir: str | Path, *, resume: bool = False,
              overwrite: bool = False, executor: str = "local", address: str | None = None,
              progress: Progress | None = None, progress_bar: bool = False) -> Results:
    """Run every cell of every config, writing each finished cell before starting the next, then the results.

    The run holds ``out_dir``'s lock from start to end (a second run into it fails at once), and refuses a folder
    holding another config's results unless told to ``resume`` the same config or ``overwrite`` them.
    """
    say = progress or (lambda _msg: None)
    stacks: dict[str, Stack] = {}  # configs that differ only in k, seed or cells share one indexed stack
    experiments = [Experiment(config, say, stacks) for config in configs]  # validates inputs first
    out = Path(out_dir)
    with run_lock(out, say):
        prepare(out, sweep_hash([e.config_hash for e in experiments]), resume=resume, overwrite=overwrite)
        results = _run(experiments, CellStore(out, resume=resume), executor, address, progress_bar)
        results.write(out)
    return results


def _run(experiments: list[Experiment], store: CellStore, executor: str, address: str | None,
         progress_bar: bool) -> Results:
    plans = _unique_plans(experiments)
    bar = _Bar(sum(map(len, plans)), sum(len(p) * len(e.inputs.questions) for p, e in zip(plans, experiments,
                                                                                         strict=True)),
               progress_bar)
    try:
        if executor == "ray":
            from ragpoison.eval.ray_executor import run_on_ray

            run_on_ray(experiments, plans, store, address, bar.advance)
        else:
            for experiment, cells in zip(experiments, plans, strict=True):
                _run_local(experiment, cells, store, bar.advance)
    finally:
        bar.close()
    trials = [trial for plan in plans for cell in plan if cell.requested for trial in store.read(cell.cell_id)]
    first = experiments[0]
    results = Results(trials=trials, summary=summarize(trials), config=first.config, inputs=first.inputs,
                      embedder=first.embedder)
    results.manifest["grid"] = [e.config.model_dump(mode="json", include={"seed", "k", "retriever", "store",
                                                                        "retrieval_mode"})
                                for e in experiments]
    results.manifest["n_cells"] = sum(map(len, plans))
    return results


def _unique_plans(experiments: list[Experiment]) -> list[list[Cell]]:
    """Each experiment's cells, a cell repeated by the grid (``seed=[0,0]``, an attack listed twice) kept once."""
    seen: set[str] = set()
    plans = []
    for experiment in experiments:
        plan = []
        for cell in plan_cells(experiment.config):
            if cell.cell_id not in seen:
                seen.add(cell.cell_id)
                plan.append(cell)
        plans.append(plan)
    return plans


def _run_local(experiment: Experiment, cells: list[Cell], store: CellStore, advance: Callable[[int], None]) -> None:
    for cell in cells:
        if store.has(cell.cell_id):
            trials = store.read(cell.cell_id)
            if cell.condition.is_clean:
                experiment.remember_clean(cell.defense.name, trials)
        else:
            trials = experiment.run_cell(cell)
            store.write(cell.cell_id, trials)
        advance(len(trials))
