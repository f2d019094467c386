"""Signed provenance: only passages whose Ed25519 signature over content and metadata verifies reach the reader."""

from __future__ import annotations

from pydantic import Field
from ragpoison.poisoning.defenses.base import Candidate, Defense, DefenseContext, OutOfScope, ThreatModel, secret
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.signing import DEFAULT_KEY_ENV, SIGNATURE_FIELD, Signer, Verifier, load_public_key, load_signer
from ragpoison.rag.types import Question


class SignedProvenanceParams(Params):
    """Parameters of the signed-provenance filter.

    ``key_file`` or the environment variable ``key_env`` hold the ingest signing key; ``public_key_file``
    trusts signatures already carried by a corpus (written by ``ragpoison sign``). With ``sign_at_ingest``,
    the trusted corpus is signed when the filter is fitted: with the configured key, or, when none is
    configured, with an ephemeral key generated in memory and never written anywhere.
    """

    key_file: str | None = Field(None, **secret("the ingest signing key's file"))
    key_env: str = Field(DEFAULT_KEY_ENV, **secret("the variable holding the ingest signing key"))
    public_key_file: str | None = None
    sign_at_ingest: bool = True


@DEFENSES.register("provenance-signed")
class SignedProvenanceFilter(Defense):
    """Keep only passages with a valid Ed25519 signature over their content and metadata (signed at ingest)."""

    Params = SignedProvenanceParams
    params: SignedProvenanceParams
    threat_model = ThreatModel(
        "no passage added or altered after the corpus was signed reaches the reader (integrity since ingest)",
        (OutOfScope("content-edit", "signed poison: edited before signing (upstream corruption, or an insider "
                    "holding the key), so its signature verifies", {"stage": "before-ingest"}),
         OutOfScope("content-edit", "availability, not integrity: the edited passages are all dropped, but the "
                    "evidence they held is lost with them", {"mode": "in-place", "stage": "after-ingest"})))

    def __init__(self, params: SignedProvenanceParams | None = None) -> None:
        super().__init__(params)
        self._verifier: Verifier | None = None
        # doc id -> signature made at ingest; kept by the defender, apart from the passages themselves.
        self._ingest: dict[str, str] = {}
        self.ingest_key_id: str | None = None

    def fit(self, context: DefenseContext) -> None:
        """Sign the trusted corpus at ingest (unless told not to) and gather the trusted public keys."""
        params = self.params
        key = f"defenses.{self.name}.params"
        signer = load_signer(params.key_file, params.key_env, field=f"{key}.key_file")
        public_keys = [load_public_key(params.public_key_file, field=f"{key}.public_key_file")] \
            if params.public_key_file else []
        if params.sign_at_ingest:
            signer = signer or Signer.generate()
            self._ingest = {doc_id: signer.sign(doc_id, passage) for doc_id, passage in context.corpus.items()}
            self.ingest_key_id = signer.key_id
        else:
            self._ingest = {}
        if signer is not None:
            public_keys.append(signer.public_key)
        if not public_keys:
            raise InputError("nothing to verify against: give public_key_file or a signing key, or keep "
                             "sign_at_ingest", field=f"{key}.public_key_file")
        self._verifier = Verifier(public_keys)

    def verify(self, doc_id: str, passage: dict[str, str]) -> bool:
        """True when the passage's own signature, or the one made for its id at ingest, covers it exactly."""
        if self._verifier is None:
            raise RuntimeError("provenance-signed must be fitted on the trusted corpus first")
        if passage.get(SIGNATURE_FIELD) and self._verifier.verifies(doc_id, passage):
            return True
        ingest = self._ingest.get(doc_id)
        return ingest is not None and self._verifier.verifies(doc_id, passage, ingest)

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep a candidate only when its signature verifies under a trusted key."""
        return [self.verify(c.doc_id, c.passage) for c in candidates]
