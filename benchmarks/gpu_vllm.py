r"""GPU benchmark of the LLM readers on a full quickstart cell; then the quickstart end to end through vLLM.

Three ways to read the cell: one batched offline vLLM generate, one HTTP request per question to
``vllm serve``, and ``transformers`` generate; each reports questions/s and tokens/s.

The model is built on the machine: a Llama-shaped network (1B or 8B parameters) with random weights and a
tokenizer trained on the bundled corpus, so nothing is downloaded. Its answers are noise; its cost is real.

GPU machine (vllm 0.25.0, which pins torch 2.11.0; install it into an environment whose torch matches):
    python benchmarks/gpu_vllm.py --size 1b --out benchmarks/results
As committed (benchmarks/results/gpu_vllm_nvidia-h200.md; eager vLLM to keep the run short):
    python benchmarks/gpu_vllm.py --size 1b --eager --modes direct,open --open-tokens 64 --concurrency 1,64 \
        --out benchmarks/results
CPU check of the script itself (tiny model, transformers path; vLLM paths are skipped without vllm):
    python benchmarks/gpu_vllm.py --tiny
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MAX_MODEL_LEN = 4096
EAGER = "eager: no torch.compile, no CUDA graphs"
MODES = {"direct": {"mode": "choice", "prompt": "direct"}, "open": {"mode": "open"}}


def cell_batch(work: Path) -> Path:
    """Reader inputs of the quickstart's attacked, undefended cell (PoisonedRAG black-box, N=5), pickled."""
    from ragpoison.eval.config import load_config
    from ragpoison.eval.runner import asked_questions, conditions, craft, retrieve_with_overlay
    from ragpoison.eval.stack import build_stack, load_inputs
    from ragpoison.rag.generators.base import ReaderInput

    config = load_config(ROOT / "configs/quickstart.yaml", ["attacks=[poisonedrag-blackbox]", "defenses=[none]"])
    inputs = load_inputs(config)
    stack = build_stack(config)
    stack.retriever.index(inputs.corpus)
    condition = next(c for c in conditions(config) if not c.is_clean)
    poison = craft(condition, inputs, config.seed, stack)
    run = retrieve_with_overlay(stack.retriever, inputs, poison, config.k)
    passages = {**inputs.corpus, **poison.passages}
    batch = [ReaderInput(question, tuple(passages[d] for d in list(run[qid])[: config.k]))
             for qid, question in asked_questions(inputs, poison).items()]
    path = work / "cell.pkl"
    path.write_bytes(pickle.dumps(batch))
    return path


def measure(generator, batch, label: str) -> dict:
    """Load (fit), warm up on two questions, then time one call on the whole cell."""
    started = time.perf_counter()
    generator.fit({})
    load_s = time.perf_counter() - started
    generator.answer(batch[:2])
    before = dict(generator.usage)
    started = time.perf_counter()
    answers = generator.answer(batch)
    seconds = time.perf_counter() - started
    prompt = generator.usage["prompt_tokens"] - before.get("prompt_tokens", 0)
    completion = generator.usage["completion_tokens"] - before.get("completion_tokens", 0)
    return {"backend": label, "questions": len(batch), "load_s": round(load_s, 2), "seconds": round(seconds, 3),
            "questions_per_s": round(len(batch) / seconds, 2), "prompt_tokens": prompt,
            "completion_tokens": completion, "prompt_tokens_per_s": round(prompt / seconds, 1),
            "completion_tokens_per_s": round(completion / seconds, 1),
            "unparsed": sum(a.letter == "unparsed" for a in answers)}


def worker(args: argparse.Namespace) -> int:
    """Measure one backend in this process, every mode on one loaded model (each backend gets the whole GPU)."""
    from ragpoison.rag.registry import GENERATORS

    batch = pickle.loads(Path(args.batch).read_bytes())
    modes = args.mode.split(",")
    if args.worker == "vllm":
        generator = GENERATORS.create("vllm", {"model": args.model_dir, "max_model_len": MAX_MODEL_LEN,
                                               "enforce_eager": args.eager, **MODES[modes[0]]})
    elif args.worker == "transformers":
        generator = GENERATORS.create("transformers", {"model": args.model_dir, "batch_size": args.batch_size,
                                                       **MODES[modes[0]]})
    else:
        generator = GENERATORS.create("openai", {"base_url": args.base_url, "concurrency": args.concurrency,
                                                 "timeout_s": 600, **MODES[modes[0]]})
    rows = []
    for mode in modes:
        # the loaded model stays; only the prompt style and answer decoding change between modes
        update = {"prompt": "direct", **MODES[mode], "max_tokens": args.open_tokens if mode == "open" else None}
        generator.params = generator.params.model_copy(update=update)
        row = measure(generator, batch, args.label)
        row["mode"] = mode
        rows.append(row)
        Path(args.json).write_text(json.dumps(rows))
    return 0


def run_worker(kind: str, label: str, modes: str, common: list[str], work: Path, **extra) -> list[dict]:
    """Run ``worker`` in a subprocess and read its rows; a failure becomes a row that says so."""
    out = work / (re.sub(r"[^A-Za-z0-9]+", "-", f"{label}-{modes}") + ".json")
    command = [sys.executable, __file__, "--worker", kind, "--label", label, "--mode", modes, "--json", str(out),
               *common, *[f"--{k.replace('_', '-')}={v}" for k, v in extra.items()]]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    rows = json.loads(out.read_text()) if out.exists() else []
    if proc.returncode != 0:
        (work / f"{out.stem}.log").write_text(proc.stderr)
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
        done = {row["mode"] for row in rows}
        rows += [{"backend": label, "mode": mode, "error": tail[0][:300]}
                 for mode in modes.split(",") if mode not in done]
    return rows


def quickstart_via_vllm(model_dir: Path, work: Path, eager: bool) -> dict:
    """`ragpoison run configs/quickstart.yaml` with the vllm generator: wall time and the cell table."""
    out = work / "quickstart-vllm"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ragpoison", "run", "configs/quickstart.yaml", "--out", str(out),
                           "--no-progress", "--set", "generator.kind=vllm",
                           "--set", f"generator.params.model={model_dir}",
                           "--set", f"generator.params.max_model_len={MAX_MODEL_LEN}",
                           "--set", f"generator.params.enforce_eager={str(eager).lower()}"],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
        return {"error": tail[0][:300], "seconds": round(seconds, 1)}
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv")
    columns = ["attack", "defense", "n_questions", "clean_accuracy", "asr", "unparsed_rate"]
    manifest = json.loads((out / "manifest.json").read_text())
    return {"seconds": round(seconds, 1), "summary": summary[columns].to_dict("records"),
            "generator": {k: manifest["generator"].get(k) for k in ("version", "model_sha256", "determinism")}}


def render(result: dict) -> str:
    """The results as a Markdown table with the machine and versions above it."""
    machine = result["machine"]
    lines = [f"# vLLM quickstart-cell benchmark: {machine['gpu']}", "",
             f"- model: random-weight Llama-shaped `{result['size']}` ({result['n_params'] / 1e6:,.1f}M parameters), "
             f"tokenizer trained on clinical_mini; max_model_len {MAX_MODEL_LEN}",
             f"- cell: PoisonedRAG black-box, N=5, undefended, {result['questions']} questions, k=5",
             f"- versions: vllm {machine['vllm']}, torch {machine['torch']}, transformers {machine['transformers']}; "
             f"CPU {machine['cpu']}",
             f"- vLLM {EAGER if result.get('eager') else 'compiled, with CUDA graphs'}",
             f"- command: `{result['command']}`", "",
             "| backend | mode | load s | cell s | questions/s | prompt tok/s | completion tok/s | unparsed |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        if "error" in row:
            lines.append(f"| {row['backend']} | {row['mode']} | failed: {row['error']} | | | | | |")
            continue
        lines.append(f"| {row['backend']} | {row['mode']} | {row['load_s']} | {row['seconds']} | "
                     f"{row['questions_per_s']} | {row['prompt_tokens_per_s']} | {row['completion_tokens_per_s']} | "
                     f"{row['unparsed']} |")
    quickstart = result.get("quickstart")
    if quickstart:
        lines += ["", f"Quickstart end to end through `generator.kind=vllm`: {quickstart.get('seconds')} s"]
        if "error" in quickstart:
            lines.append(f"(failed: {quickstart['error']})")
        for row in quickstart.get("summary", []):
            lines.append(f"- {row['attack']} / {row['defense']}: clean accuracy {row['clean_accuracy']:.3f}, "
                         f"ASR {row['asr']:.3f}, unparsed {row['unparsed_rate']:.3f} (random weights: noise)")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build the model, measure every backend in its own process, write the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["tiny", "1b", "8b"], default="1b")
    parser.add_argument("--tiny", action="store_true", help="CPU check of the script: tiny model, no GPU needed")
    parser.add_argument("--model-dir", help="reuse a model built earlier instead of building one")
    parser.add_argument("--work", help="folder for the model and intermediate files (default: a temporary one)")
    parser.add_argument("--modes", default="direct,open", help="direct (choice letter), open (free text)")
    parser.add_argument("--open-tokens", type=int, default=128, help="max tokens of an open answer")
    parser.add_argument("--concurrency", default="1,8,64", help="HTTP requests in flight, one row each")
    parser.add_argument("--batch-size", type=int, default=16, help="transformers batch size")
    parser.add_argument("--skip-quickstart", action="store_true")
    parser.add_argument("--eager", action="store_true",
                        help="vLLM without torch.compile and CUDA graphs (starts in seconds; decode runs slower)")
    parser.add_argument("--out", help="folder for gpu_vllm_<gpu>.md/.json (benchmarks/results on the GPU machine)")
    for name in ("worker", "label", "mode", "json", "batch", "base-url"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency-one", type=int, dest="concurrency_one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ragpoison.rag.generators._runtime import has_module

    if not has_module("flashinfer"):  # vLLM 0.25 imports flashinfer for its sampler unless told not to
        os.environ.setdefault("VLLM_USE_FLASHINFER_SAMPLER", "0")
    if args.worker:
        args.concurrency = args.concurrency_one or 1
        return worker(args)
    return orchestrate(args)


def orchestrate(args: argparse.Namespace) -> int:
    """Everything but the per-backend measurements, which run in subprocesses."""
    from ragpoison.eval.vllm_server import VLLMServer, free_port
    from ragpoison.rag.errors import InputError
    from ragpoison.rag.generators._model_dir import inspect_model_dir
    from ragpoison.rag.generators._runtime import cpu_name, gpus, has_module, package_version

    from benchmarks.random_llama import build_random_llama

    size = "tiny" if args.tiny else args.size
    devices = gpus()
    if not devices and not args.tiny:
        sys.stderr.write("no CUDA GPU visible; use --tiny to check the script on CPU\n")
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="gpu_vllm_"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model_dir = Path(args.model_dir) if args.model_dir else build_random_llama(
        work / f"llama-{size}", size, device="cuda" if devices else "cpu",
        dtype="bfloat16" if devices else "float32")
    build_s = time.perf_counter() - started
    batch = cell_batch(work)
    common = ["--model-dir", str(model_dir), "--batch", str(batch), "--open-tokens", str(args.open_tokens),
              "--batch-size", str(args.batch_size)]
    result = {"size": size, "n_params": inspect_model_dir(model_dir).n_params or 0, "build_s": round(build_s, 1),
              "questions": len(pickle.loads(batch.read_bytes())), "rows": [], "eager": args.eager,
              "command": " ".join(["python", "benchmarks/gpu_vllm.py", *sys.argv[1:]]),
              "machine": {"gpu": devices[0]["name"] if devices else f"no GPU (CPU: {cpu_name()})",
                          "cpu": cpu_name(), "vllm": package_version("vllm") or "not installed",
                          "torch": package_version("torch"), "transformers": package_version("transformers")}}
    rows = result["rows"]
    rows += run_worker("transformers", f"transformers (batches of {args.batch_size})", args.modes, common, work)
    save(result, args.out)
    if has_module("vllm"):
        rows += run_worker("vllm", "vllm offline (one batched generate)", args.modes, common, work)
        save(result, args.out)
        extra = ["--enforce-eager"] if args.eager else []
        try:
            with VLLMServer(model_dir, port=free_port("127.0.0.1"), max_model_len=MAX_MODEL_LEN,
                            extra_args=extra) as server:
                for concurrency in map(int, args.concurrency.split(",")):
                    rows += run_worker("openai", f"vllm serve, 1 request/question, {concurrency} in flight",
                                       args.modes, common, work, base_url=server.base_url,
                                       concurrency_one=concurrency)
                    save(result, args.out)
        except InputError as exc:  # the server would not start: say so and go on to the quickstart
            rows.append({"backend": "vllm serve", "mode": "-", "error": str(exc)[:300]})
    else:
        rows.append({"backend": "vllm offline and vllm serve", "mode": "-", "error": "vllm is not installed here"})
    if has_module("vllm") and not args.skip_quickstart:
        result["quickstart"] = quickstart_via_vllm(model_dir, work, args.eager)
    sys.stdout.write(save(result, args.out))
    return 0


def save(result: dict, out: str | None) -> str:
    """Write the table and JSON so far under ``out`` (a later failure keeps what was measured); return the table."""
    table = render(result)
    if out:
        slug = re.sub(r"[^a-z0-9]+", "-", result["machine"]["gpu"].lower()).strip("-")
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"gpu_vllm_{slug}.md").write_text(table)
        (folder / f"gpu_vllm_{slug}.json").write_text(json.dumps(result, indent=2) + "\n")
    return table


if __name__ == "__main__":
    sys.exit(main())
