"""Results: per-trial records, per-cell summaries and a manifest, each written atomically."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ragpoison.eval import metrics
from ragpoison.eval.trial import SUMMARY_COLUMNS, TRIAL_COLUMNS, CellSummary, Trial
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._runtime import generator_provenance
from ragpoison.rag.types import UNPARSED

if TYPE_CHECKING:
    import pandas as pd
    from ragpoison.eval.config import ExperimentConfig
    from ragpoison.eval.stack import Inputs
    from ragpoison.rag.embedders.base import Embedder

PACKAGES = ("ragpoison", "numpy", "faiss-cpu", "sentence-transformers", "torch", "transformers", "pydantic",
            "pandas", "pyarrow", "bm25s", "chromadb")


def summarize(trials: list[Trial]) -> list[CellSummary]:
    """One summary per cell, in first-seen order."""
    cells: dict[str, list[Trial]] = {}
    for trial in trials:
        cells.setdefault(trial.cell_id, []).append(trial)
    return [summarize_cell(rows) for rows in cells.values()]


def summarize_cell(trials: list[Trial]) -> CellSummary:
    """Metrics of one cell from its trials; errored trials are counted apart and left out of every rate."""
    first = trials[0]
    k = first.k
    n = len(trials)
    rows = [t for t in trials if not t.errored]
    clean = [t for t in trials if not t.clean_errored]
    eligible = [t for t in rows if not t.clean_errored and t.clean_correct]
    hits = sum(r.answered_target for r in rows)
    low, high = metrics.wilson_interval(hits, len(rows))
    flips = sum(t.answered_target for t in eligible)
    flip_low, flip_high = metrics.wilson_interval(flips, len(eligible))
    chance = chance_rate(clean)
    clean_low, _ = metrics.wilson_interval(sum(t.clean_correct for t in clean), len(clean))
    errored = [t for t in trials if t.errored]
    poison_ids = {d for t in trials for d in t.own_poison_ids} | {d for t in trials for d in t.context_poison_ids}
    context = [t.context_ids for t in trials]  # retrieval metrics do not depend on whether the reader answered
    attacked = first.attack != "none"
    precision = metrics.poison_precision(context, poison_ids, k) if attacked else 0.0
    recall = metrics.poison_recall(context, [set(t.own_poison_ids) for t in trials], k)
    defended = first.defense != "none"
    certified = any(r.certified_radius is not None for r in rows)

    def certified_accuracy(kk: int) -> float:
        if not certified:
            return math.nan
        return metrics.rate(r.correct and r.certified_radius is not None and r.certified_radius >= kk for r in rows)

    return CellSummary(
        attack=first.attack, attack_params=first.attack_params, defense=first.defense,
        poison_per_target=first.poison_per_target, poison_rate=first.poison_rate, n_poison=first.n_poison,
        poison_rate_actual=first.poison_rate_actual, retriever=first.retriever, retrieval_mode=first.retrieval_mode,
        store=first.store, generator=first.generator, answer_mode=(rows[0] if rows else first).answer_mode, k=k,
        seed=first.seed,
        n_questions=n, n_errored=len(errored), errored_rate=len(errored) / n,
        error_example=errored[0].error if errored else "", n_answered=len(rows), n_clean_answered=len(clean),
        clean_accuracy=metrics.rate(t.clean_correct for t in clean),
        chance_rate=chance, reader_above_chance=bool(clean) and clean_low > chance,
        accuracy_under_attack=metrics.rate(r.correct for r in rows),
        asr=metrics.ratio(hits, len(rows)), asr_ci_low=low, asr_ci_high=high,
        target_rate_clean=metrics.rate(_clean_hit(t) for t in clean),
        flip_rate=metrics.ratio(flips, len(eligible)), flip_ci_low=flip_low, flip_ci_high=flip_high,
        n_flip_eligible=len(eligible),
        unparsed_rate=metrics.rate(r.answer == UNPARSED for r in rows),
        poison_precision_at_k=precision,
        poison_recall_at_k=recall,
        poison_f1_at_k=metrics.f1(precision, recall),
        poison_hit_rate=metrics.poison_hit_rate(context, poison_ids, k) if attacked else 0.0,
        defense_tpr=metrics.ratio(sum(t.dropped_poison for t in trials), sum(t.seen_poison for t in trials))
        if defended else math.nan,
        defense_fpr=metrics.ratio(sum(t.dropped_clean for t in trials), sum(t.seen_clean for t in trials))
        if defended else math.nan,
        certified_accuracy_k1=certified_accuracy(1), certified_accuracy_k2=certified_accuracy(2),
        certified_accuracy_k3=certified_accuracy(3),
        craft_seconds=first.craft_seconds,
        defense_ms_per_question=metrics.rate_mean(t.defense_ms for t in trials),
        cell_id=first.cell_id,
    )


def chance_rate(trials: list[Trial]) -> float:
    """What a reader that cannot read scores: the larger of the uniform-guess and the majority-answer rate.

    The uniform guess picks among each question's options at random; the majority answer is always the most
    common correct letter (55% "yes" on PubMedQA, for example).
    """
    if not trials:
        return math.nan
    known = [t.n_options for t in trials if t.n_options > 0]
    uniform = sum(1 / n for n in known) / len(known) if known else 0.0
    golds = Counter(t.gold for t in trials)
    return max(uniform, golds.most_common(1)[0][1] / len(trials))


def _clean_hit(trial: Trial) -> bool:
    """Whether the clean answer hit the target (results from before open-answer mode only have the letter)."""
    hit = trial.clean_answered_target
    return trial.clean_answer == trial.target if hit is None else hit


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

    trials: list[Trial]
    summary: list[CellSummary]
    config: ExperimentConfig | None = None
    inputs: Inputs | None = None
    embedder: Embedder | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.manifest and self.config is not None:
            self.manifest = self._build_manifest(self.config)

    def _build_manifest(self, config: ExperimentConfig) -> dict[str, Any]:
        inputs = self.inputs
        return {
            "config": config.model_dump(mode="json"),
            "config_hash": config.config_hash(),
            "seed": config.seed,
            "data": inputs.paths if inputs else None,
            "corpus_sha256": inputs.corpus_hash if inputs else None,
            "n_passages": len(inputs.corpus) if inputs else None,
            "n_questions": len(inputs.questions) if inputs else None,
            "targets_assigned_by_seed": sum(t.assigned_by_seed for t in inputs.targets.values()) if inputs else None,
            "embedder": embedder_provenance(config, self.embedder),
            "generator": generator_provenance(config.generator.kind, config.generator.params),
            "packages": package_versions(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        }

    def to_dataframe(self) -> pd.DataFrame:
        """Trials in long format: one row per question per cell, a column per ``Trial`` field."""
        import pandas as pd

        return pd.DataFrame([trial.as_row() for trial in self.trials], columns=list(TRIAL_COLUMNS))

    def summary_dataframe(self) -> pd.DataFrame:
        """One row per cell, a column per ``CellSummary`` field."""
        import pandas as pd

        return pd.DataFrame([cell.as_row() for cell in self.summary], columns=list(SUMMARY_COLUMNS))

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
        """Read results written by ``write``; the summaries are recomputed from the trials, the record of truth.

        Columns added to ``Trial`` since a run was written take their defaults; a run lacking a column a trial
        needs is an ``InputError`` naming the file and the column.
        """
        import pandas as pd

        out = Path(out_dir)
        path = out / "trials.parquet"
        if not path.is_file():
            raise InputError("no trials.parquet here: not the folder of a finished ragpoison run", path=out)
        frame = pd.read_parquet(path)
        rows = cast(list[dict[str, Any]], frame.to_dict("records"))
        trials = [Trial.from_row(row, path) for row in rows]
        manifest_path = out / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        return cls(trials=trials, summary=summarize(trials), manifest=manifest)


def embedder_provenance(config: ExperimentConfig, embedder: Embedder | None) -> dict[str, Any]:
    """The embedder as the manifest records it: kind, params, weights' folder (``model_path``) and identity.

    The identity is the model's name and a fingerprint of its files; ``device`` and ``precision`` are the ones
    actually used (``auto`` resolved on this machine).
    """
    params = config.embedder.model_dump(mode="json")["params"]
    identity = embedder.identity if embedder is not None else ""
    source = embedder.source if embedder is not None else str(params.get("model") or "")
    numerics = embedder.numerics if embedder is not None else None
    ran = ({"device": numerics.device, "precision": numerics.precision, "compiled": numerics.compiled}
           if numerics is not None else {})
    origin = embedder.origin_provenance() if embedder is not None else {}
    return {"kind": config.embedder.kind, "params": params, "identity": identity, "model_path": source, **ran,
            **origin}
