import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from ragpoison.eval.cli import main
from ragpoison.rag.generators._runtime import has_module

from tests.chat_server import ChatServer

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs/quickstart.yaml"
no_vllm = pytest.mark.skipif(has_module("vllm"), reason="vllm is installed here")


def ragpoison(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "ragpoison", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def _data(tiny):
    return ["--corpus", tiny["corpus"], "--questions", tiny["questions"], "--targets", tiny["targets"]]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _model_dir(folder: Path) -> Path:
    """A directory that passes the model-directory check (serve never loads it here)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    return folder


@no_vllm
def test_the_vllm_generator_without_vllm_is_a_one_line_error(tiny, tmp_path):
    proc = ragpoison("run", QUICKSTART, "--out", tmp_path / "out", *_data(tiny), "--no-progress",
                     "--set", "generator.kind=vllm",
                     "--set", f"generator.params.model={tmp_path}")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("[ragpoison]")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "field 'generator.kind': the vllm package is not installed" in lines[0]
    assert "vllm==0.25.0" in lines[0] and "torch 2.11.0" in lines[0]
    assert not (tmp_path / "out" / "summary.csv").exists()


def test_a_run_through_an_openai_compatible_server(tiny, tmp_path, capsys):
    with ChatServer() as server:
        out = tmp_path / "out"
        code = main(["run", str(QUICKSTART), "--out", str(out), *map(str, _data(tiny)), "--no-progress",
                     "--set", "generator.kind=openai", "--set", f"generator.params.base_url={server.base_url}",
                     "--set", "fetch_k=8"])
        assert code == 0
        posts = [b for path, b in server.behaviour.requests if path == "/v1/chat/completions"]
    trials = pd.read_parquet(out / "trials.parquet")
    reads = [b for b in posts if "Reply with the letter" in b["messages"][-1]["content"]]
    assert len(reads) == len(trials) == 4 * 4  # one request per question per cell
    # The black-box attack writes its passages with the configured LLM (PoisonedRAG's writer): at least one
    # request per poisoned passage (3 target questions x N = 5), more where a text failed to name the target.
    writes = [b for b in posts if b not in reads]
    assert len(writes) >= 3 * 5 and all("corpus" in b["messages"][-1]["content"].lower() for b in writes)
    assert set(trials.answer_mode) == {"choice"} and (trials.answer_text == trials.answer).all()
    assert set(trials.answer) <= set("ABCD")  # decoding restricted to the option letters
    summary = pd.read_csv(out / "summary.csv").set_index(["attack", "defense"])
    assert set(summary.answer_mode) == {"choice"} and (summary.unparsed_rate == 0).all()
    # The server's reader follows the documents: the poison (the target, repeated) wins undefended, and the
    # provenance allowlist, which drops it, restores the clean answers.
    assert summary.loc[("poisonedrag-blackbox", "none"), "asr"] == 1.0
    assert summary.loc[("poisonedrag-blackbox", "provenance"), "asr"] == summary.loc[
        ("none", "provenance"), "target_rate_clean"]
    manifest = json.loads((out / "manifest.json").read_text())
    generator = manifest["generator"]
    assert generator["kind"] == "openai" and generator["server"]["model"] == "tiny-reader"
    assert generator["version"] == "chat-server-1" and generator["params"]["temperature"] == 0


def test_open_answers_are_scored_by_substring(tiny, tmp_path):
    with ChatServer() as server:
        server.behaviour.reply = "Give Flumazenil, not N-acetylcysteine."
        code = main(["run", str(QUICKSTART), "--out", str(tmp_path), *map(str, _data(tiny)), "--no-progress",
                     "--set", "generator.kind=openai", "--set", f"generator.params.base_url={server.base_url}",
                     "--set", "generator.params.mode=open", "--set", "attacks=[none]", "--set", "defenses=[none]"])
    assert code == 0
    trials = pd.read_parquet(tmp_path / "trials.parquet").set_index("qid")
    first = trials.loc["tiny/0001"]  # options: A Naloxone, B N-acetylcysteine (gold), C Flumazenil (target)
    assert first.answer_mode == "open" and first.answer == "unparsed"  # two options mentioned
    assert first.correct and first.answered_target  # PoisonedRAG's rule: the target's text is in the answer
    summary = pd.read_csv(tmp_path / "summary.csv").iloc[0]
    assert summary.answer_mode == "open" and summary.unparsed_rate == trials.answer.eq("unparsed").mean()
    assert summary.target_rate_clean == trials.clean_answered_target.mean()


def test_a_server_that_is_down_is_a_one_line_error(tiny, tmp_path, capsys):
    port = _closed_port()
    code = main(["run", str(QUICKSTART), "--out", str(tmp_path / "out"), *map(str, _data(tiny)), "--no-progress",
                 "--set", "generator.kind=openai", "--set", f"generator.params.base_url=http://127.0.0.1:{port}/v1",
                 "--set", "generator.params.retries=0"])
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ragpoison: error")]
    assert len(errors) == 1
    assert f"cannot reach the server at http://127.0.0.1:{port}/v1 (connection refused, 1 try)" in errors[0]
    assert not (tmp_path / "out" / "summary.csv").exists()


@no_vllm
def test_serve_without_vllm_says_so(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}
    proc = ragpoison("serve", _model_dir(tmp_path / "model"), env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ragpoison: error: field 'vllm': vllm is not installed, so it cannot serve a model; pip install "
        "vllm==0.25.0 on a CUDA machine (vllm 0.25.0 pins torch 2.11.0) (see `ragpoison doctor`)"]


def _stand_in(tmp_path: Path, **env) -> dict:
    """A ``vllm`` executable on PATH that serves the chat server (vllm itself needs a GPU)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "vllm"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                      "from tests.chat_server import serve_like_vllm\nsys.exit(serve_like_vllm(sys.argv[1:]))\n")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "STANDIN_ARGV_FILE": str(tmp_path / "argv.json"), **env}


def _interruptible() -> None:
    """Give the child the default SIGINT disposition: a shell without job control starts background jobs with
    SIGINT ignored, and an ignored signal stays ignored across exec, so Ctrl-C would never reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_waits_until_healthy_prints_the_url_and_stops_cleanly(tmp_path, stop_signal):
    model = _model_dir(tmp_path / "tiny-model")
    proc = subprocess.Popen([sys.executable, "-m", "ragpoison", "serve", str(model), "--port", "0", "--seed", "7",
                             "--max-model-len", "2048", "--vllm-args=--enforce-eager", "--startup-timeout", "60"],
                            cwd=ROOT, env=_stand_in(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_interruptible)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), proc.stderr.read()
        with urllib.request.urlopen(f"{url}/models", timeout=5) as response:  # healthy before the URL is printed
            assert json.load(response)["data"][0]["id"] == "tiny-model"
        started = json.loads((tmp_path / "argv.json").read_text())
        argv = started["argv"]
        assert argv[:2] == ["serve", str(model)]
        flags = dict(zip(argv[2::2], argv[3::2], strict=False))
        assert flags["--seed"] == "7" and flags["--max-model-len"] == "2048" and flags["--host"] == "127.0.0.1"
        assert flags["--port"] == url.split(":")[2].split("/")[0] and flags["--served-model-name"] == "tiny-model"
        assert argv[-1] == "--enforce-eager"
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped vllm serve (exit code 0)" in proc.stderr.read()
    deadline = time.monotonic() + 10
    while _alive(started["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(started["pid"])


def test_serve_reports_a_server_that_dies_while_starting(tmp_path):
    proc = ragpoison("serve", _model_dir(tmp_path / "model"), "--port", "0", env=_stand_in(tmp_path, STANDIN_FAIL="1"),
                     timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "model: vllm serve exited with code 1 while starting; its log above says why")


def test_doctor_names_each_backend_and_why(tiny_llama, tmp_path, capsys):
    model = tiny_llama
    assert main(["doctor", str(model), "--json", "--require", "extractive"]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    expected = {"python", "torch", "gpu", "embedding", "extractive", "transformers", "openai", "vllm", "serve"}
    assert expected <= set(checks)
    assert checks["embedding"]["detail"].startswith("auto runs the embedder on ")
    assert checks["extractive"]["status"] == "ok" and checks["transformers"]["status"] == "ok"
    assert checks[str(model)]["status"] == "ok" and "LlamaForCausalLM" in checks[str(model)]["detail"]
    if not has_module("vllm"):
        assert checks["vllm"]["status"] == "no" and "not installed" in checks["vllm"]["detail"]
        assert main(["doctor", "--require", "vllm"]) == 1
        assert "required backend 'vllm' is not usable here" in capsys.readouterr().err
    assert main(["doctor", str(tmp_path / "missing")]) == 1
    assert "not a directory" in capsys.readouterr().out
