"""Per-cell trial files: each cell's records are written atomically, so a killed sweep resumes cleanly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ragpoison.eval.results import atomic_write
from ragpoison.eval.trial import Trial


class CellStore:
    """A folder of ``<cell_id>.jsonl`` files, one per finished cell."""

    def __init__(self, out_dir: str | Path, *, resume: bool) -> None:
        self.folder = Path(out_dir) / "cells"
        if not resume and self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # A run killed while writing a cell leaves its temporary file; the cell itself was never finished.
        for stale in self.folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def _path(self, cell_id: str) -> Path:
        return self.folder / f"{cell_id}.jsonl"

    def has(self, cell_id: str) -> bool:
        """True when the cell finished in an earlier (possibly killed) run with every trial answered.

        A cell holding an errored trial (a backend outage) is not done: a resumed run reads it again.
        """
        if not self._path(cell_id).exists():
            return False
        return not any(trial.errored or trial.clean_errored for trial in self.read(cell_id))

    def read(self, cell_id: str) -> list[Trial]:
        """The cell's trials (a cell written by an earlier version reads too: see ``Trial.from_row``)."""
        path = self._path(cell_id)
        with path.open(encoding="utf-8") as handle:
            return [Trial.from_row(json.loads(line), path) for line in handle if line.strip()]

    def write(self, cell_id: str, trials: list[Trial]) -> None:
        """Write a finished cell in one atomic rename: one JSON object of columns per line."""
        text = "".join(json.dumps(trial.as_row(), sort_keys=True) + "\n" for trial in trials)
        atomic_write(self._path(cell_id), lambda p: p.write_text(text, encoding="utf-8"))
