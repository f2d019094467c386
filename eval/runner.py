"""Run every cell of an experiment: poison conditions x defense chains, one trial per question."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

from ragpoison.eval.config import ExperimentConfig, PluginSpec
from ragpoison.eval.labels import amount_label
from ragpoison.eval.results import Results, summarize
from ragpoison.eval.stack import Inputs, Stack, build_defense_chain, build_stack, load_inputs
from ragpoison.eval.trial import Baseline, CellFacts, Screening, Trial, baselines
from ragpoison.poisoning.attacks.base import AttackContext, DefenseSpec, Poison
from ragpoison.poisoning.defenses.base import (
    Candidate,
    Defense,
    DefenseContext,
    apply_chain,
    chain_context_size,
    chain_reader,
    public_spec,
)
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.paraphrase import paraphrase_queries
from ragpoison.rag.registry import ATTACKS, EMBEDDERS, GENERATORS, RETRIEVERS, STORES
from ragpoison.rag.retrievers.base import Retriever
from ragpoison.rag.types import Answer, Corpus, Question, Run

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Condition:
    """A poison condition: an attack at one poison amount (attack 'none' is the clean condition).

    The amount is ``poison_per_target`` passages per target question, or a ``poison_rate`` of the corpus.
    """

    attack: PluginSpec
    poison_per_target: int
    poison_rate: float | None = None

    @property
    def is_clean(self) -> bool:
        """True for the no-attack condition."""
        return self.attack.name == "none"

    @property
    def amount(self) -> str:
        """The poison amount as cell ids spell it: 'N5', 'r0.01', or '0' for the clean condition.

        It is part of every finished cell's file name, so it stays as it is for resumes; people see
        ``ragpoison.eval.labels.amount_label`` instead.
        """
        if self.is_clean:
            return "0"
        return f"r{self.poison_rate:g}" if self.poison_rate is not None else f"N{self.poison_per_target}"

    @property
    def key(self) -> str:
        """A stable string naming the condition."""
        amount: list = [self.poison_per_target] + ([self.poison_rate] if self.poison_rate is not None else [])
        return json.dumps([self.attack.model_dump(), *amount], sort_keys=True)


@dataclass(frozen=True)
class Cell:
    """One cell: a poison condition read through one defense chain."""

    condition: Condition
    defense: PluginSpec
    requested: bool = True
    scope: str = ""

    @property
    def cell_id(self) -> str:
        """Stable id from what defines the cell: its scope (the rest of the config), condition and defense."""
        blob = json.dumps([self.scope, self.condition.key, self.defense.model_dump()], sort_keys=True)
        name = f"{self.condition.attack.name}-{self.condition.amount}-{self.defense.name}"
        return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def conditions(config: ExperimentConfig) -> list[Condition]:
    """The clean condition first, then each attack at each poison amount."""
    clean = Condition(PluginSpec(name="none"), 0)
    return [clean] + [Condition(PluginSpec(name=spec.name, params=spec.params), n, rate)
                      for spec in config.attacks if spec.name != "none" for n, rate in config.poison_amounts(spec)]


def plan_cells(config: ExperimentConfig) -> list[Cell]:
    """Every cell, clean cells first (attack cells need their clean answers); unrequested ones flagged.

    An adaptive attack (one that ``aims_at`` some defenses) runs through ``none`` and through the chains that hold
    a defense it aims at, not through the others.
    """
    wanted_clean = any(spec.name == "none" for spec in config.attacks)
    scope = config.scope_hash()
    return [Cell(cond, defense, requested=wanted_clean or not cond.is_clean, scope=scope)
            for cond in conditions(config) for defense in config.defenses if faces(cond, defense.name)]


def aims_at(condition: Condition) -> frozenset[str]:
    """The defenses the condition's attack is written against.

    None for a generic attack, or for an unknown name, which ``check_names`` reports before any cell runs.
    """
    name = condition.attack.name
    if condition.is_clean or name not in ATTACKS.names():
        return frozenset()
    return ATTACKS.get(name).aims_at


def adaptive(condition: Condition) -> bool:
    """True when the condition's attack is crafted against the defense chain it faces."""
    return bool(aims_at(condition))


def faces(condition: Condition, chain: str) -> bool:
    """Whether a sweep reads the condition through a chain: always, unless an adaptive attack aims elsewhere."""
    return chain == "none" or not adaptive(condition) or bool(aims_at(condition) & set(chain.split("+")))


def check_names(config: ExperimentConfig) -> dict[str, list[Defense]]:
    """Resolve every plugin name and its params before any heavy work; returns the defense chains."""
    for registry, section, key in ((EMBEDDERS, config.embedder, "embedder"), (STORES, config.store, "store"),
                                   (RETRIEVERS, config.retriever, "retriever"),
                                   (GENERATORS, config.generator, "generator")):
        registry.get(section.kind, key=f"{key}.kind").parse_params(section.params, key=key)
    for spec in config.attacks:
        if spec.name != "none":
            ATTACKS.get(spec.name, key="attacks").parse_params(spec.params, key=f"attacks.{spec.name}")
    chains: dict[str, list[Defense]] = {}
    for defense in config.defenses:
        if defense.name in chains:
            # Cells, chains and clean answers are keyed by the defense's name: a second entry would
            # silently replace the first.
            raise InputError(f"defense {defense.name!r} is listed twice; run variants as separate configs",
                             field="defenses")
        chains[defense.name] = build_defense_chain(defense.name, defense.params)
    return chains


@dataclass(frozen=True)
class CellView:
    """One cell as its trials were read: the poison, the retrieval run over the poisoned index, the chain."""

    poison: Poison
    run: Run
    chain: list[Defense]
    passages: Mapping[str, dict[str, str]]
    questions: dict[str, Question]
    context_size: int


@dataclass
class Experiment:
    """A prepared experiment: inputs loaded, stack built and indexed; runs cells on demand."""

    config: ExperimentConfig
    progress: Progress = field(default=lambda _msg: None)
    stacks: dict[str, Stack] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chains = check_names(self.config)
        self.inputs: Inputs = load_inputs(self.config)
        self.config_hash = self.config.config_hash()
        self._stack: Stack | None = None
        _ = self.embedder  # a model folder, device or precision this machine cannot use is refused before any work
        self._retrieved: dict[str, tuple[Poison, Run, float]] = {}
        self._ingested: dict[tuple[str, str], list[Defense]] = {}  # chains fitted on a corpus edited before ingest
        self._queries: dict[str, dict[str, str]] = {}  # what the retriever embedded, per condition
        self._asked_clean: dict[str, tuple[Poison, Run]] = {}  # triggered conditions' no-poison retrieval
        self.clean_answers: dict[str, dict[str, Baseline]] = {}

    @property
    def stack(self) -> Stack:
        """The RAG stack, built and indexed on first use (a fully resumed run never loads the model)."""
        if self._stack is None:
            key = stack_key(self.config)
            if key not in self.stacks:
                stack = build_stack(self.config)
                self.progress(f"indexing {len(self.inputs.corpus)} passages")
                corpus = _read_only(self.inputs.corpus)
                stack.retriever.index(corpus)
                stack.generator.use_embedder(stack.embedder)
                stack.generator.fit(corpus)
                self.stacks[key] = stack
            self._stack = self.stacks[key]
            context = DefenseContext(self.inputs.corpus, self._stack.embedder, self._stack.generator,
                                     self.config.seed)
            for chain in self.chains.values():
                for defense in chain:
                    defense.fit(context)
        return self._stack

    @property
    def embedder(self) -> Embedder:
        """The embedder (the indexed stack's, or a fresh one that has not loaded its model)."""
        if self._stack is not None:
            return self._stack.embedder
        return EMBEDDERS.create(self.config.embedder.kind, self.config.embedder.params, key="embedder.kind")

    def remember_clean(self, defense: str, trials: list[Trial]) -> None:
        """Record a clean cell's answers and scoring, which the attack cells of the same defense compare against."""
        self.clean_answers[defense] = baselines(trials)

    def _key(self, condition: Condition, chain: str) -> str:
        """What a condition's poison is crafted for: the condition, and for an adaptive attack the chain it faces."""
        return json.dumps([condition.key, chain]) if adaptive(condition) else condition.key

    def chain(self, condition: Condition, defense: str) -> list[Defense]:
        """The defense chain a cell reads through, fitted on the clean corpus.

        When the condition's edits were made before ingest, the chain is fitted on the edited corpus instead (a
        signing defense then signs the edited passages).
        """
        poison, _, _ = self._retrieve(condition, defense)
        if not poison.before_ingest:
            return self.chains[defense]
        key = (self._key(condition, defense), defense)
        if key not in self._ingested:
            self._ingested.clear()
            spec = next(d for d in self.config.defenses if d.name == defense)
            chain = build_defense_chain(spec.name, spec.params)
            ingested = ChainMap(poison.edits, _read_only(self.inputs.corpus))
            context = DefenseContext(ingested, self.stack.embedder, self.stack.generator, self.config.seed)
            for member in chain:
                member.fit(context)
            self._ingested[key] = chain
        return self._ingested[key]

    def _retrieve(self, condition: Condition, defense: str = "none") -> tuple[Poison, Run, float]:
        key = self._key(condition, defense)
        if key not in self._retrieved:
            self._retrieved.clear()  # conditions are visited in order; keep one in memory
            self._queries.clear()
            self._asked_clean.clear()
            stack = self.stack  # built and indexed before the clock starts: craft time is the attack's alone
            faced = tuple(public_spec(d) for d in self.chains[defense]) if adaptive(condition) else ()
            started = time.perf_counter()
            poison = craft(condition, self.inputs, self.config.seed, stack, faced)
            craft_seconds = time.perf_counter() - started
            widest = max((chain_context_size(chain, self.config.k) for chain in self.chains.values()),
                         default=self.config.k)
            # Deep enough that a filter dropping every poisoned passage can still fill its context.
            depth = max(self.config.fetch_k, widest) + len(poison.passages) + len(poison.edits)
            queries = retrieval_queries(self.inputs, poison, self.config.retrieval_mode, self.config.seed)
            run = retrieve_with_overlay(self.stack.retriever, self.inputs, poison, depth, queries)
            self._retrieved[key] = (poison, run, craft_seconds)
            self._queries[key] = queries
            if poison.queries:
                # The questions are asked differently in this condition (a trigger): their no-poison baseline
                # is the clean index asked the same way, not the plain clean cell.
                asked_only = Poison(queries=poison.queries)
                self._asked_clean[key] = (asked_only, retrieve_with_overlay(
                    self.stack.retriever, self.inputs, asked_only, depth, queries))
        return self._retrieved[key]

    def _clean_answers(self, condition: Condition, defense: str, cell: CellFacts) -> dict[str, Baseline]:
        """The no-poison answers an attack cell is compared with, for questions asked as in the condition."""
        key = self._key(condition, defense)
        if key not in self._asked_clean:
            return self.clean_answers[defense]
        asked_only, run = self._asked_clean[key]
        return baselines(cell_trials(self.config, self.inputs, self.stack, asked_only, run, self.chains[defense],
                                     cell, queries=self._queries[key]))

    def facts(self, cell: Cell) -> CellFacts:
        """What every trial of the cell shares (crafts and retrieves the cell's condition first)."""
        condition = cell.condition
        poison, _, craft_seconds = self._retrieve(condition, cell.defense.name)
        n_poison = len(poison.poison_ids)
        return CellFacts(
            cell_id=cell.cell_id, attack=condition.attack.name, defense=cell.defense.name,
            poison_per_target=condition.poison_per_target, poison_rate=condition.poison_rate, n_poison=n_poison,
            poison_rate_actual=n_poison / len(self.inputs.corpus), seed=self.config.seed, k=self.config.k,
            retriever=self.config.retriever.kind, store=self.config.store.kind,
            generator=self.config.generator.kind, config_hash=self.config_hash, craft_seconds=craft_seconds,
            attack_params=json.dumps(condition.attack.params, sort_keys=True) if condition.attack.params else "",
            retrieval_mode=self.config.retrieval_mode)

    def view(self, cell: Cell) -> CellView:
        """What one cell's trials were read from: its poison, its retrieval run and its fitted defense chain."""
        condition, defense = cell.condition, cell.defense.name
        poison, run, _ = self._retrieve(condition, defense)
        chain = self.chain(condition, defense)
        return CellView(poison=poison, run=run, chain=chain,
                        passages=ChainMap(poison.passages, poison.edits, _read_only(self.inputs.corpus)),
                        questions=asked_questions(self.inputs, poison),
                        context_size=chain_context_size(chain, self.config.k))

    def run_cell(self, cell: Cell) -> list[Trial]:
        """Trials of one cell."""
        condition, defense = cell.condition, cell.defense.name
        amount = "-" if condition.is_clean else amount_label(condition.poison_per_target, condition.poison_rate)
        self.progress(f"cell attack={condition.attack.name} amount={amount} defense={defense}")
        poison, run, _ = self._retrieve(condition, defense)
        facts = self.facts(cell)
        # A clean cell is its own baseline; an attack cell compares with the clean answers of its defense.
        clean = None if condition.is_clean else self._clean_answers(condition, defense, facts)
        trials = cell_trials(self.config, self.inputs, self.stack, poison, run, self.chain(condition, defense), facts,
                             clean, self._queries[self._key(condition, defense)])
        if condition.is_clean:
            self.remember_clean(defense, trials)
        # Questions the attack trained on are no test of it: the cell keeps only the held-apart ones.
        return [trial for trial in trials if trial.qid not in poison.trained_on]


def stack_key(config: ExperimentConfig) -> str:
    """What an indexed stack depends on: the components and the corpus, not k, seed or the cells."""
    parts = config.model_dump(mode="json", include={"embedder", "store", "retriever", "generator", "data"})
    return json.dumps(parts, sort_keys=True)


def craft(condition: Condition, inputs: Inputs, seed: int, stack: Stack | None = None,
          defenses: tuple[DefenseSpec, ...] = ()) -> Poison:
    """The condition's poisoned passages (none for the clean condition), crafted against ``defenses``."""
    if condition.is_clean:
        return Poison()
    attack = ATTACKS.create(condition.attack.name, condition.attack.params, key="attacks")
    context = AttackContext(inputs.questions, inputs.targets, inputs.corpus, condition.poison_per_target, seed,
                            poison_rate=condition.poison_rate,
                            embedder=stack.embedder if stack is not None else None,
                            generator=stack.generator if stack is not None else None, defenses=defenses)
    return attack.craft(context)


def asked_questions(inputs: Inputs, poison: Poison) -> dict[str, Question]:
    """The questions as the user asks them in this condition (an attack's trigger may rewrite their text)."""
    return {qid: dataclasses.replace(q, question=poison.queries[qid]) if qid in poison.queries else q
            for qid, q in inputs.questions.items()}


@contextmanager
def overlay(retriever: Retriever, inputs: Inputs, poison: Poison) -> Iterator[None]:
    """Overlay the poison on the clean index (new passages added, edits swapped in) and undo it after."""
    retriever.add(poison.passages)
    try:
        if poison.edits:
            retriever.update(poison.edits)
        try:
            yield
        finally:
            if poison.edits:
                retriever.update({doc_id: inputs.corpus[doc_id] for doc_id in poison.edits})
    finally:
        retriever.remove(list(poison.passages))


def retrieval_queries(inputs: Inputs, poison: Poison, mode: str = "question", seed: int = 0) -> dict[str, str]:
    """What the retriever embeds per question: the question as asked, or (mode 'paraphrase') a seeded paraphrase."""
    queries = {qid: q.question for qid, q in asked_questions(inputs, poison).items()}
    return paraphrase_queries(queries, seed) if mode == "paraphrase" else queries


def retrieve_with_overlay(retriever: Retriever, inputs: Inputs, poison: Poison, depth: int,
                          queries: dict[str, str] | None = None) -> Run:
    """Overlay the poison on the clean index, retrieve ``depth`` candidates per query, and remove it again.

    ``queries`` defaults to the questions as asked (see ``retrieval_queries``).
    """
    queries = queries if queries is not None else retrieval_queries(inputs, poison)
    with overlay(retriever, inputs, poison):
        return retriever.retrieve(queries, depth)


def run_experiment(config: ExperimentConfig, progress: Progress | None = None) -> Results:
    """Run all cells of one config in memory and return per-trial records with per-cell summaries."""
    experiment = Experiment(config, progress or (lambda _msg: None))
    trials: list[Trial] = []
    for cell in plan_cells(config):
        rows = experiment.run_cell(cell)
        if cell.requested:
            trials.extend(rows)
    return Results(trials=trials, summary=summarize(trials), config=config,
                   inputs=experiment.inputs, embedder=experiment.stack.embedder)


def defend(chain: list[Defense], question: Question, candidates: list[Candidate], fetch_k: int, k: int,
           ) -> tuple[list[Candidate], list[Candidate]]:
    """Run the chain on the top ``fetch_k`` candidates, fetching twice as deep while fewer than k pass.

    Returns what passed and the candidates the chain saw. An undefended chain reads the plain top k.
    """
    depth = max(fetch_k, k) if chain else k
    while True:
        window = candidates[:depth]
        passed = apply_chain(chain, question, window)
        if len(passed) >= k or depth >= len(candidates):
            return passed, window
        depth *= 2


def cell_trials(config: ExperimentConfig, inputs: Inputs, stack: Stack, poison: Poison, run: Run,
                chain: list[Defense], cell: CellFacts, clean: Mapping[str, Baseline] | None = None,
                queries: Mapping[str, str] | None = None) -> list[Trial]:
    """Defend, read and record every question of one cell.

    ``clean`` holds the no-poison answers per question (None: this cell is its own baseline); ``queries`` are
    what the retriever embedded (default: the questions as asked).
    """
    # A view, not a copy: the corpus may be an on-disk mapping of millions of passages.
    passages = ChainMap(poison.passages, poison.edits, _read_only(inputs.corpus))
    poison_ids = poison.poison_ids
    context_size = chain_context_size(chain, config.k)
    reader = chain_reader(chain)
    asked = asked_questions(inputs, poison)
    screenings: list[Screening] = []
    batch: list[ReaderInput] = []
    own_reads: dict[str, Answer | None] = {}
    for qid, question in asked.items():
        candidates = [Candidate(d, s, passages[d]) for d, s in run[qid].items()]
        started = time.perf_counter()
        passed, seen = defend(chain, question, candidates, config.fetch_k, context_size)
        kept = passed[:context_size]
        if reader is not None:
            own_reads[qid] = reader.read(question, [c.passage for c in kept], stack.generator)
        defense_ms = (time.perf_counter() - started) * 1000
        batch.append(ReaderInput(question, tuple(c.passage for c in kept)))
        screenings.append(Screening(
            retrieved_ids=[c.doc_id for c in candidates[: config.k]], seen_ids=[c.doc_id for c in seen],
            passed_ids={c.doc_id for c in passed}, context_ids=[c.doc_id for c in kept], poison_ids=poison_ids,
            own_poison_ids=sorted(poison.for_question(qid)), defense_ms=defense_ms,
            retrieval_query=queries[qid] if queries is not None else question.question,
            triggered=qid in poison.queries))
    answers = _read(stack, batch, own_reads)
    return [Trial.build(item.question, inputs.targets[item.question.qid], screening, answer, cell,
                        None if clean is None else clean[item.question.qid])
            for item, screening, answer in zip(batch, screenings, answers, strict=True)]


def _read_only(corpus: Mapping[str, dict[str, str]]) -> Corpus:
    """The corpus as the rag signatures type it (``dict``): they only read it, and it may be an on-disk mapping."""
    return cast(Corpus, corpus)


def _read(stack: Stack, batch: list[ReaderInput], own_reads: dict[str, Answer | None]) -> list[Answer]:
    """The plain reader's answers in one batch, except where a defense answered for itself."""
    if own_reads:
        return [own_reads[item.question.qid] or stack.generator.answer([item])[0] for item in batch]
    return stack.generator.answer(batch)
