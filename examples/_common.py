"""Shared set-up for the examples: the bundled questions and a user's documents to attack."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

# langchain-community still ships the FAISS vector store these examples use; its sunset notice is not news here.
warnings.filterwarnings("ignore", message=".*langchain-community.*sunset", category=DeprecationWarning)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragpoison.corpora import bundled  # noqa: E402
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets  # noqa: E402


def clinical(max_questions: int | None = None):
    """The bundled corpus, its questions (the first ``max_questions``) and their targets."""
    paths = bundled()
    questions = load_questions(paths["questions"])
    targets = load_targets(paths["targets"], questions, seed=0)
    if max_questions:
        questions = dict(list(questions.items())[:max_questions])
    return load_corpus(paths["corpus"]), questions, {qid: targets[qid] for qid in questions}


def print_cells(report) -> None:
    """One line per cell of an attack report."""
    for cell in report.summary:
        print(f"{cell.attack:<22} defense={cell.defense:<11} n={cell.n_questions:<3} "
              f"clean_acc={cell.clean_accuracy:.3f} acc_under_attack={cell.accuracy_under_attack:.3f} "
              f"asr={cell.asr:.3f} flip={cell.flip_rate:.3f} poison_hit={cell.poison_hit_rate:.3f}")
