"""Build the RAG stack and the experiment's inputs from a config."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ragpoison.corpora import bundled
from ragpoison.eval.config import ExperimentConfig
from ragpoison.poisoning.defenses.base import Defense
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import Generator
from ragpoison.rag.loaders import load_questions, load_targets
from ragpoison.rag.registry import DEFENSES, EMBEDDERS, GENERATORS, RETRIEVERS, STORES
from ragpoison.rag.retrievers.base import Retriever
from ragpoison.rag.streaming import open_corpus, source_files
from ragpoison.rag.types import Question, Target


@dataclass
class Inputs:
    """The clean corpus, the questions and their targets, with where they came from."""

    corpus: Mapping[str, dict[str, str]]  # a dict, or an OnDiskCorpus for large corpora
    questions: dict[str, Question]
    targets: dict[str, Target]
    paths: dict[str, str | None]
    corpus_hash: str


def data_paths(config: ExperimentConfig) -> dict[str, str | None]:
    """Resolve data paths; an unset corpus means the bundled set (questions and targets with it)."""
    data = config.data
    if data.documents is not None:
        if data.corpus is not None:
            raise InputError("give data.corpus or data.documents, not both", field="data.documents")
        if data.questions is None:
            raise InputError("a corpus of documents needs a question file too (--questions)", field="data.questions")
        from ragpoison.eval.ingest import ingested

        return {"corpus": str(ingested(data.documents, config.ingest)), "questions": data.questions,
                "targets": data.targets}
    if data.corpus is None:
        default = {key: str(value) for key, value in bundled().items()}
        return {"corpus": default["corpus"], "questions": data.questions or default["questions"],
                "targets": data.targets if data.questions else (data.targets or default["targets"])}
    if data.questions is None:
        raise InputError("a custom corpus needs a question file too (--questions)", field="data.questions")
    return {"corpus": data.corpus, "questions": data.questions, "targets": data.targets}


def hash_files(files: list[Path]) -> str:
    """sha256 over the names and bytes of files, read in blocks (a multi-GB corpus is never held in memory)."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_inputs(config: ExperimentConfig) -> Inputs:
    """Load and validate the corpus, questions and targets."""
    paths = data_paths(config)
    corpus_path, questions_path = _required(paths, "corpus"), _required(paths, "questions")
    corpus = open_corpus(corpus_path)
    questions = load_questions(questions_path)
    # Targets are checked against every question of the file (a target naming a question left out by
    # max_questions is not an error), then kept for the questions asked; each is drawn by its own seeded stream.
    targets = load_targets(paths["targets"], questions, config.seed)
    if config.max_questions is not None:
        questions = dict(list(questions.items())[: config.max_questions])
    targets = {q: t for q, t in targets.items() if q in questions}
    return Inputs(corpus, questions, targets, paths, hash_files(source_files(corpus_path)))


def _required(paths: dict[str, str | None], key: str) -> str:
    """A data path ``data_paths`` always resolves (corpus, questions)."""
    value = paths[key]
    if value is None:
        raise InputError(f"no {key} file given", field=f"data.{key}")
    return value


@dataclass
class Stack:
    """The RAG pipeline's stages, built and ready."""

    embedder: Embedder
    retriever: Retriever
    generator: Generator


def build_stack(config: ExperimentConfig) -> Stack:
    """Instantiate embedder, store, retriever and generator from the registry.

    The embedder is always built (defenses and attacks use it; it loads its model on first use); the store only
    when the retriever needs one (``Retriever.needs``), so BM25 runs with neither store nor dense index.
    """
    # The generator first: a missing backend or model directory fails before the embedder loads its model.
    generator = GENERATORS.create(config.generator.kind, config.generator.params, key="generator.kind")
    embedder = EMBEDDERS.create(config.embedder.kind, config.embedder.params, key="embedder.kind")
    needs = RETRIEVERS.get(config.retriever.kind, key="retriever.kind").needs
    parts: dict[str, object] = {"embedder": embedder}
    if "store" in needs:
        parts["store"] = STORES.create(config.store.kind, config.store.params, key="store.kind", dim=embedder.dim)
    retriever = RETRIEVERS.create(config.retriever.kind, config.retriever.params, key="retriever.kind",
                                  **{part: value for part, value in parts.items() if part in needs})
    return Stack(embedder, retriever, generator)


def build_defense_chain(name: str, params: dict) -> list[Defense]:
    """A defense chain from a name like 'provenance+dedup' ('none' is the empty chain)."""
    if name == "none":
        return []
    parts = name.split("+")
    if len(parts) > 1 and params:
        from ragpoison.rag.errors import InputError

        raise InputError("params cannot be given to a chain; list each defense's params separately",
                         field=f"defenses.{name}")
    return [DEFENSES.create(part, params, key=f"defenses.{part}") for part in parts]
