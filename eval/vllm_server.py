"""Start ``vllm serve`` on a model directory, wait until it is healthy, and stop it cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._runtime import VLLM_HINT, has_module


def vllm_command() -> list[str]:
    """How to invoke vLLM's CLI here: the ``vllm`` executable, or its module; InputError when absent."""
    executable = shutil.which("vllm")
    if executable:
        return [executable]
    if has_module("vllm"):
        return [sys.executable, "-m", "vllm.entrypoints.cli.main"]
    raise InputError(f"vllm is not installed, so it cannot serve a model; {VLLM_HINT} (see `ragpoison doctor`)",
                     field="vllm")


def free_port(host: str) -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def check_port(host: str, port: int) -> None:
    """InputError when something already listens on host:port."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise InputError(f"port {port} on {host} is in use; choose another with --port", field="--port") from None


@dataclass
class VLLMServer:
    """One ``vllm serve`` process and the flags it was started with."""

    model_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    seed: int = 0
    max_model_len: int | None = None
    served_name: str | None = None
    dtype: str = "auto"
    batch_invariant: bool = False
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL clients use."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def name(self) -> str:
        """The model name clients ask for."""
        return self.served_name or self.model_dir.name

    def command(self) -> list[str]:
        """The ``vllm serve`` command line."""
        args = [*vllm_command(), "serve", str(self.model_dir), "--host", self.host, "--port", str(self.port),
                "--seed", str(self.seed), "--served-model-name", self.name, "--dtype", self.dtype]
        if self.max_model_len is not None:
            args += ["--max-model-len", str(self.max_model_len)]
        return args + list(self.extra_args)

    def start(self, log=None) -> None:
        """Launch the server in its own process group (so Ctrl-C reaches it only through ``stop``)."""
        command = self.command()
        check_port(self.host, self.port)
        env = dict(os.environ)
        if self.batch_invariant:
            env["VLLM_BATCH_INVARIANT"] = "1"  # online serving repeats only with batch invariance
        self.process = subprocess.Popen(command, env=env, stdout=log or sys.stderr, stderr=log or sys.stderr,
                                        start_new_session=True)

    def healthy(self) -> bool:
        """True when ``/health`` answers 200."""
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def exited(self) -> bool:
        """True once the server process has exited; it is not reaped, so its process group stays ours to signal."""
        if self.process is None or self.process.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def wait_healthy(self, timeout_s: float = 900.0, poll_s: float = 0.5) -> None:
        """Block until healthy; InputError if the process exits first or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.exited():
                code = self.stop()
                raise InputError(f"vllm serve exited with code {code} while starting; its log above says why",
                                 path=self.model_dir)
            if self.healthy():
                return
            time.sleep(poll_s)
        self.stop()
        raise InputError(f"vllm serve was not healthy after {timeout_s:g} s; raise --startup-timeout",
                         path=self.model_dir)

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL what is left after ``grace_s``; returns the exit code."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            pid = self.process.pid
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace_s
            while not self.exited() and time.monotonic() < deadline:
                time.sleep(0.05)
            # The leader is unreaped until wait() below, so the group id cannot have been reused by then.
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return self.process.wait()

    def __enter__(self) -> VLLMServer:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
