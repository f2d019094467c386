"""What this machine offers the LLM backends: packages, GPUs, and vLLM's requirements."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
from importlib import metadata

from ragpoison.rag.errors import InputError

VLLM_HINT = "pip install vllm==0.25.0 on a CUDA machine (vllm 0.25.0 pins torch 2.11.0)"
# Environment variables that decide whether vLLM's outputs repeat run to run (see its reproducibility notes).
VLLM_DETERMINISM_ENV = ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_BATCH_INVARIANT", "CUBLAS_WORKSPACE_CONFIG",
                        "PYTHONHASHSEED")


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def has_module(name: str) -> bool:
    """True when a top-level module can be imported (found without importing it)."""
    return importlib.util.find_spec(name) is not None


def require_vllm(field: str = "generator.kind") -> None:
    """Raise a one-line InputError when vllm is not installed."""
    if not has_module("vllm"):
        raise InputError(f"the vllm package is not installed; {VLLM_HINT} (see `ragpoison doctor`)", field=field)


def vllm_torch_pin() -> str | None:
    """The torch version the installed vllm requires (``torch==X``), if it pins one."""
    for requirement in metadata.requires("vllm") or []:
        match = re.match(r"torch\s*==\s*([\w.+]+)", requirement)
        if match and "extra ==" not in requirement:
            return match.group(1)
    return None


def cpu_name() -> str:
    """The CPU model name."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[dict]:
    """CUDA devices torch can see: name, memory and compute capability (empty without torch or CUDA)."""
    if not has_module("torch"):
        return []
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        devices = []
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append({"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                            "capability": f"{props.major}.{props.minor}"})
    except (ImportError, OSError, RuntimeError):  # a broken CUDA install: report no GPU rather than fail
        return []
    return devices


def hardware() -> dict:
    """The machine's GPUs, CUDA runtime and CPU, as the manifest records them."""
    cuda = None
    if has_module("torch"):
        try:
            import torch

            cuda = torch.version.cuda
        except (ImportError, OSError, RuntimeError):
            pass
    return {"gpus": gpus(), "cuda": cuda, "cpu": cpu_name(), "cpu_count": os.cpu_count()}


def determinism_env() -> dict[str, str | None]:
    """The values of the environment variables that govern vLLM's reproducibility."""
    return {name: os.environ.get(name) for name in VLLM_DETERMINISM_ENV}


def generator_provenance(kind: str, params: dict) -> dict:
    """The manifest's generator entry: a fresh (unloaded) generator describes itself; errors are recorded."""
    from ragpoison.rag.registry import GENERATORS

    try:
        return GENERATORS.create(kind, params, key="generator.kind").provenance()
    except InputError as exc:
        return {"kind": kind, "params": params, "error": str(exc)}
