"""Trace incidents against a user's store: retrieve as the system does, rank and flag, find copies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ragpoison.eval.forensics import NEIGHBOUR_COSINE, NEIGHBOURS, ROUNDS
from ragpoison.eval.incident import FlaggedPassage, Incident, IncidentConfig, IncidentTrace
from ragpoison.poisoning.defenses.base import Candidate, DefenseContext
from ragpoison.poisoning.traceback.base import TraceCase, read
from ragpoison.rag.errors import InputError
from ragpoison.rag.registry import EMBEDDERS, GENERATORS, TRACEBACKS
from ragpoison.rag.retrievers.base import passage_text

PAGE = 1000


class IncidentTracer:
    """The user's store, embedder and reader, opened once for any number of incidents."""

    def __init__(self, config: IncidentConfig, method: str | None = None,
                 progress: Callable[[str], object] | None = None) -> None:
        from ragpoison.eval.langchain.documents import EmbedderEmbeddings
        from ragpoison.eval.langchain.journal import reopen_store

        self.config = config
        self.method = method or config.method
        tracer_cls = TRACEBACKS.get(self.method, key="--method")
        self.spec = config.store.spec()
        self.reader = GENERATORS.create(config.generator.kind, config.generator.params, key="generator.kind")
        self.embedder = EMBEDDERS.create(config.embedder.kind, config.embedder.params, key="embedder.kind")
        self.store = reopen_store(self.spec, EmbedderEmbeddings(self.embedder))
        if self.store is None:
            raise InputError("an in-process store cannot be traced from the command line", field="store")
        self.progress = progress or (lambda text: None)
        corpus = self._documents()
        self.reader.use_embedder(self.embedder)
        if corpus:
            self.reader.fit(corpus)
        self.tracer = tracer_cls()
        self.tracer.fit(DefenseContext(corpus, self.embedder, self.reader))
        self._fitted = bool(corpus)

    def _documents(self) -> dict[str, dict[str, str]]:
        """Every passage of a Chroma store (the reader's term weights); {} for a store that cannot list them."""
        from ragpoison.eval.langchain.documents import document_passage
        from ragpoison.eval.langchain.quarantine import _is_chroma

        if not _is_chroma(self.store):
            return {}
        from langchain_core.documents import Document

        corpus: dict[str, dict[str, str]] = {}
        offset = 0
        while True:
            got = self.store.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            for doc_id, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                corpus[doc_id] = document_passage(Document(page_content=doc or "", metadata=meta or {}))
            if len(got["ids"]) < PAGE:
                break
            offset += PAGE
        self.progress(f"read {len(corpus)} passages of {self.spec.get('collection', 'the store')}")
        return corpus

    def _retrieve(self, text: str, n: int, skip: set[str]) -> list[Candidate]:
        from ragpoison.eval.langchain.documents import document_passage

        query = self.embedder.encode_queries([text])[0]
        docs = [d for d in self.store.similarity_search_by_vector(query.tolist(), k=n + len(skip))
                if d.id not in skip][:n]
        if not docs:
            return []
        passages = [document_passage(d) for d in docs]
        scores = self.embedder.encode([passage_text(p) for p in passages]) @ query
        return [Candidate(d.id or f"doc:{i}", float(s), p) for i, (d, p, s) in enumerate(zip(docs, passages, scores,
                                                                                            strict=True))]

    def trace(self, incident: Incident) -> IncidentTrace:
        """Rank and flag the passages behind one incident's wrong answer; look up their copies."""
        question, k = incident.question, self.config.k
        if not self._fitted:  # a store that cannot list its passages: term weights from what the question retrieves
            pool = self._retrieve(question.question, 4 * (k + self.config.reserve), set())
            self.reader.fit({c.doc_id: c.passage for c in pool})
        flagged: dict[str, Candidate] = {}
        suspects: list[tuple[str, float, bool]] = []
        answer = before = ""
        for round_no in range(ROUNDS):
            found = self._retrieve(question.question, k + self.config.reserve, set(flagged))
            if not found:
                if round_no == 0:
                    raise InputError(f"the store returned no passage for the question of {incident.id!r}",
                                     field="question")
                break
            case = TraceCase(question, incident.wrong, tuple(found[:k]), tuple(found[k:]))
            answer = read(self.reader, question, case.passages).letter
            before = before or answer
            if answer != incident.wrong and round_no > 0:
                break
            ranked = self.tracer.trace(case, self.reader)
            if round_no == 0:
                suspects = [(s.doc_id, s.score, s.flagged) for s in ranked]
            new = [s.doc_id for s in ranked if s.flagged and s.doc_id not in flagged]
            if not new:
                break
            by_id = {c.doc_id: c for c in found}
            flagged.update((doc_id, by_id[doc_id]) for doc_id in new)
        after = self._retrieve(question.question, k, set(flagged))
        answer_after = read(self.reader, question, after).letter if after else ""
        return IncidentTrace(incident, suspects, [_flag(c) for c in flagged.values()], self._copies(flagged),
                             before, answer_after)

    def _copies(self, flagged: dict[str, Candidate]) -> list[tuple[str, str, float]]:
        copies: list[tuple[str, str, float]] = []
        seen = set(flagged)
        for doc_id, candidate in flagged.items():
            text = passage_text(candidate.passage)
            hits = self._retrieve(text, NEIGHBOURS, set(flagged))
            if not hits:
                continue
            vector = self.embedder.encode([text])[0]
            cosines = self.embedder.encode([passage_text(hit.passage) for hit in hits]) @ vector
            for hit, cosine in zip(hits, (float(c) for c in cosines), strict=True):
                if cosine >= NEIGHBOUR_COSINE and hit.doc_id not in seen:
                    seen.add(hit.doc_id)
                    copies.append((doc_id, hit.doc_id, round(cosine, 4)))
        return copies


def _flag(candidate: Candidate) -> FlaggedPassage:
    passage = candidate.passage
    return FlaggedPassage(candidate.doc_id, round(candidate.score, 4), passage.get("source", ""),
                          passage.get("title", ""), passage.get("text", ""))


def store_where(spec: dict[str, Any]) -> str:
    """The store in words."""
    if spec.get("type") == "chroma":
        where = f"{spec['host']}:{spec['port']}" if "host" in spec else spec.get("path")
        return f"Chroma collection {spec['collection']!r} at {where}"
    if spec.get("type") == "pgvector":
        return f"PGVector collection {spec['collection']!r}"
    return f"the store {spec.get('factory')} returns"
