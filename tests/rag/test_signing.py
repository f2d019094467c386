"""Ed25519 passage signatures: what they cover, what breaks them, and how keys are read."""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragpoison.rag.errors import InputError
from ragpoison.rag.signing import Signer, Verifier, canonical_bytes, load_public_key, load_signer, write_keypair

PASSAGE = {"title": "Acetaminophen overdose", "text": "N-acetylcysteine is the antidote for acetaminophen overdose.",
           "source": "statpearls", "published": "2022-05-16", "reference": "https://ragpoison.invalid/x/cm001_0"}
SIGNER = Signer.generate()
VERIFIER = Verifier([SIGNER.public_key])
SIGNED = {**PASSAGE, "signature": SIGNER.sign("cm001_0", PASSAGE)}


def test_a_signed_passage_verifies_and_the_signature_is_not_part_of_what_is_signed():
    assert VERIFIER.check("cm001_0", SIGNED) is None
    assert canonical_bytes("cm001_0", SIGNED) == canonical_bytes("cm001_0", PASSAGE)
    assert SIGNER.sign("cm001_0", PASSAGE) == SIGNED["signature"]  # Ed25519 is deterministic


def test_forged_metadata_edited_content_and_moved_signatures_fail():
    forged = {**SIGNED, "source": "pubmed"}
    assert VERIFIER.check("cm001_0", forged) == "signature does not match content and metadata"
    edited = {**SIGNED, "text": SIGNED["text"].replace("N-acetylcysteine", "Flumazenil")}
    assert not VERIFIER.verifies("cm001_0", edited)
    other = {"title": "Opioid overdose", "text": "Naloxone reverses opioid respiratory depression.",
             "source": "pubmed", "published": "2021-01-01", "reference": "PMID:39999999"}
    moved = {**other, "signature": SIGNED["signature"]}
    assert not VERIFIER.verifies("cm001_0", moved)
    assert not VERIFIER.verifies("other", SIGNED), "the id is signed too"
    assert not VERIFIER.verifies("cm001_0", {**SIGNED, "extra": "x"}), "an added field is metadata too"
    dropped = {k: v for k, v in SIGNED.items() if k != "published"}
    assert not VERIFIER.verifies("cm001_0", dropped)


def test_unsigned_malformed_and_foreign_signatures_fail_with_a_reason():
    assert VERIFIER.check("cm001_0", PASSAGE) == "unsigned"
    assert VERIFIER.check("cm001_0", {**PASSAGE, "signature": "garbage"}) == "malformed signature"
    assert VERIFIER.check("cm001_0", {**PASSAGE, "signature": f"ed25519:{SIGNER.key_id}:!!!"}) \
        == "malformed signature"
    foreign = Signer.generate()
    assert VERIFIER.check("cm001_0", {**PASSAGE, "signature": foreign.sign("cm001_0", PASSAGE)}) \
        == "signed by an untrusted key"
    # A forger who relabels a foreign signature with the trusted key id still fails.
    relabelled = foreign.sign("cm001_0", PASSAGE).replace(foreign.key_id, SIGNER.key_id)
    assert VERIFIER.check("cm001_0", {**PASSAGE, "signature": relabelled}) \
        == "signature does not match content and metadata"


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(PASSAGE)), data=st.data())
def test_any_single_byte_change_of_content_or_metadata_fails_verification(field, data):
    raw = PASSAGE[field].encode("utf-8")
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]), label="byte")
    changed = raw[:position] + bytes([byte]) + raw[position + 1:]
    # surrogateescape keeps a byte that is not valid UTF-8 distinct instead of replacing it.
    tampered = {**SIGNED, field: changed.decode("utf-8", errors="surrogateescape")}
    assert tampered[field] != PASSAGE[field]
    assert not VERIFIER.verifies("cm001_0", tampered)


@settings(max_examples=100, deadline=None)
@given(doc_id=st.text(min_size=1, max_size=20), text=st.text(max_size=200), title=st.text(max_size=40))
def test_any_passage_signed_verifies_exactly_as_signed(doc_id, text, title):
    passage = {"title": title, "text": text, "source": "pubmed"}
    signature = SIGNER.sign(doc_id, passage)
    assert VERIFIER.verifies(doc_id, passage, signature)
    assert not VERIFIER.verifies(doc_id, {**passage, "source": "web"}, signature)


def test_keys_load_from_file_and_environment_in_pem_and_base64(tmp_path, monkeypatch):
    private, public, kid = write_keypair(tmp_path / "ingest.key")
    assert private.stat().st_mode & 0o777 == 0o600
    signer = load_signer(private)
    assert signer.key_id == kid and "PRIVATE" not in repr(signer)
    assert load_public_key(public) is not None
    from cryptography.hazmat.primitives import serialization

    seed = signer.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
    monkeypatch.setenv("INGEST_KEY", base64.b64encode(seed).decode())
    assert load_signer(None, "INGEST_KEY").key_id == kid
    monkeypatch.setenv("INGEST_KEY", private.read_text())
    assert load_signer(None, "INGEST_KEY").key_id == kid
    monkeypatch.delenv("INGEST_KEY")
    assert load_signer(None, "INGEST_KEY") is None
    with pytest.raises(InputError, match="already exists"):
        write_keypair(private)


def test_bad_keys_are_input_errors_that_never_echo_the_key(tmp_path, monkeypatch):
    secret = base64.b64encode(b"x" * 31).decode()  # the wrong length for an Ed25519 seed
    monkeypatch.setenv("INGEST_KEY", secret)
    with pytest.raises(InputError) as caught:
        load_signer(None, "INGEST_KEY")
    assert "INGEST_KEY" in str(caught.value) and secret not in str(caught.value)
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(InputError, match="bad.key"):
        load_signer(bad)
    with pytest.raises(InputError, match="no such key file"):
        load_signer(tmp_path / "missing.key")
    with pytest.raises(InputError, match="public key"):
        load_public_key(bad)
