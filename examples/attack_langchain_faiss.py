"""Attack an in-process LangChain FAISS store through `as_retriever()`, then check it is exactly as before.

Usage: python examples/attack_langchain_faiss.py [--max-questions N]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import clinical, print_cells


def main() -> None:
    """Build the user's FAISS store, attack it, print the cells and compare the store before and after."""
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from ragpoison.eval.langchain.attack import LangChainAttack
    from ragpoison.eval.langchain.documents import EmbedderEmbeddings, passage_document

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-questions", type=int)
    parser.add_argument("--journal", default="runs/faiss-attack.journal.jsonl")
    args = parser.parse_args()

    corpus, questions, targets = clinical(args.max_questions)
    store = FAISS.from_documents([passage_document(i, p) for i, p in corpus.items()], EmbedderEmbeddings(),
                                 ids=list(corpus), distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
    before = (dict(store.index_to_docstore_id), store.index.reconstruct_n(0, store.index.ntotal))
    retriever = store.as_retriever(search_kwargs={"k": 5})  # any BaseRetriever over the store works

    report = LangChainAttack(store, questions, targets, journal=args.journal, retriever=retriever,
                             corpus=corpus).run()
    print_cells(report)
    same = before[0] == dict(store.index_to_docstore_id) and np.array_equal(
        before[1], store.index.reconstruct_n(0, store.index.ntotal))
    print(f"injected {report.n_injected} passages; store restored: {same}")


if __name__ == "__main__":
    main()
