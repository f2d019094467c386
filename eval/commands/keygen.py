"""``ragpoison keygen``: write a new Ed25519 key pair for signing a trusted corpus."""

from __future__ import annotations

import argparse

from ragpoison.eval import console

HELP = "write a new Ed25519 signing key (PEM, mode 0600) and its public key (.pub)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``keygen``."""
    parser.add_argument("--out", required=True, help="private key path; the public key goes to OUT.pub")
    parser.add_argument("--force", action="store_true", help="replace existing key files")


def run(args: argparse.Namespace) -> int:
    """Write the key pair and print where it went and its key id (never the key)."""
    from ragpoison.rag.signing import write_keypair

    private, public, kid = write_keypair(args.out, overwrite=args.force)
    console.emit(f"wrote private key {private} (mode 0600) and public key {public}; key id {kid}")
    return 0
