"""Local Hugging Face model directories: checked, described and hashed for the manifest."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ragpoison.rag._hub import resolve_model
from ragpoison.rag.cache import default_cache_dir
from ragpoison.rag.errors import InputError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def check_model_dir(path: str | Path, field: str) -> Path:
    """The resolved directory, or an InputError naming the config key when it is not a model directory."""
    if not str(path).strip():
        raise InputError("a model directory is required", field=field)
    folder = resolve_model(str(path), field).path  # a local directory, or a hub id's cached snapshot
    if not folder.is_dir():
        raise InputError("model directory not found", path=folder, field=field)
    if not (folder / "config.json").is_file():
        raise InputError("not a Hugging Face model directory (no config.json)", path=folder, field=field)
    return folder.resolve()


def _files(folder: Path) -> list[Path]:
    # Hidden entries (.cache, .git) are download bookkeeping, not part of the model.
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _signature(folder: Path, files: list[Path]) -> str:
    stats = [(str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()


def model_dir_sha256(path: str | Path, cache_dir: Path | None = None) -> str:
    """sha256 over every file's relative name and bytes; cached by (names, sizes, mtimes) since weights are large."""
    folder = Path(path).resolve()
    files = _files(folder)
    signature = _signature(folder, files)
    cache_file = (cache_dir or default_cache_dir()) / "model-hashes.json"
    cache = _read_json(cache_file)
    cached = cache.get(str(folder))
    if isinstance(cached, dict) and cached.get("signature") == signature:
        return cached["sha256"]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(folder)).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    value = digest.hexdigest()
    cache = _read_json(cache_file)  # re-read: another run may have added a model meanwhile
    cache[str(folder)] = {"signature": signature, "sha256": value}
    _write_json(cache_file, cache)
    return value


def _read_json(file: Path) -> dict:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(file: Path, data: dict) -> None:
    """Write through a temporary file and rename, so a concurrent reader never sees half a file."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, file)
    except OSError:
        pass  # the cache only saves time; an unwritable cache folder must not fail a run


@dataclass
class ModelDirInfo:
    """What a model directory holds, and what stops it from loading."""

    path: Path
    model_type: str = ""
    architectures: list[str] = field(default_factory=list)
    n_params: int | None = None
    weight_bytes: int = 0
    has_tokenizer: bool = False
    has_chat_template: bool = False
    max_position_embeddings: int | None = None
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: architecture, size, tokenizer and chat template."""
        n = self.n_params
        size = "unknown size" if not n else (f"{n / 1e9:.2f}B params" if n >= 1e9 else f"{n / 1e6:.1f}M params")
        arch = ",".join(self.architectures) or self.model_type or "unknown architecture"
        template = "chat template" if self.has_chat_template else "no chat template (plain-text prompts)"
        return f"{arch}, {size}, {self.weight_bytes / 2**20:.1f} MiB of weights, {template}"


def _safetensors_params(file: Path) -> int:
    with file.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")


def inspect_model_dir(path: str | Path) -> ModelDirInfo:
    """Describe a model directory without loading it (safetensors headers give the parameter count)."""
    folder = Path(path).expanduser()
    info = ModelDirInfo(folder)
    if not folder.is_dir():
        info.problems.append("not a directory")
        return info
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        info.problems.append("no config.json")
        config = {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        info.problems.append("config.json is not valid JSON")
        config = {}
    info.model_type = str(config.get("model_type", ""))
    info.architectures = list(config.get("architectures") or [])
    info.max_position_embeddings = config.get("max_position_embeddings")
    weights = [f for f in _files(folder) if f.suffix in WEIGHT_SUFFIXES]
    info.weight_bytes = sum(f.stat().st_size for f in weights)
    if not weights:
        info.problems.append("no weight files (*.safetensors, *.bin)")
    safetensors = [f for f in weights if f.suffix == ".safetensors"]
    if safetensors:
        try:
            info.n_params = sum(_safetensors_params(f) for f in safetensors)
        except (OSError, ValueError, KeyError, struct.error):
            info.problems.append("unreadable safetensors header")
    info.has_tokenizer = any((folder / name).is_file() for name in TOKENIZER_FILES)
    if not info.has_tokenizer:
        info.problems.append("no tokenizer files")
    info.has_chat_template = _has_chat_template(folder)
    return info


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return bool(config.get("chat_template"))
