"""Attack a user's LangChain vector store through their retriever: inject, measure, remove exactly what was injected."""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ragpoison.eval.langchain.documents import document_passage, passage_document
from ragpoison.eval.langchain.journal import Journal, delete_exactly, describe_store, present_ids
from ragpoison.eval.results import summarize
from ragpoison.eval.trial import Baseline, CellFacts, CellSummary, Screening, Trial, baselines
from ragpoison.poisoning.attacks.base import AttackContext, Poison
from ragpoison.poisoning.defenses.base import Candidate, Defense, apply_chain
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import Generator, ReaderInput
from ragpoison.rag.registry import ATTACKS, GENERATORS
from ragpoison.rag.types import Corpus, Question, Target


@contextmanager
def injected(store: Any, passages: Corpus, journal: str | Path, *, reopen: str | None = None,
             ) -> Iterator[dict[str, str]]:
    """Add poisoned passages to a LangChain store for the block, then delete exactly them.

    Yields {store id: poison id}. Store ids carry a random run nonce and are checked absent first, so no
    document of the user's is ever overwritten or deleted; they are journaled (fsynced) before insertion, so
    ``ragpoison cleanup JOURNAL`` removes them if this process dies inside the block.
    """
    nonce = secrets.token_hex(6)
    id_map = {f"ragpoison:{nonce}:{poison_id}": poison_id for poison_id in passages}
    ids = list(id_map)
    spec = describe_store(store, reopen)
    if ids and _can_look_up(store) and present_ids(store, ids):
        raise InputError("the store already holds ids ragpoison was about to use; nothing was injected")
    record = Journal(journal, spec)
    try:
        record.injecting(ids)
        try:
            if ids:
                store.add_documents([passage_document(sid, passages[pid]) for sid, pid in id_map.items()], ids=ids)
            yield id_map
        finally:
            if ids:
                delete_exactly(store, ids)
            record.removed(ids)
    finally:
        record.close()


def _can_look_up(store: Any) -> bool:
    from langchain_core.vectorstores import VectorStore

    return type(store).get_by_ids is not VectorStore.get_by_ids


@dataclass
class LangChainReport:
    """Per-question trials and per-cell summaries (the clean cell and the attack cell), as ``ragpoison run``."""

    trials: list[Trial] = field(default_factory=list)
    summary: list[CellSummary] = field(default_factory=list)
    n_injected: int = 0
    journal: Path | None = None

    def cell(self, attack: str) -> CellSummary:
        """The summary of one attack's cell ('none' for the clean cell)."""
        return next(cell for cell in self.summary if cell.attack == attack)


@dataclass
class LangChainAttack:
    """One attack on a user's LangChain pipeline, measured through the retriever they query.

    ``retriever`` defaults to ``store.as_retriever(search_kwargs={"k": k})``. ``corpus`` (optional) is the clean
    corpus the reader learns term weights from; without it the reader learns them from what the clean
    questions retrieve. ``reopen`` names a ``module:function`` returning the store, for stores ``cleanup``
    cannot reopen on its own (Chroma and in-process stores it can).
    """

    store: Any
    questions: Mapping[str, Question]
    targets: Mapping[str, Target]
    journal: str | Path
    retriever: Any = None
    attack: str = "poisonedrag-blackbox"
    attack_params: dict[str, Any] = field(default_factory=dict)
    poison_per_target: int = 5
    seed: int = 0
    k: int = 5
    defenses: list[Defense] = field(default_factory=list)
    defense_name: str = "none"
    generator: Generator | None = None
    corpus: Mapping[str, Mapping[str, str]] | None = None
    reopen: str | None = None

    def __post_init__(self) -> None:
        if self.retriever is None:
            self.retriever = self.store.as_retriever(search_kwargs={"k": self.k})
        if self.generator is None:
            self.generator = GENERATORS.create("extractive")
        self._reader: Generator = self.generator

    def craft(self) -> Poison:
        """The attack's poisoned passages for every target question."""
        attack = ATTACKS.create(self.attack, self.attack_params, key="attack")
        return attack.craft(AttackContext(self.questions, self.targets, self.corpus or {}, self.poison_per_target,
                                          self.seed))

    def run(self, *, while_injected: Callable[[dict[str, str]], object] | None = None) -> LangChainReport:
        """Measure clean, inject, measure again, remove; ``while_injected(id_map)`` runs while poison is in."""
        clean_docs = self._retrieve()
        # The reader only reads the corpus (Generator.fit types it as a dict).
        self._reader.fit(cast(Corpus, self.corpus) if self.corpus is not None else {
            f"retrieved:{i}": document_passage(doc) for i, doc in enumerate(
                {d.page_content: d for docs in clean_docs.values() for d in docs}.values())})
        clean_trials = self._trials(clean_docs, Poison(), {}, "none", 0.0)
        started = time.perf_counter()
        poison = self.craft()
        craft_seconds = time.perf_counter() - started
        if poison.edits:
            raise InputError(f"attack {self.attack!r} edits passages in place; a user's store is only added to",
                             field="attack")
        with injected(self.store, poison.passages, self.journal, reopen=self.reopen) as id_map:
            attacked_docs = self._retrieve()
            if while_injected is not None:
                while_injected(id_map)
        attack_trials = self._trials(attacked_docs, poison, id_map, self.attack, craft_seconds,
                                     baselines(clean_trials))
        trials = clean_trials + attack_trials
        return LangChainReport(trials, summarize(trials), len(poison.passages), Path(self.journal))

    def _retrieve(self) -> dict[str, list[Any]]:
        return {qid: list(self.retriever.invoke(q.question)) for qid, q in self.questions.items()}

    def _cell(self, attack: str, n_poison: int, craft_seconds: float) -> CellFacts:
        """What every trial of the clean or the attack cell shares."""
        attacked = attack != "none"
        return CellFacts(
            cell_id=f"langchain-{attack}-{self.defense_name}", attack=attack, defense=self.defense_name,
            poison_per_target=self.poison_per_target if attacked else 0, poison_rate=None, n_poison=n_poison,
            poison_rate_actual=math.nan, seed=self.seed, k=self.k, retriever=type(self.retriever).__name__,
            store=type(self.store).__name__, generator=self._reader.name, config_hash="",
            craft_seconds=craft_seconds,
            attack_params=json.dumps(self.attack_params, sort_keys=True) if attacked and self.attack_params else "")

    def _trials(self, docs: dict[str, list[Any]], poison: Poison, id_map: dict[str, str], attack: str,
                craft_seconds: float, clean: Mapping[str, Baseline] | None = None) -> list[Trial]:
        """Defend, read and record every question; no ``clean`` answers means this is the clean cell."""
        poison_ids = poison.poison_ids
        cell = self._cell(attack, len(poison_ids), craft_seconds)
        screenings, batch = [], []
        for qid, question in self.questions.items():
            candidates = [Candidate(id_map.get(d.id, d.id or f"doc:{i}"), float(d.metadata.get("score", 0.0)),
                                    document_passage(d)) for i, d in enumerate(docs[qid])]
            started = time.perf_counter()
            kept = apply_chain(self.defenses, question, candidates)
            defense_ms = (time.perf_counter() - started) * 1000
            batch.append(ReaderInput(question, tuple(c.passage for c in kept)))
            ids = [c.doc_id for c in candidates]
            screenings.append(Screening(
                retrieved_ids=ids, seen_ids=ids, passed_ids={c.doc_id for c in kept},
                context_ids=[c.doc_id for c in kept], poison_ids=poison_ids,
                own_poison_ids=sorted(poison.for_question(qid)), defense_ms=defense_ms,
                retrieval_query=question.question))
        answers = self._reader.answer(batch)
        return [Trial.build(item.question, self.targets[item.question.qid], screening, answer, cell,
                            None if clean is None else clean[item.question.qid])
                for item, screening, answer in zip(batch, screenings, answers, strict=True)]
