"""Which generator backends this machine can run, and why not: GPU, vllm, transformers, model directories."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._runtime import VLLM_HINT, cpu_name, gpus, has_module, package_version, vllm_torch_pin


@dataclass
class Check:
    """One finding: what was checked, whether it is usable (None: information only), and the detail."""

    section: str
    name: str
    usable: bool | None
    detail: str

    @property
    def status(self) -> str:
        """'ok', 'no' or 'info'."""
        return "info" if self.usable is None else ("ok" if self.usable else "no")

    def as_dict(self) -> dict:
        """The check as plain data."""
        return {**asdict(self), "status": self.status}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def nvidia_smi() -> list[str]:
    """GPUs the NVIDIA driver reports (name, memory, driver), whatever torch was built for."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def machine_checks(devices: list[dict]) -> list[Check]:
    """Python, CPU, torch and GPUs."""
    torch_version = package_version("torch")
    checks = [Check("machine", "python", None, f"{sys.version.split()[0]} on {platform.platform()}"),
              Check("machine", "cpu", None, cpu_name())]
    if torch_version is None:
        checks.append(Check("machine", "torch", False, "not installed"))
    else:
        try:
            import torch

            build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
            checks.append(Check("machine", "torch", True, f"{torch_version} ({build})"))
        except (ImportError, OSError, RuntimeError) as exc:
            checks.append(Check("machine", "torch", False, f"{torch_version} does not import: "
                                                           f"{_first_line(str(exc))}"))
    driver = nvidia_smi()
    if devices:
        names = "; ".join(f"{d['name']} ({d['memory_gib']} GiB, compute {d['capability']})" for d in devices)
        checks.append(Check("machine", "gpu", True, names))
    elif driver:
        checks.append(Check("machine", "gpu", False, f"the driver reports {'; '.join(driver)}, but torch cannot "
                                                     "use it (install a CUDA build of torch)"))
    else:
        checks.append(Check("machine", "gpu", False, "no CUDA GPU visible"))
    if torch_version is not None:
        checks.append(embedding_check())
    return checks


def embedding_check() -> Check:
    """What ``device: auto`` and ``precision: auto`` resolve to for the embedder on this machine, and why."""
    from ragpoison.rag.embedders._numerics import CPU_BF16_FLAGS, cpu_flags, resolve

    try:
        numerics = resolve("auto", "auto")
    except (ImportError, OSError, RuntimeError, InputError) as exc:
        return Check("machine", "embedding", False, _first_line(str(exc)))
    units = [flag for flag in CPU_BF16_FLAGS if flag in cpu_flags()]
    cpu = (f"CPU bfloat16 units: {', '.join(units)}" if units
           else "no CPU bfloat16 units: neither amx_bf16 nor avx512_bf16")
    return Check("machine", "embedding", None, f"auto runs the embedder on {numerics.device} in {numerics.precision} "
                                               f"({cpu})")


def vllm_check(devices: list[dict], import_timeout_s: float = 180.0) -> Check:
    """Whether vllm is installed, matches torch, has a GPU and imports."""
    version = package_version("vllm")
    if version is None:
        installed = package_version("torch")
        here = f"; this machine has torch {installed}" if installed else ""
        return Check("backend", "vllm", False, f"not installed; {VLLM_HINT}{here}")
    problems = []
    pin, torch_version = vllm_torch_pin(), package_version("torch")
    if pin and torch_version and torch_version.split("+")[0] != pin.split("+")[0]:
        problems.append(f"vllm {version} requires torch {pin} but torch {torch_version} is installed")
    if not devices:
        problems.append("no CUDA GPU visible")
    try:
        probe = subprocess.run([sys.executable, "-c", "import vllm"], capture_output=True, text=True,
                               timeout=import_timeout_s)
        if probe.returncode != 0:
            problems.append(f"`import vllm` fails: {_first_line(probe.stderr)}")
    except subprocess.TimeoutExpired:
        problems.append(f"`import vllm` took over {import_timeout_s:g} s")
    if problems:
        return Check("backend", "vllm", False, f"vllm {version} installed, but " + "; ".join(problems))
    return Check("backend", "vllm", True, f"vllm {version} (torch {torch_version}) on {devices[0]['name']}")


def backend_checks(devices: list[dict]) -> list[Check]:
    """Each generator backend: usable here or not, and why."""
    checks = [Check("backend", "extractive", True, "deterministic CPU reader (the default)")]
    version = package_version("transformers")
    if version is None or not has_module("torch"):
        checks.append(Check("backend", "transformers", False, "needs the transformers and torch packages"))
    else:
        where = f"GPU ({devices[0]['name']})" if devices else "CPU (no CUDA GPU: small models only)"
        checks.append(Check("backend", "transformers", True, f"transformers {version} on {where}"))
    checks.append(Check("backend", "openai", True, "HTTP client for any OpenAI-compatible server "
                                                   "(pass --base-url to check one)"))
    checks.append(vllm_check(devices))
    executable = shutil.which("vllm")
    checks.append(Check("backend", "serve", bool(executable) or has_module("vllm"),
                        f"`ragpoison serve` runs {executable}" if executable else
                        ("`ragpoison serve` runs python -m vllm.entrypoints.cli.main" if has_module("vllm")
                         else "`ragpoison serve` needs vllm")))
    return checks


def model_dir_check(path: str, vllm_usable: bool) -> Check:
    """A model directory: what it holds and which backends can load it."""
    from ragpoison.rag.generators._model_dir import inspect_model_dir

    info = inspect_model_dir(path)
    if info.problems:
        return Check("model", path, False, "; ".join(info.problems))
    loaders = []
    if has_module("transformers"):
        try:
            from transformers import AutoConfig

            AutoConfig.from_pretrained(Path(path))
            loaders.append("transformers")
        except (OSError, ValueError, KeyError) as exc:
            return Check("model", path, False, f"{info.summary()}; transformers cannot read its config: "
                                               f"{_first_line(str(exc))}")
    if vllm_usable:
        loaders.append("vllm")
    usable = f"loads with {', '.join(loaders)}" if loaders else "no installed backend loads it"
    return Check("model", path, bool(loaders), f"{info.summary()}; {usable}")


def server_check(base_url: str) -> Check:
    """An OpenAI-compatible server: reachable, and which models it serves."""
    from ragpoison.rag.generators._openai_http import OpenAIClient

    try:
        listed = OpenAIClient(base_url, timeout_s=5, retries=0, field="--base-url").get("/models").get("data") or []
    except InputError as exc:
        return Check("server", base_url, False, exc.detail)
    names = ", ".join(str(m.get("id")) for m in listed if isinstance(m, dict)) or "no models"
    return Check("server", base_url, bool(listed), f"serves {names}")


def diagnose(model_dirs: Sequence[str] = (), base_urls: Sequence[str] = ()) -> list[Check]:
    """Every check, machine first."""
    devices = gpus()
    checks = machine_checks(devices) + backend_checks(devices)
    vllm_usable = next(c.usable for c in checks if c.name == "vllm")
    checks += [model_dir_check(path, bool(vllm_usable)) for path in model_dirs]
    checks += [server_check(url) for url in base_urls]
    return checks
