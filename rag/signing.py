"""Ed25519 signatures over a passage's content and metadata together, and the keys that make them.

A passage is signed over a canonical serialisation of its id and every field of the passage except the
signature itself (title, text, source, published, reference, ...): sorted keys, no whitespace, ASCII
escapes, behind a domain-separation prefix. Changing any byte of the content or the metadata, or moving
a valid signature onto another passage, makes verification fail.

Key material is read from a file or an environment variable and is never echoed: errors name the file or
the variable, not its contents.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragpoison.rag.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_FIELD = "signature"
SCHEME = "ed25519"
DEFAULT_KEY_ENV = "RAGPOISON_SIGNING_KEY"
_DOMAIN = b"ragpoison-passage-v1\x00"


def canonical_bytes(doc_id: str, passage: Mapping[str, Any]) -> bytes:
    """The exact bytes a passage's signature covers: its id and all its fields but the signature."""
    fields = {key: value for key, value in passage.items() if key != SIGNATURE_FIELD}
    blob = json.dumps({"id": doc_id, "passage": fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _DOMAIN + blob.encode("ascii")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short public fingerprint of a verification key (safe to print)."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """A private signing key; its repr never shows the key."""

    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching Ed25519 public key."""
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        """Fingerprint of the public half."""
        return key_id(self.public_key)

    def sign(self, doc_id: str, passage: Mapping[str, Any]) -> str:
        """The signature field value for a passage: ``ed25519:<key id>:<base64 signature>``."""
        raw = self.private_key.sign(canonical_bytes(doc_id, passage))
        return f"{SCHEME}:{self.key_id}:{base64.b64encode(raw).decode('ascii')}"

    @classmethod
    def generate(cls) -> Signer:
        """A fresh random key, held only in memory."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())


class Verifier:
    """Checks passage signatures against a set of trusted public keys."""

    def __init__(self, public_keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id(k): k for k in public_keys}

    @property
    def key_ids(self) -> list[str]:
        """Fingerprints of the trusted keys."""
        return sorted(self._keys)

    def check(self, doc_id: str, passage: Mapping[str, Any], signature: str | None = None) -> str | None:
        """None when the passage verifies; otherwise why it does not.

        ``signature`` defaults to the passage's own signature field.
        """
        from cryptography.exceptions import InvalidSignature

        value = passage.get(SIGNATURE_FIELD) if signature is None else signature
        if not value:
            return "unsigned"
        if not isinstance(value, str):
            return "malformed signature"
        scheme, _, rest = value.partition(":")
        signer, _, encoded = rest.partition(":")
        if scheme != SCHEME or not signer or not encoded:
            return "malformed signature"
        public = self._keys.get(signer)
        if public is None:
            return "signed by an untrusted key"
        try:
            raw = base64.b64decode(encoded, validate=True)
            public.verify(raw, canonical_bytes(doc_id, passage))
        except (binascii.Error, ValueError):
            return "malformed signature"
        except InvalidSignature:
            return "signature does not match content and metadata"
        return None

    def verifies(self, doc_id: str, passage: Mapping[str, Any], signature: str | None = None) -> bool:
        """True when the passage carries (or is given) a valid signature by a trusted key."""
        return self.check(doc_id, passage, signature) is None


def _private_from_bytes(data: bytes, where: dict[str, Any]) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        # Never include the key material in the message.
        raise InputError("not an Ed25519 private key (PEM PKCS#8 or base64 of 32 raw bytes)", **where) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("not an Ed25519 private key", **where)
    return key


def _public_from_bytes(data: bytes, where: dict[str, Any]) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise InputError("not an Ed25519 public key (PEM or base64 of 32 raw bytes)", **where) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an Ed25519 public key", **where)
    return key


def _read_key_file(path: str | Path, field: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise InputError("no such key file", path=path, field=field)
    return path.read_bytes()


def load_signer(key_file: str | Path | None = None, key_env: str | None = None, *,
                field: str = "key_file") -> Signer | None:
    """The private key from a file, else from an environment variable; None when neither is given or set."""
    if key_file is not None:
        return Signer(_private_from_bytes(_read_key_file(key_file, field), {"path": key_file, "field": field}))
    if key_env:
        value = os.environ.get(key_env)
        if value:
            return Signer(_private_from_bytes(value.encode(), {"field": f"environment variable {key_env}"}))
    return None


def load_public_key(path: str | Path, *, field: str = "public_key_file") -> Ed25519PublicKey:
    """An Ed25519 public key from a file (PEM, or base64 of the 32 raw bytes)."""
    return _public_from_bytes(_read_key_file(path, field), {"path": path, "field": field})


def write_keypair(private_path: str | Path, *, overwrite: bool = False) -> tuple[Path, Path, str]:
    """Write a new private key (PEM, mode 0600) and its public key (``.pub``); returns paths and key id."""
    from cryptography.hazmat.primitives import serialization

    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists() and not overwrite:
            raise InputError("already exists (pass --force to replace it)", path=path)
    signer = Signer.generate()
    pem = signer.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    public_pem = signer.public_key.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    private_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = private_path.with_name(f".{private_path.name}.tmp")
    # Create the file with owner-only permissions before any key byte is written to it.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(tmp, private_path)
    public_path.write_bytes(public_pem)
    return private_path, public_path, signer.key_id
