"""Content editing: clinical misinformation written into the trusted passages a question retrieves.

For each target question the attacker takes the clean passages most relevant to it and edits up to N of
them. A passage that names the correct answer has every mention of it replaced by the target (drug
substituted, first-line agent swapped, or the dose in the answer swapped), and any warning it gave against
the target is turned around (contraindication flipped, negation removed): the edit asserts the target.
Relevant passages that do not name the answer may take the other edits: every dose scaled x10 or /10
(seeded, units kept consistent), a contraindication flipped or a negation flipped.

``mode: in-place`` is the insider: the edits replace the passages under their own ids and keep their
trusted provenance, so a source allowlist cannot see them; the runner swaps them into the index for the
cell and restores the originals after it. With ``stage: before-ingest`` the insider edits the passages before
the trusted corpus is ingested (upstream corruption, or an insider holding the signing key): the defenses are
fitted on, and a signing defense signs, the edited corpus. ``mode: copies`` adds the edited passages as new ones on
untrusted mirrors, re-posting the target-asserting copies on further mirrors while budget remains.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Literal

from pydantic import Field, model_validator
from ragpoison.poisoning.attacks import _clinical_edits as ce
from ragpoison.poisoning.attacks._writers import rank_passages
from ragpoison.poisoning.attacks.base import Attack, AttackContext, Poison, poison_id
from ragpoison.rag.generators._text import sentences
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import ATTACKS

Operation = ce.Operation


class ContentEditParams(Params):
    """Parameters of the content-edit attack."""

    mode: Literal["in-place", "copies"] = "in-place"
    operations: tuple[Operation, ...] = ce.OPERATIONS
    depth: int = Field(20, ge=1, description="most relevant clean passages considered per question")
    stage: Literal["after-ingest", "before-ingest"] = Field(
        "after-ingest", description="in-place edits made after the corpus was ingested (and signed), or before")

    @model_validator(mode="after")
    def _before_ingest_edits_in_place(self) -> ContentEditParams:
        if self.stage == "before-ingest" and self.mode != "in-place":
            raise ValueError("stage before-ingest edits passages in place: it needs mode in-place")
        return self


def assert_target(text: str, gold: str, target: str, operations: tuple[str, ...]) -> str | None:
    """The text made to assert the target; None if it never names the correct answer."""
    if ce.SUBSTITUTE not in operations:
        return None
    warned = [s for s in sentences(text) if target.lower() in s.lower()]
    edited = ce.substitute(text, gold, target)
    if edited is None:
        return None
    # Warnings the passage gave against the target would undercut it: turn them around.
    for sentence in warned:
        for operation, flip in ((ce.CONTRAINDICATION, ce.flip_contraindication), (ce.NEGATION, ce.flip_negation)):
            flipped = flip(sentence) if operation in operations else None
            if flipped is not None and sentence in edited:
                edited = edited.replace(sentence, flipped, 1)
                break
    return edited


def misinform(text: str, rng: random.Random, operations: tuple[str, ...]) -> str | None:
    """One of the other edits, tried in a seeded order: doses scaled, a contraindication or a negation flipped."""
    order = [op for op in (ce.DOSE, ce.CONTRAINDICATION, ce.NEGATION) if op in operations]
    rng.shuffle(order)
    for operation in order:
        if operation == ce.DOSE:
            edited = ce.scale_doses(text, rng.choice((10.0, 0.1)))
        else:
            edited = (ce.flip_contraindication if operation == ce.CONTRAINDICATION else ce.flip_negation)(text)
        if edited is not None:
            return edited
    return None


@ATTACKS.register("content-edit")
class ContentEdit(Attack):
    """Content editing: clinical misinformation (answer swapped, dose x10 or /10, warning flipped) in passages."""

    Params = ContentEditParams
    params: ContentEditParams

    def craft(self, context: AttackContext) -> Poison:
        """Edit up to N of each question's most relevant passages, target-asserting edits first."""
        poison = Poison(before_ingest=self.params.stage == "before-ingest")
        ranked = self._rank(context)
        used: set[str] = set()
        operations = tuple(self.params.operations)
        counts = context.counts()
        chosen: dict[str, list[tuple[str, dict[str, str]]]] = {qid: [] for qid in counts}
        rngs = {qid: random.Random(f"{context.seed}:{self.name}:{qid}") for qid in counts}
        # Target-asserting edits for every question first, so that no question's fill edit takes a passage
        # another question could have turned into an assertion of its target.
        for asserting in (True, False):
            for qid, count in counts.items():
                question = context.questions[qid]
                gold, target = question.options[question.answer], question.options[context.targets[qid].option]
                for doc_id in ranked[qid]:
                    taken = {d for d, _ in chosen[qid]} | (used if self.params.mode == "in-place" else set())
                    if len(chosen[qid]) >= count or doc_id in taken:
                        continue
                    original = context.corpus[doc_id]
                    edit = (assert_target(original["text"], gold, target, operations) if asserting
                            else misinform(original["text"], rngs[qid], operations))
                    if edit is not None:
                        title = original.get("title", "")
                        # The title names the answer too ("N-acetylcysteine antidote"): it is swapped with it.
                        title = (ce.substitute(title, gold, target) or title) if asserting else title
                        chosen[qid].append((doc_id, {**original, "title": title, "text": edit}))
                        used.add(doc_id)
                if asserting and self.params.mode == "copies" and chosen[qid]:
                    # A copy is re-posted on further mirrors until the budget is spent, as content farms do:
                    # each re-post is another passage asserting the target next to the original it copies.
                    asserted = list(chosen[qid])
                    while len(chosen[qid]) < count:
                        chosen[qid].append(asserted[(len(chosen[qid]) - len(asserted)) % len(asserted)])
        for qid, edits in chosen.items():
            for index, (doc_id, passage) in enumerate(edits):
                self._record(poison, qid, index, doc_id, passage, rngs[qid])
        return poison

    def _record(self, poison: Poison, qid: str, index: int, doc_id: str, passage: dict[str, str],
                rng: random.Random) -> None:
        if self.params.mode == "in-place":
            poison.edits[doc_id] = passage
            poison.target_of[doc_id] = qid
            return
        pid = poison_id(self.name, qid, index)
        published = date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))
        host = rng.choice(("medlib-mirror.example", "openmed-archive.example", "clinref-copy.example"))
        poison.passages[pid] = {**passage, "source": "web", "published": published.isoformat(),
                                "reference": f"https://{host}/{rng.getrandbits(32):08x}"}
        poison.target_of[pid] = qid

    def _rank(self, context: AttackContext) -> dict[str, list[str]]:
        """Each target question's ``depth`` most relevant clean passages, by the victim's embedder if given."""
        return rank_passages(context, min(self.params.depth, len(context.corpus)))
