"""``ragpoison ingest``: HTML, PDF and Markdown documents to a MedRAG-format corpus, chunked, with provenance."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "turn HTML, PDF and Markdown documents into a MedRAG-format corpus (chunked, provenance per chunk)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ingest``."""
    parser.add_argument("docs", nargs="+", help="documents, or folders of them (.html, .htm, .pdf, .md)")
    parser.add_argument("--out", required=True, help="the corpus folder to write (must not hold anything)")
    parser.add_argument("--config", help="a YAML file whose `ingest:` section sets chunk_size, chunk_overlap, source")
    parser.add_argument("--chunk-size", type=int, help="characters per chunk (ingest.chunk_size; default 1000)")
    parser.add_argument("--chunk-overlap", type=int, help="characters shared by neighbouring chunks (default 200)")
    parser.add_argument("--source", help="the source every chunk carries (ingest.source; default 'ingest')")
    parser.add_argument("--visible-only", action="store_true", default=None,
                        help="extract only the text a reader of the rendered page sees (ingest.visible_only)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip documents that cannot be read (counted and named) instead of stopping")


def _config(args: argparse.Namespace) -> object:
    from pydantic import ValidationError
    from ragpoison.eval.config import IngestConfig, read_yaml_mapping
    from ragpoison.rag.plugin import validation_to_input_error

    tree: dict = {}
    if args.config:
        section = read_yaml_mapping(args.config).get("ingest", {})
        if not isinstance(section, dict):
            raise InputError("expected an `ingest:` mapping", path=args.config, field="ingest")
        tree.update(section)
    for key in ("chunk_size", "chunk_overlap", "source", "visible_only"):
        value = getattr(args, key)
        if value is not None:
            tree[key] = value
    try:
        return IngestConfig.model_validate(tree)
    except ValidationError as exc:
        raise validation_to_input_error(exc, prefix="ingest") from None


def run(args: argparse.Namespace) -> int:
    """Ingest and say what was written and skipped."""
    from ragpoison.eval.ingest import ingest

    report = ingest(args.docs, args.out, _config(args), skip_bad=args.skip_bad)  # type: ignore[arg-type]
    for reason in report.skipped:
        console.progress(f"skipped {reason}")
    skipped = f"; skipped {len(report.skipped)} unreadable document(s)" if report.skipped else ""
    console.emit(f"wrote {report.chunks} chunks of {report.documents} document(s) to "
                 f"{Path(args.out) / 'chunk' / 'documents.jsonl'}{skipped}")
    return 0
