"""Bundled corpora and question sets."""

from pathlib import Path


def bundled(name: str = "clinical_mini") -> dict[str, Path]:
    """Paths of a bundled set: its corpus folder, MIRAGE questions and targets."""
    root = Path(__file__).resolve().parent / name
    return {"corpus": root / "corpus", "questions": root / "benchmark.json", "targets": root / "targets.json"}
