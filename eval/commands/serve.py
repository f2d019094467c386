"""``ragpoison serve``: run ``vllm serve`` on a model directory until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import shlex
import signal
import time

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "start vllm serve on a model directory, print its base URL, stop it cleanly on Ctrl-C"


class _Stop(Exception):
    """SIGTERM arrived."""


def _raise_stop(signum, frame) -> None:
    raise _Stop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``serve``."""
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="a local Hugging Face model directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="vLLM's seed")
    parser.add_argument("--max-model-len", type=int, help="context length (default: the model's)")
    parser.add_argument("--served-model-name", help="name clients ask for (default: the directory's name)")
    parser.add_argument("--dtype", default="auto", help="weights dtype (auto, bfloat16, float16, float32)")
    parser.add_argument("--batch-invariant", action="store_true",
                        help="VLLM_BATCH_INVARIANT=1: answers independent of batching, so online runs repeat")
    parser.add_argument("--startup-timeout", type=float, default=900.0, help="seconds to wait for /health")
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--vllm-args", default="", metavar="ARGS",
                        help="further vllm serve flags as one string, e.g. --vllm-args='--tensor-parallel-size 2'")


def run(args: argparse.Namespace) -> int:
    """Start the server, print the base URL once healthy, and stop it on Ctrl-C or SIGTERM."""
    from ragpoison.eval.vllm_server import VLLMServer, free_port
    from ragpoison.rag.generators._model_dir import check_model_dir

    model_dir = check_model_dir(args.model_dir, "MODEL_DIR")
    try:
        extra = shlex.split(args.vllm_args)
    except ValueError as exc:
        raise InputError(f"cannot split: {exc}", field="--vllm-args") from None
    server = VLLMServer(model_dir, host=args.host, port=args.port or free_port(args.host), seed=args.seed,
                        max_model_len=args.max_model_len, served_name=args.served_model_name, dtype=args.dtype,
                        batch_invariant=args.batch_invariant, extra_args=extra)
    server.command()  # fails here, before anything starts, when vllm is absent
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.start()
        console.progress(f"starting vllm serve on {model_dir} (port {server.port}, seed {server.seed})")
        server.wait_healthy(args.startup_timeout)
        console.emit(server.base_url)
        console.progress(f"serving {server.name!r} at {server.base_url}; Ctrl-C stops it")
        while not server.exited():
            time.sleep(0.5)
        console.error(f"vllm serve exited on its own with code {server.stop()}")
        return 1
    except (KeyboardInterrupt, _Stop):
        code = server.stop(args.stop_timeout)
        console.progress(f"stopped vllm serve (exit code {code})")
        return 0
    finally:
        server.stop(args.stop_timeout)
        signal.signal(signal.SIGTERM, previous)
