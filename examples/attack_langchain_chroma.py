"""Attack a LangChain Chroma store through its retriever, measure, and leave the store exactly as it was.

    python examples/attack_langchain_chroma.py --host 127.0.0.1 --port 8000   # a `chroma run` server
    python examples/attack_langchain_chroma.py --path /tmp/my-chroma          # an embedded database

The collection stands in for yours: it is filled with the bundled clinical corpus when empty. The poisoned
passages go in through the store's own add_documents and out through its delete; their ids are journaled
first, so if this process dies mid-attack, `ragpoison cleanup JOURNAL` removes them.
"""

from __future__ import annotations

import argparse

from _common import clinical, print_cells


def main() -> None:
    """Open (or fill) the collection, attack it, print the cells, check nothing is left behind."""
    from langchain_chroma import Chroma
    from ragpoison.eval.langchain.attack import LangChainAttack
    from ragpoison.eval.langchain.documents import EmbedderEmbeddings, passage_document

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--host")
    where.add_argument("--path")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--collection", default="clinical-notes")
    parser.add_argument("--journal", default="runs/chroma-attack.journal.jsonl")
    parser.add_argument("--max-questions", type=int)
    args = parser.parse_args()

    corpus, questions, targets = clinical(args.max_questions)
    location = {"host": args.host, "port": args.port} if args.host else {"persist_directory": args.path}
    store = Chroma(collection_name=args.collection, embedding_function=EmbedderEmbeddings(), **location)
    if not store.get(limit=1)["ids"]:
        store.add_documents([passage_document(i, p) for i, p in corpus.items()], ids=list(corpus))
    before = store.get()["ids"]

    report = LangChainAttack(store, questions, targets, journal=args.journal, corpus=corpus, k=5).run()
    print_cells(report)
    after = store.get()["ids"]
    print(f"injected {report.n_injected} passages; store restored: {sorted(after) == sorted(before)} "
          f"({len(after)} documents); journal {report.journal}")


if __name__ == "__main__":
    main()
