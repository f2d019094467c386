"""Sanitizing ingestion, checked at retrieval: a passage must be text its source document shows to a reader.

A passage ingested from a document (``ragpoison ingest`` records the file in its ``document`` field) is kept only
when its words appear, in order, in the document's visible text (``ragpoison.eval.visible``: what a browser, PDF
viewer or Markdown preview shows). This is visible-text-only extraction applied to what the index already holds:
the same passages ``ingest --visible-only`` would have produced are kept, and a chunk carrying hidden text is
dropped. Passages with no readable source document (a corpus of plain passages) are kept: the defense only has a
claim about documents.
"""

from __future__ import annotations

from pathlib import Path

from ragpoison.poisoning.defenses.base import Candidate, Defense, OutOfScope, ThreatModel
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import DEFENSES
from ragpoison.rag.types import Question

_PASSAGE_ATTACKS = ("poisonedrag-blackbox", "poisonedrag-whitebox", "corpus-poisoning", "content-edit",
                    "prompt-injection", "provenance-spoof", "trigger-backdoor", "adaptive-fluent", "adaptive-inlier",
                    "adaptive-diverse", "adaptive-multisource", "adaptive-vote")


class VisibleTextParams(Params):
    """Parameters of the visible-text defense."""

    field: str = "document"
    """Passage field holding the path of the document a passage was ingested from."""


@DEFENSES.register("visible-text")
class VisibleText(Defense):
    """Keep a document's passage only if a reader of the rendered document sees its text (drops hidden text)."""

    Params = VisibleTextParams
    params: VisibleTextParams
    threat_model = ThreatModel(
        "text hidden in an ingested document (CSS, render mode, colour, an image over it, comments, titles) never "
        "reaches the reader; visible text is trusted",
        tuple(OutOfScope(name, "plants passages a reader can see, not hidden text in a document")
              for name in _PASSAGE_ATTACKS))

    def __init__(self, params: VisibleTextParams | None = None) -> None:
        super().__init__(params)
        self._seen: dict[str, str | None] = {}

    def _visible(self, document: str) -> str | None:
        """The document's visible words, or None when there is no document to check against."""
        if document not in self._seen:
            from ragpoison.eval.ingest import FORMATS, extract
            from ragpoison.eval.visible import words
            from ragpoison.rag.errors import InputError

            path = Path(document)
            text: str | None = None
            if path.suffix.lower() in FORMATS and path.is_file():
                try:
                    text = f" {words(extract(path, visible=True).text)} "
                except InputError:
                    text = None
            self._seen[document] = text
        return self._seen[document]

    def verdicts(self, question: Question, candidates: list[Candidate]) -> list[bool]:
        """Keep passages without a readable document, and those whose words the document visibly shows."""
        from ragpoison.eval.visible import words

        keep = []
        for candidate in candidates:
            document = candidate.passage.get(self.params.field, "")
            visible = self._visible(document) if document else None
            keep.append(visible is None or f" {words(candidate.passage.get('text', ''))} " in visible)
        return keep
