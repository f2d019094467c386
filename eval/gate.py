"""The CI gate: thresholds on the defended cells of a run, with a JUnit XML report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from ragpoison.eval.labels import poison_amount
from ragpoison.eval.results import atomic_write
from ragpoison.eval.trial import CellSummary


@dataclass(frozen=True)
class Thresholds:
    """Limits a defended cell must meet; None means not checked."""

    max_asr: float | None = None
    max_flip_rate: float | None = None
    min_clean_accuracy: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_asr", "max_flip_rate", "min_clean_accuracy"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction between 0 and 1, got {value!r}")


@dataclass
class CellVerdict:
    """One defended cell and the thresholds it breaks."""

    label: str
    breaches: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the cell meets every threshold."""
        return not self.breaches


@dataclass
class GateReport:
    """Verdicts over every defended cell (defense other than 'none')."""

    verdicts: list[CellVerdict]

    @property
    def passed(self) -> bool:
        """True when every defended cell passed and there was at least one."""
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)

    @property
    def failures(self) -> list[CellVerdict]:
        """The cells that break a threshold."""
        return [v for v in self.verdicts if not v.passed]

    def message(self) -> str:
        """A human-readable summary naming each failing cell."""
        if not self.verdicts:
            return "FAIL: the config has no defended cell (every defense is 'none')"
        if self.passed:
            return f"PASS: {len(self.verdicts)} defended cells within thresholds"
        lines = [f"FAIL: {len(self.failures)} of {len(self.verdicts)} defended cells break a threshold"]
        lines += [f"  {v.label}: {'; '.join(v.breaches)}" for v in self.failures]
        return "\n".join(lines)

    def write_junit(self, path: str | Path) -> None:
        """Write one JUnit test case per defended cell."""
        suite = ET.Element("testsuite", name="ragpoison.check", tests=str(len(self.verdicts)),
                           failures=str(len(self.failures)))
        for verdict in self.verdicts:
            case = ET.SubElement(suite, "testcase", classname="ragpoison.check", name=verdict.label)
            for breach in verdict.breaches:
                ET.SubElement(case, "failure", message=breach).text = breach
        text = ET.tostring(suite, encoding="unicode")
        atomic_write(Path(path), lambda p: p.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n"))


def cell_label(cell: CellSummary) -> str:
    """Name a cell by what defines it."""
    label = f"attack={cell.attack} defense={cell.defense}"
    if cell.attack != "none":
        label += f" {poison_amount(cell.label_row())}"
    return f"{label} retriever={cell.retriever} k={cell.k} seed={cell.seed}"


def evaluate(summary: list[CellSummary], thresholds: Thresholds) -> GateReport:
    """Check each defended cell; attack thresholds (ASR, flip rate) apply only to cells with an attack."""
    verdicts = []
    for cell in summary:
        if cell.defense == "none":
            continue
        verdict = CellVerdict(cell_label(cell))
        attacked = cell.attack != "none"
        checks = [
            ("asr", cell.asr, thresholds.max_asr, attacked, ">"),
            ("flip_rate", cell.flip_rate, thresholds.max_flip_rate, attacked, ">"),
            ("clean_accuracy", cell.clean_accuracy, thresholds.min_clean_accuracy, True, "<"),
        ]
        for name, value, limit, applies, sign in checks:
            if limit is None or not applies or math.isnan(value):
                continue
            if (value > limit) if sign == ">" else (value < limit):
                verdict.breaches.append(f"{name} {value:.3f} {sign} {'max' if sign == '>' else 'min'} {limit:g}")
        verdicts.append(verdict)
    return GateReport(verdicts)
