"""Results: per-trial records, per-cell summaries and a manifest, each written atomically."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ragpoison.eval import metrics
from ragpoison.rag.generators.runtime import generator_provenance
from ragpoison.rag.types import UNPARSED

# Corrupted-passage counts k' for which a certifying defense's accuracy is reported.
CERTIFIED_KS = (1, 2, 3)
SUMMARY_COLUMNS = (
    "attack", "attack_params", "defense", "poison_per_target", "poison_rate", "n_poison", "poison_rate_actual",
    "retriever", "retrieval_mode", "store", "generator", "answer_mode", "k", "seed", "n_questions",
    "clean_accuracy", "accuracy_under_attack", "asr", "asr_ci_low", "asr_ci_high", "target_rate_clean",
    "flip_rate", "unparsed_rate", "poison_precision_at_k", "poison_recall_at_k", "poison_f1_at_k",
    "poison_hit_rate", "defense_tpr", "defense_fpr",
    *(f"certified_accuracy_k{k}" for k in CERTIFIED_KS), "craft_seconds", "defense_ms_per_question", "cell_id",
)
PACKAGES = ("ragpoison", "numpy", "faiss-cpu", "sentence-transformers", "torch", "transformers", "pydantic",
            "pandas", "pyarrow", "bm25s", "chromadb")


def summarize(trials: list[dict]) -> list[dict]:
    """One summary row per cell, in first-seen order."""
    cells: dict[str, list[dict]] = {}
    for row in trials:
        cells.setdefault(row["cell_id"], []).append(row)
    return [summarize_cell(rows) for rows in cells.values()]


def summarize_cell(rows: list[dict]) -> dict[str, Any]:
    """Metrics of one cell from its trial records."""
    first = rows[0]
    k = first["k"]
    n = len(rows)
    hits = sum(r["answered_target"] for r in rows)
    low, high = metrics.wilson_interval(hits, n)
    poison_ids = {d for r in rows for d in r["own_poison_ids"]} | {d for r in rows for d in r["context_poison_ids"]}
    context = [r["context_ids"] for r in rows]
    attacked = first["attack"] != "none"
    precision = metrics.poison_precision(context, poison_ids, k) if attacked else 0.0
    recall = metrics.poison_recall(context, [set(r["own_poison_ids"]) for r in rows], k)
    defended = first["defense"] != "none"
    radii = [r.get("certified_radius") for r in rows]
    certified = any(_present(radius) for radius in radii)
    return {
        "attack": first["attack"], "attack_params": first.get("attack_params", ""), "defense": first["defense"],
        "poison_per_target": first["poison_per_target"],
        "poison_rate": first["poison_rate"], "n_poison": first["n_poison"],
        "poison_rate_actual": first["poison_rate_actual"], "retriever": first["retriever"],
        "retrieval_mode": first.get("retrieval_mode", "question"),
        "store": first["store"], "generator": first["generator"], "answer_mode": first.get("answer_mode", "choice"),
        "k": k, "seed": first["seed"], "n_questions": n,
        "clean_accuracy": metrics.rate(r["clean_correct"] for r in rows),
        "accuracy_under_attack": metrics.rate(r["correct"] for r in rows),
        "asr": hits / n, "asr_ci_low": low, "asr_ci_high": high,
        "target_rate_clean": metrics.rate(_clean_hit(r) for r in rows),
        "flip_rate": metrics.flip_rate([r["clean_correct"] for r in rows], [r["answered_target"] for r in rows]),
        "unparsed_rate": metrics.rate(r["answer"] == UNPARSED for r in rows),
        "poison_precision_at_k": precision,
        "poison_recall_at_k": recall,
        "poison_f1_at_k": metrics.f1(precision, recall),
        "poison_hit_rate": metrics.poison_hit_rate(context, poison_ids, k) if attacked else 0.0,
        "defense_tpr": metrics.ratio(sum(r["dropped_poison"] for r in rows), sum(r["seen_poison"] for r in rows))
        if defended else math.nan,
        "defense_fpr": metrics.ratio(sum(r["dropped_clean"] for r in rows), sum(r["seen_clean"] for r in rows))
        if defended else math.nan,
        **{f"certified_accuracy_k{kk}": metrics.rate(
            r["correct"] and _present(radius) and radius >= kk for r, radius in zip(rows, radii, strict=True))
           if certified else math.nan for kk in CERTIFIED_KS},
        "craft_seconds": first["craft_seconds"],
        "defense_ms_per_question": metrics.rate_mean(r["defense_ms"] for r in rows),
        "cell_id": first["cell_id"],
    }


def _clean_hit(row: dict) -> bool:
    """Whether the clean answer hit the target (cells written before open-answer mode only have the letter)."""
    hit = row.get("clean_answered_target")
    return row["clean_answer"] == row["target"] if hit is None else bool(hit)


def _present(value: Any) -> bool:
    """True for a recorded number (not None, not NaN as a round trip through parquet leaves it)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; results are ordinary files
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class Results:
    """An experiment's trials, cell summaries and provenance."""

    trials: list[dict]
    summary: list[dict]
    config: Any = None
    inputs: Any = None
    embedder: Any = None
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.manifest and self.config is not None:
            self.manifest = self._build_manifest()

    def _build_manifest(self) -> dict:
        inputs, embedder = self.inputs, self.embedder
        return {
            "config": self.config.model_dump(mode="json"),
            "config_hash": self.config.config_hash(),
            "seed": self.config.seed,
            "data": inputs.paths if inputs else None,
            "corpus_sha256": inputs.corpus_hash if inputs else None,
            "n_passages": len(inputs.corpus) if inputs else None,
            "n_questions": len(inputs.questions) if inputs else None,
            "targets_assigned_by_seed": sum(t.assigned_by_seed for t in inputs.targets.values()) if inputs else None,
            "embedder": {"kind": self.config.embedder.kind,
                         "model_path": str(getattr(embedder, "model_path", "")),
                         "identity": getattr(embedder, "identity", "")},
            "generator": generator_provenance(self.config.generator.kind, self.config.generator.params),
            "packages": package_versions(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        }

    def to_dataframe(self):
        """Trials in long format: one row per question per cell."""
        import pandas as pd

        return pd.DataFrame(self.trials)

    def summary_dataframe(self):
        """One row per cell."""
        import pandas as pd

        return pd.DataFrame(self.summary, columns=list(SUMMARY_COLUMNS))

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write summary.csv, trials.parquet and manifest.json (each atomically)."""
        out = Path(out_dir)
        paths = {"summary": out / "summary.csv", "trials": out / "trials.parquet", "manifest": out / "manifest.json"}
        atomic_write(paths["trials"], lambda p: self.to_dataframe().to_parquet(p, index=False))
        atomic_write(paths["summary"], lambda p: self.summary_dataframe().to_csv(p, index=False))
        atomic_write(paths["manifest"],
                      lambda p: p.write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n"))
        return paths

    @classmethod
    def read(cls, out_dir: str | Path) -> Results:
        """Read results written by ``write``."""
        import pandas as pd

        out = Path(out_dir)
        trials = pd.read_parquet(out / "trials.parquet").to_dict("records")
        for row in trials:
            for key, value in row.items():
                if hasattr(value, "tolist"):
                    row[key] = value.tolist()
        summary = pd.read_csv(out / "summary.csv").to_dict("records")
        manifest = json.loads((out / "manifest.json").read_text())
        return cls(trials=trials, summary=summary, manifest=manifest)
