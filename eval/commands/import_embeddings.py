"""``ragpoison import-embeddings``: put a corpus's precomputed passage vectors (MedRAG's .npy files) in the cache."""

from __future__ import annotations

import argparse

from ragpoison.eval import console
from ragpoison.eval.commands._data import add_data_arguments, data_files

HELP = "import precomputed passage vectors (one .npy per corpus chunk file) into the embedding cache"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``import-embeddings``."""
    parser.add_argument("config", help="experiment YAML naming the corpus and the embedder the vectors came from")
    parser.add_argument("embeddings", help="folder of NAME.npy files, one per corpus file NAME.jsonl "
                                           "(MedRAG: corpus/NAME/index/RETRIEVER/embedding)")
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="the precision the vectors were computed in (MedRAG's: float32); they are filed under "
                             "it, and only runs in that precision read them")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Check the arrays against the corpus and the model, then store them; say what was stored and where."""
    from ragpoison.eval.config import load_configs
    from ragpoison.eval.stack import data_paths
    from ragpoison.rag.embedders.precomputed import import_embeddings
    from ragpoison.rag.errors import InputError
    from ragpoison.rag.registry import EMBEDDERS

    config = load_configs(args.config, args.overrides, data_files(args))[0]
    corpus = data_paths(config)["corpus"]
    if corpus is None:
        raise InputError("the config names no corpus", field="data.corpus")
    params = {**config.embedder.params, "precision": args.precision}
    embedder = EMBEDDERS.create(config.embedder.kind, params, key="embedder.kind")
    runs_with = EMBEDDERS.create(config.embedder.kind, config.embedder.params, key="embedder.kind")
    report = import_embeddings(corpus, args.embeddings, embedder, normalize=bool(params.get("normalize", True)))
    console.emit(f"imported {report.passages} passage vectors from {report.files} file(s) for {embedder.identity} "
                 f"(sampled {report.checked} against the model: cosine >= {report.min_cosine:.4f})")
    if runs_with.identity != embedder.identity:
        console.emit(f"note: this config runs as {runs_with.identity} on this machine and will not read them; "
                     f"set embedder.params.precision={args.precision} to use them")
    return 0
