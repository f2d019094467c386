"""The robustness card: each defense's worst case over the attacks inside its threat model, adaptive ones included.

A defense is judged against attackers who know it (Tramèr et al., NeurIPS 2020): the config's attacks, plus every
registered adaptive attack aimed at a defense in its chain, each at every amount an attacker could choose. The
worst case is taken over the attacks the defense claims to stop (``Defense.threat_model``); what lies outside that
claim is reported beside it with its flip rate, never dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.labels import attack_label, poison_amount
from ragpoison.eval.results import Results
from ragpoison.eval.stack import build_defense_chain
from ragpoison.eval.trial import CellSummary, Trial
from ragpoison.poisoning.defenses.base import OutOfScope, outside_chain
from ragpoison.rag.registry import ATTACKS

AMOUNTS = (1, 2, 3, 5, 10)
"""Passages per target question every attack is tried at (besides the config's own amounts and rates)."""


def widen(config: ExperimentConfig) -> ExperimentConfig:
    """The config with every amount of ``AMOUNTS`` and the adaptive attacks aimed at its defenses added."""
    members = {part for spec in config.defenses for part in spec.name.split("+")}
    listed = {spec.name for spec in config.attacks}
    aimed = [name for name in ATTACKS.names() if ATTACKS.get(name).aims_at & members and name not in listed]
    attacks = [spec.model_dump() for spec in config.attacks]
    if "none" not in listed:
        attacks.insert(0, {"name": "none"})
    per_target = sorted(set(config.poison_per_target or ([] if config.poison_rate else [5])) | set(AMOUNTS))
    return ExperimentConfig.model_validate({**config.model_dump(), "poison_per_target": per_target,
                                            "attacks": attacks + [{"name": name} for name in aimed]})


def reference_amount(config: ExperimentConfig) -> int:
    """The amount the non-adaptive figure is read at: the config's first per-target amount (5 when it has none)."""
    return (config.poison_per_target or [5])[0]


def attack_params(cell: CellSummary) -> dict[str, Any]:
    """The cell's attack params with the attack's defaults filled in."""
    given = json.loads(cell.attack_params) if cell.attack_params else {}
    return ATTACKS.get(cell.attack).Params(**given).model_dump(mode="json")


def out_of_scope(cell: CellSummary, config: ExperimentConfig) -> OutOfScope | None:
    """Why the cell's attack lies outside its defense chain's threat model, or None when it is inside."""
    spec = next(d for d in config.defenses if d.name == cell.defense)
    return outside_chain(build_defense_chain(spec.name, spec.params), cell.attack, attack_params(cell))


def inside_cells(summary: Iterable[CellSummary], config: ExperimentConfig) -> list[CellSummary]:
    """The attacked cells whose attack lies inside the defense's threat model (clean cells kept too)."""
    return [c for c in summary if c.attack == "none" or out_of_scope(c, config) is None]


@dataclass(frozen=True)
class CardRow:
    """One defense's line of the robustness card (``robustness.csv``)."""

    defense: str
    """The defense chain."""
    worst_attack: str
    """The attack and amount with the highest flip rate inside the defense's threat model."""
    worst_flip_rate: float
    """Its flip rate (clean-correct answers turned to the target)."""
    worst_flip_ci_low: float
    """95% Wilson lower bound of that flip rate."""
    worst_flip_ci_high: float
    """95% Wilson upper bound of that flip rate."""
    worst_asr: float
    """Its attack success rate."""
    worst_adaptive: bool
    """The worst attack is one aimed at a defense (adaptive), not a generic one."""
    worst_craft_seconds: float
    """Seconds the worst attack took to craft its poison."""
    aimed_attack: str
    """The worst attack aimed at a defense of this chain (an adaptive attack), at its worst amount."""
    aimed_flip_rate: float
    """Its flip rate (empty when no registered attack aims at this chain)."""
    nonadaptive_attack: str
    """The worst non-adaptive attack at the reference amount (what a table of easy cases shows)."""
    nonadaptive_flip_rate: float
    """Its flip rate."""
    clean_accuracy: float
    """Accuracy with no poison, through the defense."""
    clean_accuracy_cost: float
    """Undefended clean accuracy minus defended clean accuracy."""
    defense_tpr: float
    """Share of poisoned passages the defense dropped, at the worst attack."""
    defense_fpr: float
    """Share of clean passages the defense dropped, at the worst attack."""
    ms_per_question: float
    """The defense's milliseconds per question (median over its cells)."""
    certificate_violations: int | None
    """Certified answers that flipped with no more poison than their radius (robustrag-vote; else empty)."""
    n_cells: int
    """Attacked cells inside the threat model."""
    out_of_threat_model: str
    """Attacks the defense does not claim to stop, each with its worst flip rate and why it lies outside."""


def _cell_name(cell: CellSummary) -> str:
    return f"{attack_label(cell.label_row())} {poison_amount(cell.label_row())}"


def _flip(cell: CellSummary) -> float:
    return -1.0 if math.isnan(cell.flip_rate) else cell.flip_rate


def _worst(cells: list[CellSummary]) -> CellSummary | None:
    """The cell with the highest flip rate (then the higher lower bound, then ASR); None when there is none."""
    ranked = [c for c in cells if not math.isnan(c.flip_rate)]
    return max(ranked, key=lambda c: (c.flip_rate, c.flip_ci_low, c.asr), default=None)


def card(summary: list[CellSummary], trials: list[Trial], config: ExperimentConfig, reference: int = 5,
         ) -> list[CardRow]:
    """One row per defense chain in ``config``, in its order; the non-adaptive figure is read at ``reference``."""
    clean = {c.defense: c for c in summary if c.attack == "none"}
    undefended = clean.get("none")
    rows = []
    for spec in config.defenses:
        attacked = [c for c in summary if c.defense == spec.name and c.attack != "none"]
        reasons = {c.cell_id: out_of_scope(c, config) for c in attacked}
        inside = [c for c in attacked if reasons[c.cell_id] is None]
        worst = _worst(inside)
        generic = [c for c in inside if not ATTACKS.get(c.attack).aims_at and c.poison_rate is None
                   and c.poison_per_target == reference]
        easy = _worst(generic)
        members = set(spec.name.split("+"))
        aimed = _worst([c for c in inside if ATTACKS.get(c.attack).aims_at & members])
        nan = math.nan
        base = clean.get(spec.name)
        clean_accuracy = base.clean_accuracy if base is not None else (worst.clean_accuracy if worst else nan)
        times = sorted(c.defense_ms_per_question for c in [*attacked, *([base] if base else [])])
        rows.append(CardRow(
            defense=spec.name, worst_attack=_cell_name(worst) if worst else "",
            worst_flip_rate=worst.flip_rate if worst else nan, worst_flip_ci_low=worst.flip_ci_low if worst else nan,
            worst_flip_ci_high=worst.flip_ci_high if worst else nan, worst_asr=worst.asr if worst else nan,
            worst_adaptive=bool(worst and ATTACKS.get(worst.attack).aims_at),
            worst_craft_seconds=worst.craft_seconds if worst else nan,
            aimed_attack=_cell_name(aimed) if aimed else "", aimed_flip_rate=aimed.flip_rate if aimed else nan,
            nonadaptive_attack=_cell_name(easy) if easy else "",
            nonadaptive_flip_rate=easy.flip_rate if easy else nan, clean_accuracy=clean_accuracy,
            clean_accuracy_cost=(undefended.clean_accuracy - clean_accuracy) if undefended else nan,
            defense_tpr=worst.defense_tpr if worst else nan, defense_fpr=worst.defense_fpr if worst else nan,
            ms_per_question=times[len(times) // 2] if times else nan,
            certificate_violations=certificate_violations(trials, spec.name)
            if "robustrag-vote" in spec.name.split("+") else None,
            n_cells=len(inside), out_of_threat_model=_outside(attacked, reasons)))
    return rows


def _outside(attacked: list[CellSummary], reasons: Mapping[str, OutOfScope | None]) -> str:
    """Each attack outside the threat model at its worst amount: 'label N=5: flip 0.85 (why)'."""
    groups: dict[str, list[CellSummary]] = {}
    for cell in attacked:
        if reasons[cell.cell_id] is not None:
            groups.setdefault(attack_label(cell.label_row()), []).append(cell)
    parts = []
    for cells in groups.values():
        worst = _worst(cells) or cells[0]
        reason = reasons[worst.cell_id]
        why = reason.why if reason is not None else ""
        parts.append(f"{_cell_name(worst)}: flip {_flip(worst):.2f} ({why})")
    return "; ".join(parts)


def certificate_violations(trials: Iterable[Trial], defense: str) -> int:
    """Answers RobustRAG certified at radius r that changed when at most r injected passages reached the vote.

    The injection certificate's premise is checked per trial: the poison only added passages (no edited clean
    passage, no rewritten query) and the clean passages that still vote are the clean cell's top ones, the rest
    having been pushed out. Trials outside that premise are not counted either way.
    """
    mine = [t for t in trials if t.defense == defense]
    clean = {t.qid: t for t in mine if t.attack == "none" and not t.errored}
    violations = 0
    for trial in mine:
        base = clean.get(trial.qid)
        if trial.attack == "none" or trial.errored or trial.triggered or base is None:
            continue
        poisoned = trial.context_poison_ids
        if not poisoned or any(not p.startswith("poison::") for p in poisoned):
            continue
        radius = base.certified_radius or 0
        voting_clean = [d for d in trial.context_ids if d not in set(poisoned)]
        premise = set(voting_clean) == set(base.context_ids[: len(base.context_ids) - len(poisoned)])
        if premise and len(poisoned) <= radius and trial.answer != base.answer:
            violations += 1
    return violations


def write_card(rows: list[CardRow], path: Path) -> None:
    """Write ``robustness.csv`` (numbers to three decimals; NaN and None as empty cells)."""
    names = [f.name for f in fields(CardRow)]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(value) for key, value in dataclasses.asdict(row).items()})
    tmp.replace(path)


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return value


def read_card(path: Path) -> list[dict[str, str]]:
    """``robustness.csv`` read back as text rows."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def load_single(path: str | Path, overrides: list[str], data: dict[str, str | None]) -> ExperimentConfig:
    """The one config a robustness run takes (grid axes would mix cards)."""
    from ragpoison.eval.config import load_configs
    from ragpoison.rag.errors import InputError

    configs = load_configs(path, overrides, data)
    if len(configs) != 1:
        raise InputError(f"a robustness card takes one config, this one expands to {len(configs)}: "
                         "give seed, k, retriever and store one value each", path=str(path))
    return configs[0]


def run_robustness(path: str | Path, out: Path, *, overrides: list[str] | None = None,
                   data: dict[str, str | None] | None = None, resume: bool = False, overwrite: bool = False,
                   progress_bar: bool = False) -> tuple[Results, list[CardRow], ExperimentConfig]:
    """Run the widened config into ``out`` and write ``out/robustness.csv``.

    Returns the results, the card and the widened config that ran.
    """
    from ragpoison.eval import console
    from ragpoison.eval.sweep import run_sweep

    config = load_single(path, overrides or [], data or {})
    wide = widen(config)
    results = run_sweep([wide], out, resume=resume, overwrite=overwrite, progress=console.progress,
                        progress_bar=progress_bar)
    rows = card(results.summary, results.trials, wide, reference_amount(config))
    write_card(rows, out / "robustness.csv")
    return results, rows, wide
