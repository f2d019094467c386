"""Cells as Ray tasks on a real local Ray instance give the trials of a local run."""

import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import ray  # a dev dependency: without it this module errors rather than skipping
from ragpoison.eval.config import load_configs
from ragpoison.eval.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]
TIMING = ["defense_ms", "craft_seconds"]
GRID = ["fetch_k=8", "poison_per_target=[2]"]


def _trials(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "trials.parquet").drop(columns=TIMING)
    return frame.sort_values(["cell_id", "qid"]).reset_index(drop=True)


def _cli(tiny, out: Path, *extra: str) -> subprocess.CompletedProcess:
    sets = [arg for item in GRID for arg in ("--set", item)]
    return subprocess.run(
        [sys.executable, "-m", "ragpoison", "run", str(ROOT / "configs/quickstart.yaml"), "--out", str(out),
         "--corpus", str(tiny["corpus"]), "--questions", str(tiny["questions"]), "--targets",
         str(tiny["targets"]), "--no-progress", *sets, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_cells_on_a_ray_cluster_give_the_local_trials(tiny, tmp_path):
    configs = load_configs(ROOT / "configs/quickstart.yaml", GRID, {k: str(v) for k, v in tiny.items()})
    local = tmp_path / "local"
    run_sweep(configs, local).write(local)
    # A local instance on loopback stands in for a cluster: the CLI connects to it by address.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             object_store_memory=100 * 1024 * 1024)
    try:
        address = ray.get_runtime_context().gcs_address
        on_cluster = tmp_path / "cluster"
        proc = _cli(tiny, on_cluster, "--executor", "ray", "--ray-address", address)
        assert proc.returncode == 0, proc.stderr
        pd.testing.assert_frame_equal(_trials(on_cluster), _trials(local))
        assert [node["Alive"] for node in ray.nodes()] == [True], "the driver must leave the cluster running"
    finally:
        ray.shutdown()


def test_unreachable_cluster_is_a_one_line_error(tiny, tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _cli(tiny, tmp_path / "out", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--ray-address" in lines[0] and f"127.0.0.1:{port}" in lines[0], proc.stderr
