"""Where and in what precision an embedder runs: ``device`` and ``precision`` resolved once, checked, recorded.

``device: auto`` is CUDA when torch sees a GPU, else the CPU. ``precision: auto`` is bfloat16 where the device
accelerates it (a CPU with AMX or AVX512-BF16, a CUDA GPU with bf16) and float32 elsewhere: on a CPU without
those units bfloat16 is emulated and several times slower than float32, so ``auto`` never picks it there.
Reduced precision runs the model under ``torch.autocast`` (matrix products in the low precision, norms and
softmax in float32), and the vectors come back as float32. ``compile: true`` runs the model's forward pass
compiled by ``torch.compile`` (inductor, weights frozen into the graph) on the CPU; see ``_compiled``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ragpoison.rag.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterator

Precision = Literal["auto", "float32", "bfloat16", "float16"]
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class Numerics:
    """The resolved device and precision an embedder runs with (what the manifest and the cache key record)."""

    device: str
    precision: str
    compiled: bool = False

    @property
    def device_type(self) -> str:
        """``cuda`` for any ``cuda:N``, else the device as given."""
        return self.device.split(":", 1)[0]

    @property
    def key(self) -> str:
        """The part of an embedder's identity that changes its vectors: precision, device type, compilation."""
        return f"{self.precision}@{self.device_type}{'+compiled' if self.compiled else ''}"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Run the model's forward passes in this precision (a no-op for float32)."""
        if self.precision == "float32":
            yield
            return
        import torch

        with torch.autocast(self.device_type, dtype=getattr(torch, self.precision)):
            yield


@cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def accelerates_bfloat16(device_type: str) -> bool:
    """Whether the device has bfloat16 arithmetic units (not emulation)."""
    if device_type == "cpu":
        return any(flag in cpu_flags() for flag in CPU_BF16_FLAGS)
    if device_type == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    return False


def resolve_device(requested: str, field: str = "embedder.params.device") -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``; an explicit CUDA device must exist."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {requested!r} asked for, but torch sees no CUDA GPU (use device: auto)", field=field)
    return requested


def resolve_precision(requested: str, device: str, field: str = "embedder.params.precision",
                      bf16: bool | None = None) -> str:
    """``auto`` picks bfloat16 where the device accelerates it, else float32; refuses what the device cannot run.

    An explicit ``bfloat16`` runs on any CPU (emulated, and slower, where it has no bfloat16 units: a way to
    reproduce on one machine kind what ``auto`` gave on another); a GPU without bfloat16 refuses it, and
    ``float16`` needs a CUDA device. ``bf16`` overrides the hardware probe (tests of other machines).
    """
    device_type = device.split(":", 1)[0]
    fast = accelerates_bfloat16(device_type) if bf16 is None else bf16
    if requested == "auto":
        return "bfloat16" if fast else "float32"
    if requested == "bfloat16" and device_type != "cpu" and not fast:
        raise InputError(f"bfloat16 asked for on {device}, which has no bfloat16 support (use precision: auto, "
                         "float32 or float16)", field=field)
    if requested == "float16" and device_type != "cuda":
        raise InputError(f"float16 needs a CUDA device, not {device} (use precision: auto, float32 or bfloat16)",
                         field=field)
    return requested


def has_cxx_compiler() -> bool:
    """Whether inductor can find a C++ compiler: ``$CXX``, ``g++`` or ``clang++`` on ``PATH``."""
    return any(shutil.which(name) for name in (os.environ.get("CXX"), "g++", "clang++") if name)


def check_compile(device: str, field: str = "embedder.params.compile") -> None:
    """``compile: true`` needs the CPU (the compiled path is the fixed-shape one) and a C++ compiler for inductor."""
    if device.split(":", 1)[0] != "cpu":
        raise InputError(f"compile is supported on the CPU only, not on {device} (set compile: false)", field=field)
    if not has_cxx_compiler():
        raise InputError("compile: true needs a C++ compiler for torch.compile (g++ or clang++ on PATH, or $CXX)",
                         field=field)


def resolve(device: str, precision: str, prefix: str = "embedder.params", compiled: bool = False) -> Numerics:
    """Every setting resolved and checked, naming the config key at fault."""
    resolved = resolve_device(device, f"{prefix}.device")
    numerics = Numerics(resolved, resolve_precision(precision, resolved, f"{prefix}.precision"), compiled)
    if compiled:
        check_compile(resolved, f"{prefix}.compile")
    return numerics
