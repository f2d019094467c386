"""Shared by the adaptive attacks: the attacker's own view of the pipeline and the draft-score-select loop.

An adaptive attack knows the defense chain it faces and the defenses' public parameters (Kerckhoffs), read
from ``AttackContext.defenses``; it never reads a defender's secrets (signing key, the defender's seed, its
calibration sample or fitted threshold). Whatever statistic a defense thresholds, the attacker estimates on
its own sample: a seeded fraction of the public corpus chosen with the attacker's own seed namespace
("attacker-sample"), so its estimate varies independently of the defender's.

For each target question: retrieve the question's clean passages with the public embedder (the attacker's
own queries), write ``candidates`` drafts in the corpus's clinical register (``_register_writer``), score
each for retrieval (it must rank in the top k on its own), for the reader (the attacker's own copy of the
extractive reader, fitted on its own sample, must answer the target with the draft among the clean top
k - 1) and for the family's defense, then pick N drafts greedily under the family's pairwise constraint.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from pydantic import Field
from ragpoison.poisoning.attacks._register_writer import ClinicalRegisterWriter, Draft, sentence_pool
from ragpoison.poisoning.attacks._slots import web_metadata
from ragpoison.poisoning.attacks.base import Attack, AttackContext, DefenseSpec, Poison, poison_id
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.generators.extractive import ExtractiveReader
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.retrievers.base import passage_text
from ragpoison.rag.types import Question


class AdaptiveParams(Params):
    """Parameters every adaptive attack shares."""

    k: int = Field(5, ge=1, description="the pipeline's public k (passages the reader sees)")
    depth: int = Field(8, ge=1, description="own retrieved clean passages that lend sentences")
    candidates: int = Field(6, ge=1, description="drafts written per target question and variant")
    sample_fraction: float = Field(0.5, gt=0, le=1, description="share of the corpus in the attacker's own sample")
    margin: float = Field(0.03, ge=0, description="safety margin kept below an estimated threshold")


def faced(context: AttackContext, name: str) -> DefenseSpec | None:
    """The first defense of that name in the chain the attacker faces, if any."""
    return next((spec for spec in context.defenses if spec.name == name), None)


def public_params(spec: DefenseSpec) -> Any:
    """The defense's parameters with its own defaults filled in (its public configuration)."""
    cls = DEFENSES.get(spec.name, key="defenses")
    return cls.Params(**dict(spec.params))


@dataclass(frozen=True)
class Scored:
    """A draft with the attacker's own measurements of it."""

    draft: Draft
    vector: np.ndarray
    similarity: float
    ranks: bool
    reader_margin: float
    admissible: bool
    notes: Mapping[str, float] = field(default_factory=dict)

    @property
    def passage(self) -> dict[str, str]:
        """The draft as a corpus entry (no metadata)."""
        return {"title": self.draft.title, "text": self.draft.text}


class AttackerView:
    """What the attacker computes for itself: its own sample, retrieval with the public embedder, own reader."""

    def __init__(self, context: AttackContext, params: AdaptiveParams, attack: str) -> None:
        if context.embedder is None:
            raise InputError(f"attack {attack!r} needs the stack's (public) embedder in its context",
                             field=f"attacks.{attack}")
        self.context = context
        self.embedder = context.embedder
        self.ids = sorted(context.corpus)
        self.sample = [d for d in self.ids if _unit(f"{context.seed}:attacker-sample:{d}") < params.sample_fraction]
        self.vectors = self.embedder.encode([passage_text(dict(context.corpus[d])) for d in self.ids])
        self.reader = ExtractiveReader()
        self.reader.fit({d: dict(context.corpus[d]) for d in self.sample})
        # The reader calls only ``encode``, which the VictimEmbedder contract states.
        self.reader.use_embedder(cast(Embedder, self.embedder))

    def retrieve(self, query: str, depth: int) -> list[tuple[str, float]]:
        """The attacker's own top ``depth`` clean passages for a query (exact inner product)."""
        scores = self.vectors @ self.embedder.encode_queries([query])[0]
        order = np.argsort(-scores, kind="stable")[:depth]
        return [(self.ids[i], float(scores[i])) for i in order]

    def read(self, question: Question, passages: Sequence[Mapping[str, str]]) -> tuple[str, float]:
        """The own reader's answer and its margin (target score minus best other) is left to the caller."""
        answer = self.reader.answer([ReaderInput(question, tuple(dict(p) for p in passages))])[0]
        top = max(answer.scores.values()) if answer.scores else 0.0
        return answer.letter, top


def _unit(key: str) -> float:
    """A hash of ``key`` as a float in [0, 1)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") / 2**64


class AdaptiveAttack(Attack):
    """Base of the adaptive attacks: draft in clinical register, score against the faced defense, select N."""

    Params = AdaptiveParams
    params: AdaptiveParams

    def variants(self) -> list[tuple[bool, int]]:
        """(echo the question's vignette, extra topical sentences) combinations to draft; one by default."""
        return [(True, 0)]

    def prepare(self, view: AttackerView) -> None:
        """Estimate the faced defense's statistics on the attacker's own sample; nothing by default."""

    def admissible(self, view: AttackerView, question: Question, letter: str, scored: Scored,
                   clean: list[tuple[str, float]]) -> bool:
        """Whether one draft should pass the faced defense on its own; True by default."""
        return True

    def compatible(self, view: AttackerView, chosen: list[Scored], candidate: Scored) -> bool:
        """Whether a draft may join those already chosen for the question; True by default."""
        return True

    def metadata(self, view: AttackerView, qid: str, index: int, rng: random.Random, slug: str) -> dict[str, str]:
        """The metadata a poisoned passage claims; an untrusted web page by default."""
        return web_metadata(rng, slug)

    def craft(self, context: AttackContext) -> Poison:
        """Draft, score and select N passages per target question (deterministic for the context's seed)."""
        view = AttackerView(context, self.params, self.name)
        self.prepare(view)
        writer = ClinicalRegisterWriter()
        poison = Poison()
        for qid, count in context.counts().items():
            question = context.questions[qid]
            letter = context.targets[qid].option
            target = question.options[letter]
            clean = view.retrieve(question.question, max(self.params.depth, 20))
            pool = sentence_pool(question, target, [(d, context.corpus[d]) for d, _ in clean[:self.params.depth]])
            drafts = [writer.draft(question, target, pool, random.Random(f"{context.seed}:{self.name}:{qid}:{j}:{v}"),
                                   echo=echo, rotate=j, extra_topical=extra)
                      for j in range(self.params.candidates) for v, (echo, extra) in enumerate(self.variants())]
            scored = self._score(view, question, letter, drafts, clean)
            for index, pick in enumerate(self._select(view, scored, count)):
                pid = poison_id(self.name, qid, index)
                rng = random.Random(f"{context.seed}:{self.name}:{qid}:{index}:meta")
                slug = f"{qid.replace('/', '-')}-{index}"
                poison.passages[pid] = {**pick.passage, **self.metadata(view, qid, index, rng, slug)}
                poison.target_of[pid] = qid
        return poison

    def _score(self, view: AttackerView, question: Question, letter: str, drafts: list[Draft],
               clean: list[tuple[str, float]]) -> list[Scored]:
        unique = list({(d.title, d.text): d for d in drafts}.values())
        vectors = view.embedder.encode([passage_text({"title": d.title, "text": d.text}) for d in unique])
        query = view.embedder.encode_queries([question.question])[0]
        kth = clean[self.params.k - 1][1]
        rivals = [dict(view.context.corpus[d]) for d, _ in clean[: self.params.k - 1]]
        # One batch for the reader: every draft read with the clean top k - 1, as the victim would read it.
        answers = view.reader.answer([ReaderInput(question, ({"title": d.title, "text": d.text}, *rivals))
                                      for d in unique])
        out = []
        for draft, vector, answer in zip(unique, vectors, answers, strict=True):
            others = max(v for x, v in answer.scores.items() if x != letter)
            similarity = float(vector @ query)
            base = Scored(draft, vector, similarity, similarity > kth, answer.scores[letter] - others, True)
            out.append(Scored(base.draft, vector, similarity, base.ranks, base.reader_margin,
                              self.admissible(view, question, letter, base, clean)))
        return out

    def _select(self, view: AttackerView, scored: list[Scored], count: int) -> list[Scored]:
        """Greedy: admissible, ranking and convincing drafts first; the family's pairwise constraint kept."""
        ranked = sorted(scored, key=lambda s: (s.admissible, s.ranks, s.reader_margin > 0,
                                               s.reader_margin + s.similarity), reverse=True)
        chosen: list[Scored] = []
        for candidate in ranked:
            if len(chosen) == count:
                break
            if self.compatible(view, chosen, candidate):
                chosen.append(candidate)
        # Budget left and nothing compatible: the least bad drafts rather than fewer passages.
        for candidate in ranked:
            if len(chosen) == count:
                break
            if candidate not in chosen:
                chosen.append(candidate)
        return chosen
