"""Sweep benchmarks: ragpoison against a hand-written LangChain rebuild per cell, and against its floor.

Usage: python benchmarks/run.py [--quick] --json FILE
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def sweep_configs(corpus: Path, cache: Path):
    """The 12-cell sweep: black-box at N = 1..6, undefended and behind provenance."""
    from corpora import bundled
    from eval.config import load_configs

    paths = bundled()
    return load_configs(ROOT / "configs/quickstart.yaml", [
        "attacks=[poisonedrag-blackbox]", "poison_per_target=[1,2,3,4,5,6]", "defenses=[none, provenance]",
        f"embedder.params.cache_dir={cache}"],
        {"corpus": str(corpus), "questions": str(paths["questions"]), "targets": str(paths["targets"])})


def run_ours(configs, out: Path):
    """Our sweep, with a cold embedding cache and the model load included."""
    from eval.sweep import run_sweep

    return _timed(lambda: run_sweep(configs, out))


def run_langchain_rebuild(config, inputs):
    """What a user writes by hand: a LangChain FAISS store built from clean + poisoned documents per cell."""
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from sentence_transformers import SentenceTransformer

    from eval.runner import conditions, craft
    from poisoning.defenses.base import Candidate, apply_chain
    from poisoning.defenses.provenance import ProvenanceFilter
    from rag.embedders.sentence_transformers import bundled_model_path
    from rag.generators.base import ReaderInput
    from rag.generators.extractive import ExtractiveReader
    from rag.retrievers.base import passage_text

    class MiniLM(Embeddings):
        def __init__(self):
            self.model = SentenceTransformer(str(bundled_model_path()), device="cpu")

        def embed_documents(self, texts):
            return self.model.encode(texts, batch_size=64, normalize_embeddings=True).tolist()

        def embed_query(self, text):
            return self.model.encode([text], normalize_embeddings=True)[0].tolist()

    def work():
        embeddings = MiniLM()
        reader = ExtractiveReader()
        reader.fit(inputs.corpus)
        retrieved: dict[tuple, list[str]] = {}
        for condition in conditions(config):  # the clean store too: flip rate needs clean answers
            poison = craft(condition, inputs, config.seed)
            passages = {**inputs.corpus, **poison.passages}
            docs = [Document(page_content=passage_text(p), metadata={"id": d, "source": p["source"]})
                    for d, p in passages.items()]
            for defense in ("none", "provenance"):
                store = FAISS.from_documents(docs, embeddings, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
                chain = [] if defense == "none" else [ProvenanceFilter()]
                batch = []
                for qid, question in inputs.questions.items():
                    hits = store.similarity_search_with_score(question.question, k=config.fetch_k)
                    ids = [doc.metadata["id"] for doc, _ in hits]
                    retrieved[(condition.attack.name, condition.poison_per_target, defense, qid)] = ids[: config.k]
                    kept = apply_chain(chain, question, [Candidate(d, 0.0, passages[d]) for d in ids])[: config.k]
                    batch.append(ReaderInput(question, tuple(c.passage for c in kept)))
                reader.answer(batch)
        return retrieved

    return _timed(work)


def measure_floor(config, inputs, trials):
    """Time the unavoidable parts of the sweep, each alone.

    They are the model load, one corpus embedding, the poison and query embeddings, raw FAISS searches and
    the reader.
    """
    import faiss
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from eval.runner import conditions, craft
    from rag.embedders.sentence_transformers import bundled_model_path
    from rag.generators.base import ReaderInput
    from rag.generators.extractive import ExtractiveReader
    from rag.retrievers.base import passage_text

    parts = {}
    model, parts["model_load"] = _timed(lambda: SentenceTransformer(str(bundled_model_path()), device="cpu"))

    def encode(texts):
        return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32)

    vectors, parts["corpus_embedding"] = _timed(lambda: encode([passage_text(p) for p in inputs.corpus.values()]))
    poisons = [craft(c, inputs, config.seed) for c in conditions(config)]
    poison_texts = [passage_text(p) for poison in poisons for p in poison.passages.values()]
    questions = [q.question for q in inputs.questions.values()]
    (poison_vectors, query_vectors), parts["poison_and_query_embedding"] = _timed(
        lambda: (encode(poison_texts), encode(questions)))

    def search():
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        offset = 0
        for poison in poisons:
            n = len(poison.passages)
            overlay = faiss.IndexFlatIP(vectors.shape[1])
            overlay.add(np.vstack([vectors, poison_vectors[offset: offset + n]]))
            overlay.search(query_vectors, config.fetch_k)
            offset += n

    _, parts["faiss_search"] = _timed(search)
    reader = ExtractiveReader()
    reader.fit(inputs.corpus)
    passages = {**inputs.corpus, **{d: p for poison in poisons for d, p in poison.passages.items()}}
    questions_by_id = inputs.questions
    batches = {}
    for row in trials:
        batches.setdefault(row["cell_id"], []).append(
            ReaderInput(questions_by_id[row["qid"]], tuple(passages[d] for d in row["context_ids"])))
    _, parts["reader"] = _timed(lambda: [reader.answer(b) for b in batches.values()])
    return parts


def retrieval_overhead(inputs, repeats: int = 30) -> tuple[float, float, float]:
    """Our store search (ids and run dicts included) against raw FAISS search of the same query batch."""
    import faiss
    import numpy as np

    from rag.stores.faiss_store import FaissStore

    rng = np.random.default_rng(0)
    dim, n = 384, len(inputs.corpus)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.choice(n, size=len(inputs.questions), replace=False)] + 0.01
    ids = list(inputs.corpus)
    store = FaissStore(dim=dim)
    store.add(ids, vectors)
    raw = faiss.IndexFlatIP(dim)
    raw.add(vectors)
    qids = list(inputs.questions)

    def ours():
        return {qid: dict(row) for qid, row in zip(qids, store.search(queries, 20), strict=True)}

    ours_t = statistics.median(_timed(ours)[1] for _ in range(repeats))
    raw_t = statistics.median(_timed(lambda: raw.search(queries, 20))[1] for _ in range(repeats))
    return ours_t / raw_t, ours_t, raw_t


def quickstart_times(cache: Path) -> tuple[float, float]:
    """Wall time of `ragpoison run configs/quickstart.yaml`, cold (empty embedding cache) then warm."""
    env = {**os.environ, "RAGPOISON_CACHE": str(cache)}
    times = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "eval.cli", "run", "configs/quickstart.yaml", "--out", out,
                            "--no-progress"], cwd=ROOT, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    return times[0], times[1]


def main() -> int:
    """Run every measurement, print a table and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 2,000 passages instead of about 5,000")
    parser.add_argument("--json", required=True, type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from benchmarks.synthetic import write_synthetic_corpus
    from corpora import bundled
    from eval.runner import Experiment

    n_passages = 2000 if args.quick else 5000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = write_synthetic_corpus(bundled()["corpus"], n_passages, seed=0, out=tmp / "corpus")
        configs = sweep_configs(corpus, tmp / "cache")
        results, ours_s = run_ours(configs, tmp / "out")
        inputs = Experiment(configs[0]).inputs
        retrieved, rebuild_s = run_langchain_rebuild(configs[0], inputs)
        ours_ids = {(r["attack"], r["poison_per_target"], r["defense"], r["qid"]): r["retrieved_ids"]
                    for r in results.trials}
        identical = all(retrieved[key] == ids for key, ids in ours_ids.items())
        floor = measure_floor(configs[0], inputs, results.trials)
        overhead, ours_search, raw_search = retrieval_overhead(inputs)
        cold, warm = quickstart_times(tmp / "quickstart-cache")
    report = {
        "n_passages": len(inputs.corpus), "n_questions": len(inputs.questions), "n_cells": len(results.summary),
        "ours_sweep_seconds": ours_s, "langchain_rebuild_seconds": rebuild_s,
        "sweep_speedup_vs_rebuild": rebuild_s / ours_s, "sweep_identical": identical,
        "floor_seconds": floor, "sweep_overhead_vs_floor": ours_s / sum(floor.values()),
        "retrieval_overhead_vs_faiss": overhead, "retrieval_ours_ms": ours_search * 1000,
        "retrieval_faiss_ms": raw_search * 1000,
        "quickstart_cold_seconds": cold, "quickstart_warm_seconds": warm,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    width = max(map(len, report))
    for key, value in report.items():
        shown = json.dumps({k: round(v, 2) for k, v in value.items()}) if isinstance(value, dict) else (
            f"{value:.3f}" if isinstance(value, float) else str(value))
        sys.stdout.write(f"{key.ljust(width)}  {shown}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
