"""``ragpoison sign``: sign every passage of a MedRAG corpus over its content and metadata."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "sign every passage of a MedRAG corpus (Ed25519 over content and metadata) into a signed copy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sign``."""
    parser.add_argument("corpus", help="MedRAG JSONL file or folder")
    parser.add_argument("--out", required=True, help="signed copy: a file for a file, a folder for a folder")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--key", help="private key file (PEM or base64)")
    key.add_argument("--key-env", help="environment variable holding the private key "
                                       "(default RAGPOISON_SIGNING_KEY)")


def signer_from_args(args: argparse.Namespace):
    """The private key named by --key or --key-env (default variable RAGPOISON_SIGNING_KEY)."""
    from ragpoison.rag.signing import DEFAULT_KEY_ENV, load_signer

    env = args.key_env or DEFAULT_KEY_ENV
    signer = load_signer(args.key, None if args.key else env, field="--key")
    if signer is None:
        raise InputError(f"no signing key: pass --key FILE or set {env}", field="--key-env" if args.key_env
                         else "--key")
    return signer


def signed_records(file: Path, signer, corpus: dict) -> list[str]:
    """The lines of one corpus file with provenance made explicit and a signature added."""
    from ragpoison.rag.signing import SIGNATURE_FIELD

    lines = []
    for raw in file.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        record = json.loads(raw)
        passage = corpus[record["id"]]
        # Provenance the loader inferred (from the folder or the id) is written out, so that the signed
        # copy verifies wherever it is moved.
        for key in ("source", "reference"):
            if key in passage:
                record[key] = passage[key]
        record[SIGNATURE_FIELD] = signer.sign(record["id"], passage)
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines


def run(args: argparse.Namespace) -> int:
    """Validate the whole corpus, then write the signed copy file by file (each atomically)."""
    from ragpoison.eval.results import atomic_write
    from ragpoison.rag.loaders import corpus_files, load_corpus
    from ragpoison.rag.signing import SIGNATURE_FIELD

    signer = signer_from_args(args)
    source = Path(args.corpus)
    corpus = load_corpus(source)  # validates every line (and refuses duplicate ids) before anything is written
    for passage in corpus.values():
        passage.pop(SIGNATURE_FIELD, None)  # re-signing replaces an old signature
    out = Path(args.out)
    if out.resolve() == source.resolve() or (source.is_dir() and out.resolve().is_relative_to(source.resolve())):
        raise InputError("refusing to write into the corpus being signed", path=out, field="--out")
    if out.exists() and out.is_dir() != source.is_dir():
        kind = "a folder" if source.is_dir() else "a file"
        raise InputError(f"must be {kind}, like the corpus", path=out, field="--out")
    files = corpus_files(source)
    for file in files:
        target = out / file.relative_to(source) if source.is_dir() else out
        lines = signed_records(file, signer, corpus)
        atomic_write(target, lambda p, lines=lines: p.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    console.emit(f"signed {len(corpus)} passages in {len(files)} file(s) with key {signer.key_id}; wrote {out}")
    return 0
