"""``ragpoison verify``: check every passage of a signed MedRAG corpus against a trusted key."""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

from ragpoison.eval import console
from ragpoison.rag.errors import InputError

HELP = "verify the signature of every passage of a MedRAG corpus (exit 1 if any fails)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``verify``."""
    parser.add_argument("corpus", help="signed MedRAG JSONL file or folder")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--public-key", help="public key file (PEM or base64)")
    key.add_argument("--key", help="private key file; its public half is used")
    key.add_argument("--key-env", help="environment variable holding the private key "
                                       "(default RAGPOISON_SIGNING_KEY)")
    parser.add_argument("--max-report", type=int, default=20, help="failures listed one per line (default 20)")


def _contents_check(where: str) -> str | None:
    """MedRAG's derived ``contents`` must equal title + '. ' + content, since only those two are signed."""
    file, line = where.rsplit(":", 1)
    record = json.loads(_lines(file)[int(line) - 1])
    if "content" not in record or "contents" not in record:
        return None
    title = record.get("title") or ""
    expected = f"{title}. {record['content']}" if title else record["content"]
    return None if record["contents"] == expected else "contents disagrees with title and content"


@functools.lru_cache(maxsize=4)
def _lines(file: str) -> list[str]:
    return Path(file).read_text(encoding="utf-8").splitlines()


def run(args: argparse.Namespace) -> int:
    """List each failing passage as file:line, id and reason; 0 when all verify, 1 otherwise."""
    from ragpoison.rag.loaders import iter_medrag_lines
    from ragpoison.rag.signing import Verifier, load_public_key

    if args.public_key:
        public = load_public_key(args.public_key, field="--public-key")
    else:
        from ragpoison.eval.commands.sign import signer_from_args

        public = signer_from_args(args).public_key
    verifier = Verifier([public])
    total, failures, seen = 0, list[str](), set[str]()
    for file, line, doc_id, passage in iter_medrag_lines(Path(args.corpus)):
        where = f"{file}:{line}"
        total += 1
        reason = "duplicate id" if doc_id in seen else verifier.check(doc_id, passage) or _contents_check(where)
        seen.add(doc_id)
        if reason is not None:
            failures.append(f"{where}: {doc_id}: {reason}")
    if total == 0:
        raise InputError("corpus is empty", path=args.corpus)
    for failure in failures[: args.max_report]:
        console.emit(failure)
    if len(failures) > args.max_report:
        console.emit(f"... and {len(failures) - args.max_report} more")
    console.emit(f"{total - len(failures)} of {total} passages verify under key {verifier.key_ids[0]}")
    return 1 if failures else 0
