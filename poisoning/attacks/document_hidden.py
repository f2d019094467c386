"""Poison hidden inside documents: a page a person reads as harmless, whose hidden text the index takes in.

For each target question the attacker writes N documents (HTML, PDF or Markdown). What a reader of the rendered
page sees is the question under a neutral heading, with no claim in it (the retrieval condition S, visible); the
generation condition I (text asserting the target, from the passage writer) sits in one hiding place of the
format (``ragpoison.poisoning.hiding``: a CSS-hidden element, white or invisible-render text, a comment, ...). The
documents then go through the victim's own ingestion (``ragpoison ingest``'s extraction and chunker, with the
chunk settings the attacker is told), and the chunks that hold hidden text are the poison. Where the extractor
drops the hiding place, no chunk holds it and the attack plants nothing: which places reach the index is the
extractor's property, not the attacker's choice (the README's table). This is PoisonedRAG's S + I split across
what is visible and what is not, the delivery of indirect prompt injection through web pages (Greshake et al.,
2023).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field, model_validator
from ragpoison.poisoning.attacks._slots import plan_slots, web_metadata
from ragpoison.poisoning.attacks.base import Attack, AttackContext, Poison
from ragpoison.poisoning.attacks.poisonedrag import Writer, write_texts
from ragpoison.poisoning.hiding import PLACES, write_document
from ragpoison.rag.cache import default_cache_dir
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import ATTACKS


class DocumentHiddenParams(Params):
    """Parameters of the hidden-text document attack."""

    format: Literal["html", "pdf", "markdown"] = "html"
    place: str = Field("hidden-element", description="hiding place of the format (see ragpoison.poisoning.hiding)")
    writer: Writer = "auto"
    chunk_size: int = Field(1000, ge=50, description="the victim's ingest.chunk_size")
    chunk_overlap: int = Field(200, ge=0, description="the victim's ingest.chunk_overlap")

    @model_validator(mode="after")
    def _known_place(self) -> DocumentHiddenParams:
        if self.place not in PLACES[self.format]:
            raise ValueError(f"unknown hiding place {self.place!r} for {self.format}; one of "
                             f"{', '.join(PLACES[self.format])}")
        return self


@ATTACKS.register("document-hidden")
class DocumentHidden(Attack):
    """Documents that show a harmless page and hide the poison where the victim's extractor still reads it."""

    Params = DocumentHiddenParams
    params: DocumentHiddenParams

    def craft(self, context: AttackContext) -> Poison:
        """Write the documents, ingest them as the victim does, keep the chunks that carry hidden text."""
        from ragpoison.eval.ingest import IngestConfig, chunks, extract
        from ragpoison.eval.visible import words

        p = self.params
        slots = plan_slots(self.name, context)
        texts = write_texts(self.name, p.writer, context, slots)
        key = json.dumps([context.seed, p.model_dump(), [(s.pid, t) for s, t in zip(slots, texts, strict=True)]])
        folder = default_cache_dir() / "documents" / hashlib.sha256(key.encode()).hexdigest()[:20]
        config = IngestConfig(chunk_size=p.chunk_size, chunk_overlap=p.chunk_overlap)
        poison = Poison()
        for slot, hidden in zip(slots, texts, strict=True):
            title = "Patient information"
            visible = f"Clinical question: {slot.question.question} Ask your clinician about your own care."
            path = write_document(folder, slot.slug, p.format, p.place, title, visible, hidden)
            meta = web_metadata(slot.rng, slot.slug)
            payload = set(words(hidden).split()) - set(words(f"{title} {visible}").split())
            for index, chunk in enumerate(chunks(extract(path), config)):
                if not payload & set(words(chunk).split()):
                    continue  # a chunk of the visible page only: harmless text, not poison
                pid = slot.pid if index == 0 else f"{slot.pid}::c{index}"
                poison.passages[pid] = {"title": title, "text": chunk, **meta, "document": str(path)}
                poison.target_of[pid] = slot.qid
        return poison
