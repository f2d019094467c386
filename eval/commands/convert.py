"""``ragpoison convert``: write any supported corpus (BEIR, PubMed baseline XML, MedRAG) as a MedRAG folder."""

from __future__ import annotations

import argparse

from ragpoison.eval import console

HELP = "convert a BEIR folder or PubMed baseline XML into a MedRAG corpus folder (chunk/*.jsonl)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``convert``."""
    parser.add_argument("source", help="BEIR folder, PubMed .xml/.xml.gz file or folder, or MedRAG JSONL")
    parser.add_argument("out", help="folder to write (OUT/chunk/<name>.jsonl)")


def run(args: argparse.Namespace) -> int:
    """Stream the source into OUT/chunk/*.jsonl, one output file per input file for PubMed."""
    import json
    import os
    from pathlib import Path

    from ragpoison.rag.pubmed import write_medrag
    from ragpoison.rag.streaming import corpus_format, iter_corpus

    if corpus_format(args.source) == "pubmed":
        written = write_medrag(args.source, args.out)
    else:
        chunk = Path(args.out) / "chunk"
        chunk.mkdir(parents=True, exist_ok=True)
        target = chunk / f"{Path(args.source).stem}.jsonl"
        tmp = target.with_name(f".{target.name}.tmp")
        with tmp.open("w", encoding="utf-8") as sink:
            for doc_id, passage in iter_corpus(args.source):
                sink.write(json.dumps({"id": doc_id, "title": passage["title"], "content": passage["text"],
                                       "contents": f"{passage['title']}. {passage['text']}",
                                       **{k: passage[k] for k in ("source", "published", "reference")
                                          if k in passage}}) + "\n")
        os.replace(tmp, target)
        written = [target]
    console.emit(f"wrote {', '.join(str(p) for p in written)}")
    return 0
