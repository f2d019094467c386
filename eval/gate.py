"""The CI gate: thresholds on the defended cells of a run, with a JUnit XML report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from ragpoison.eval.labels import poison_amount
from ragpoison.eval.results import atomic_write


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
        text = ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode")
        atomic_write(Path(path), lambda p: p.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n"))


def cell_label(row: dict) -> str:
    """Name a cell by what defines it."""
    label = f"attack={row['attack']} defense={row['defense']}"
    if row["attack"] != "none":
        label += f" {poison_amount(row)}"
    extra = [f"{key}={row[key]}" for key in ("retriever", "k", "seed") if key in row]
    return " ".join([label, *extra])


def evaluate(summary: list[dict], thresholds: Thresholds) -> GateReport:
    """Check each defended cell; attack thresholds (ASR, flip rate) apply only to cells with an attack."""
    verdicts = []
    for row in summary:
        if row["defense"] == "none":
            continue
        verdict = CellVerdict(cell_label(row))
        attacked = row["attack"] != "none"
        checks = [
            ("asr", thresholds.max_asr, attacked, lambda v, t: v > t, ">"),
            ("flip_rate", thresholds.max_flip_rate, attacked, lambda v, t: v > t, ">"),
            ("clean_accuracy", thresholds.min_clean_accuracy, True, lambda v, t: v < t, "<"),
        ]
        for key, limit, applies, broken, sign in checks:
            value = row[key]
            if limit is None or not applies or (isinstance(value, float) and math.isnan(value)):
                continue
            if broken(value, limit):
                verdict.breaches.append(f"{key} {value:.3f} {sign} {'max' if sign == '>' else 'min'} {limit:g}")
        verdicts.append(verdict)
    return GateReport(verdicts)
