"""Experiment configuration: pydantic models that refuse unknown keys, loaded from YAML.

Precedence is CLI > YAML > defaults. Paths in a YAML file are relative to that file; paths given on the
command line are relative to the working directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import validation_to_input_error


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ComponentConfig(Strict):
    """A pluggable stage chosen by registry name, with its parameters."""

    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class PluginSpec(Strict):
    """An attack or defense by registry name, with its parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class PoisonAmounts(Strict):
    """Poison amounts as lists that sweep: passages per target question, or fractions of the corpus."""

    poison_per_target: list[int] | None = Field(
        None, description="passages per target question; default [5] unless poison_rate is set")
    poison_rate: list[float] | None = Field(None, description="poison as a fraction of the corpus size")

    @field_validator("poison_per_target", "poison_rate", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return _as_amounts(value)

    @field_validator("poison_per_target")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        return _check_counts(value)

    @field_validator("poison_rate")
    @classmethod
    def _fraction(cls, value: list[float] | None) -> list[float] | None:
        return _check_rates(value)


class AttackSpec(PluginSpec, PoisonAmounts):
    """An attack with, optionally, its own poison amounts (else the experiment's apply to it)."""


def _as_amounts(value: Any) -> Any:
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _check_counts(value: list[int] | None) -> list[int] | None:
    if value is not None and (not value or any(n < 1 for n in value)):
        raise ValueError("must be one or more integers >= 1")
    return value


def _check_rates(value: list[float] | None) -> list[float] | None:
    if value is not None and (not value or any(not 0 < r <= 1 for r in value)):
        raise ValueError("must be one or more fractions in (0, 1]")
    return value


class IngestConfig(Strict):
    """The ``ingest`` section: how documents become passages (``ragpoison ingest``, ``data.documents``)."""

    chunk_size: int = Field(1000, ge=50, description="characters per chunk (MedRAG: 1000)")
    chunk_overlap: int = Field(200, ge=0, description="characters shared by neighbouring chunks (MedRAG: 200)")
    source: str = Field("ingest", min_length=1, description="the source field every chunk carries")
    visible_only: bool = Field(False, description="extract only the text a reader of the rendered document sees")


class DataConfig(Strict):
    """Where the corpus, questions and targets come from (None: the bundled clinical_mini set)."""

    corpus: str | None = None
    documents: str | None = Field(None, description="a folder of HTML, PDF and Markdown documents, ingested as corpus")
    questions: str | None = None
    targets: str | None = None


def _as_specs(value: Any) -> Any:
    if isinstance(value, (str, dict)):
        value = [value]
    if isinstance(value, list):
        return [{"name": item} if isinstance(item, str) else item for item in value]
    return value


class ExperimentConfig(PoisonAmounts):
    """One experiment: the RAG stack, the data and the grid of attacks x defenses x poison amounts."""

    seed: int = 0
    k: int = Field(5, ge=1)
    fetch_k: int = Field(20, ge=1, description="candidates retrieved for the defenses to filter")
    max_questions: int | None = Field(None, ge=1)
    embedder: ComponentConfig = ComponentConfig(kind="sentence-transformers")
    store: ComponentConfig = ComponentConfig(kind="faiss")
    retriever: ComponentConfig = ComponentConfig(kind="dense")
    generator: ComponentConfig = ComponentConfig(kind="extractive")
    data: DataConfig = DataConfig()
    ingest: IngestConfig = IngestConfig()
    attacks: list[AttackSpec] = Field(default_factory=lambda: [AttackSpec(name="none")])
    defenses: list[PluginSpec] = Field(default_factory=lambda: [PluginSpec(name="none")])
    retrieval_mode: Literal["question", "paraphrase"] = Field(
        "question", description="what the retriever embeds: the question, or a seeded paraphrase of it")

    @field_validator("attacks", "defenses", mode="before")
    @classmethod
    def _specs(cls, value: Any) -> Any:
        return _as_specs(value)

    def poison_amounts(self, spec: AttackSpec | None = None) -> list[tuple[int, float | None]]:
        """Each poison amount as (passages per target, corpus rate or None); per-target amounts first.

        An attack that names its own amounts uses those instead of the experiment's.
        """
        per_target, rates = self.poison_per_target, self.poison_rate
        if spec is not None and (spec.poison_per_target is not None or spec.poison_rate is not None):
            per_target, rates = spec.poison_per_target, spec.poison_rate
        if per_target is None and rates is None:
            per_target = [5]
        return [(n, None) for n in per_target or []] + [(0, r) for r in rates or []]

    def config_hash(self) -> str:
        """Stable hash of the resolved configuration."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def scope_hash(self) -> str:
        """Hash of everything but the cell lists: what a cell's results depend on besides its own spec."""
        scope = self.model_dump(mode="json", exclude={"attacks", "defenses", "poison_per_target", "poison_rate"})
        return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:16]


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InputError(f"cannot set a key under non-mapping {part!r}", field=dotted)
        node = child
    node[parts[-1]] = value


def parse_override(item: str) -> tuple[str, Any]:
    """Parse one ``dotted.key=value`` override; the value is read as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise InputError(f"expected dotted.key=value, got {item!r}", field="--set")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


# Keys whose value may be a list in YAML or --set; each combination becomes its own ExperimentConfig.
GRID_AXES = ("seed", "k", "retriever.kind", "store.kind", "retrieval_mode")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML config file's top-level mapping (empty file: {}), with one-line errors naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such config file", path=path)
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError("malformed YAML", path=path, line=mark.line + 1 if mark else None) from None
    if not isinstance(tree, dict):
        raise InputError("expected a mapping at the top level", path=path)
    return tree


def _read_tree(path: str | Path | None, overrides: list[str], data: dict[str, str | None] | None,
               ) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        tree = read_yaml_mapping(path)
        section = tree.get("data")
        if isinstance(section, dict):
            for key, value in section.items():
                if isinstance(value, str) and not Path(value).is_absolute():
                    section[key] = str((path.parent / value).resolve())
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(tree, key, value)
    for key, value in (data or {}).items():
        if value is not None:
            _set_dotted(tree, f"data.{key}", str(Path(value).resolve()))
    return tree


def _get_dotted(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _expand(tree: dict[str, Any]) -> list[dict[str, Any]]:
    trees = [tree]
    for axis in GRID_AXES:
        value = _get_dotted(tree, axis)
        if isinstance(value, list):
            if not value:
                raise InputError("an empty list gives no cells", field=axis)
            expanded = []
            for base in trees:
                for item in value:
                    copy = json.loads(json.dumps(base))
                    _set_dotted(copy, axis, item)
                    expanded.append(copy)
            trees = expanded
    return trees


def load_configs(path: str | Path | None, overrides: Sequence[str] = (),
                 data: dict[str, str | None] | None = None) -> list[ExperimentConfig]:
    """Read a YAML config with overrides and expand its grid axes into one config per combination."""
    tree = _read_tree(path, list(overrides), data)
    configs = []
    for item in _expand(tree):
        try:
            configs.append(ExperimentConfig(**item))
        except ValidationError as exc:
            raise validation_to_input_error(exc, path=None if path is None else str(path)) from None
    return configs


def load_config(path: str | Path | None, overrides: Sequence[str] = (), data: dict[str, str | None] | None = None,
                ) -> ExperimentConfig:
    """Read a YAML config, apply ``--set`` overrides and data paths, and validate (no grid axes)."""
    configs = load_configs(path, overrides, data)
    if len(configs) != 1:
        raise InputError(f"expands into {len(configs)} configs; use load_configs", field="grid")
    return configs[0]
