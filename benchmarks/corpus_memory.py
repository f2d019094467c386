"""Peak memory of loading a 1M-passage MedRAG corpus: streamed (on-disk Mapping) against a plain dict.

Writes a synthetic MedRAG corpus folder (``chunk/*.jsonl``; each passage a copy of a bundled passage under a
new id, so every text is one the project wrote), then measures each way of loading it in a fresh process, so
each peak resident set size (``ru_maxrss``) belongs to that load alone.

Usage: python benchmarks/corpus_memory.py [--passages 1000000] [--folder DIR] [--no-dict] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_FILE = 50_000

# Each runs in its own interpreter and prints one JSON line; "peak_mb" is that process's peak RSS.
PROBE = """
import json, random, resource, sys, time
sys.path.insert(0, {root!r})
mode, folder = sys.argv[1], sys.argv[2]
import numpy
from ragpoison.eval.stack import hash_files
from ragpoison.rag.loaders import load_corpus
from ragpoison.rag.streaming import open_corpus, source_files
result = {{}}
started = time.perf_counter()
if mode == "streamed":
    corpus = open_corpus(folder)
    result["type"] = type(corpus).__name__
    result["index_seconds"] = round(time.perf_counter() - started, 1)
    result["passages"] = len(corpus)
    result["text_bytes"] = sum(len(p["text"]) for p in corpus.values())
    ids = [f"syn_{{i:07d}}" for i in random.Random(0).sample(range(len(corpus)), 10_000)]
    result["lookups_ok"] = sum(corpus[i]["text"] != "" for i in ids)
    result["sha256"] = hash_files(source_files(folder))[:16]
elif mode == "dict":
    corpus = load_corpus(folder)
    result["type"] = type(corpus).__name__
    result["passages"] = len(corpus)
# mode "baseline": only the imports every mode makes
result["seconds"] = round(time.perf_counter() - started, 1)
result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(result))
"""


def write_corpus(folder: Path, n_passages: int) -> Path:
    """A MedRAG folder of ``n_passages`` copies of the bundled passages, 50,000 per chunk file."""
    from ragpoison.corpora import bundled
    from ragpoison.rag.loaders import load_corpus

    source = list(load_corpus(bundled()["corpus"]).values())
    chunk = folder / "chunk"
    chunk.mkdir(parents=True, exist_ok=True)
    for start in range(0, n_passages, PER_FILE):
        with (chunk / f"synthetic{start // PER_FILE:04d}.jsonl").open("w", encoding="utf-8") as handle:
            for i in range(start, min(start + PER_FILE, n_passages)):
                p = source[i % len(source)]
                handle.write(json.dumps({"id": f"syn_{i:07d}", "title": p["title"], "content": p["text"],
                                         "contents": f"{p['title']}. {p['text']}", "source": p["source"],
                                         "published": p.get("published", ""), "reference": p.get("reference", "")})
                             + "\n")
    return folder


def probe(mode: str, folder: Path) -> dict:
    """Run one load in a fresh interpreter and return what it measured."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT)), mode, str(folder)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Write the corpus (unless present), measure, print and optionally save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ragpoison-1m-medrag"))
    parser.add_argument("--no-dict", action="store_true", help="skip loading the whole corpus into a dict")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    marker = args.folder / f".complete-{args.passages}"
    if not marker.exists():
        started = time.perf_counter()
        write_corpus(args.folder, args.passages)
        marker.write_text("ok")
        print(f"wrote {args.passages} passages in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    size = sum(f.stat().st_size for f in (args.folder / "chunk").glob("*.jsonl"))
    results = {"passages": args.passages, "corpus_mb": round(size / 2**20, 1),
               "baseline": probe("baseline", args.folder), "streamed": probe("streamed", args.folder)}
    if not args.no_dict:
        results["dict"] = probe("dict", args.folder)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
