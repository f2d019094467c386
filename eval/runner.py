"""Run every cell of an experiment: poison conditions x defense chains, one trial per question."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from eval.config import ExperimentConfig, PluginSpec
from eval.results import Results, summarize
from eval.stack import Inputs, Stack, build_defense_chain, build_stack, load_inputs
from poisoning.attacks.base import AttackContext, Poison
from poisoning.defenses.base import Candidate, Defense, apply_chain
from rag.generators.base import ReaderInput
from rag.registry import ATTACKS, EMBEDDERS, GENERATORS, RETRIEVERS, STORES
from rag.types import Run

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Condition:
    """A poison condition: an attack at one poison amount (attack 'none' is the clean condition)."""

    attack: PluginSpec
    poison_per_target: int

    @property
    def is_clean(self) -> bool:
        """True for the no-attack condition."""
        return self.attack.name == "none"


def conditions(config: ExperimentConfig) -> list[Condition]:
    """The clean condition first, then each attack at each poison amount."""
    clean = Condition(PluginSpec(name="none"), 0)
    return [clean] + [Condition(spec, n) for spec in config.attacks if spec.name != "none"
                      for n in config.poison_per_target]


def check_names(config: ExperimentConfig) -> dict[str, list[Defense]]:
    """Resolve every plugin name and its params before any heavy work; returns the defense chains."""
    for registry, section, key in ((EMBEDDERS, config.embedder, "embedder"), (STORES, config.store, "store"),
                                   (RETRIEVERS, config.retriever, "retriever"),
                                   (GENERATORS, config.generator, "generator")):
        registry.get(section.kind, key=f"{key}.kind").parse_params(section.params, key=key)
    for spec in config.attacks:
        if spec.name != "none":
            ATTACKS.get(spec.name, key="attacks").parse_params(spec.params, key=f"attacks.{spec.name}")
    return {spec.name: build_defense_chain(spec.name, spec.params) for spec in config.defenses}


def craft(condition: Condition, inputs: Inputs, seed: int) -> Poison:
    """The condition's poisoned passages (none for the clean condition)."""
    if condition.is_clean:
        return Poison()
    attack = ATTACKS.create(condition.attack.name, condition.attack.params, key="attacks")
    context = AttackContext(inputs.questions, inputs.targets, inputs.corpus, condition.poison_per_target, seed)
    return attack.craft(context)


def retrieve_with_overlay(stack: Stack, inputs: Inputs, poison: Poison, fetch_k: int) -> Run:
    """Overlay the poison on the clean index, retrieve, and remove it again."""
    queries = {qid: q.question for qid, q in inputs.questions.items()}
    stack.retriever.add(poison.passages)
    try:
        return stack.retriever.retrieve(queries, fetch_k)
    finally:
        stack.retriever.remove(list(poison.passages))


def run_experiment(config: ExperimentConfig, progress: Progress | None = None) -> Results:
    """Run all cells the config names and return per-trial records with per-cell summaries."""
    say = progress or (lambda _msg: None)
    chains = check_names(config)
    inputs = load_inputs(config)
    stack = build_stack(config)
    say(f"indexing {len(inputs.corpus)} passages")
    stack.retriever.index(inputs.corpus)
    stack.generator.fit(inputs.corpus)
    for chain in chains.values():
        for defense in chain:
            defense.fit(inputs.corpus)
    config_hash = config.config_hash()
    wanted_clean = any(spec.name == "none" for spec in config.attacks)
    trials: list[dict] = []
    clean_answers: dict[str, dict[str, str]] = {}
    for condition in conditions(config):
        started = time.perf_counter()
        poison = craft(condition, inputs, config.seed)
        craft_seconds = time.perf_counter() - started
        run = retrieve_with_overlay(stack, inputs, poison, max(config.fetch_k, config.k))
        for defense_name, chain in chains.items():
            say(f"cell attack={condition.attack.name} n={condition.poison_per_target} defense={defense_name}")
            rows = _cell_trials(config, inputs, stack, poison, run, chain)
            if condition.is_clean:
                clean_answers[defense_name] = {r["qid"]: r["answer"] for r in rows}
                if not wanted_clean:
                    continue
            for row in rows:
                clean = clean_answers[defense_name][row["qid"]]
                row.update(attack=condition.attack.name, defense=defense_name,
                           poison_per_target=condition.poison_per_target, seed=config.seed,
                           config_hash=config_hash, clean_answer=clean, clean_correct=clean == row["gold"],
                           craft_seconds=craft_seconds)
            trials.extend(rows)
    return Results(trials=trials, summary=summarize(trials, config.k), config=config, inputs=inputs,
                   embedder=stack.embedder)


def _cell_trials(config: ExperimentConfig, inputs: Inputs, stack: Stack, poison: Poison, run: Run,
                 chain: list[Defense]) -> list[dict]:
    passages = {**inputs.corpus, **poison.passages}
    poison_ids = poison.poison_ids
    rows, batch = [], []
    for qid, question in inputs.questions.items():
        candidates = [Candidate(d, s, passages[d]) for d, s in run[qid].items()]
        started = time.perf_counter()
        passed = apply_chain(chain, question, candidates)
        defense_ms = (time.perf_counter() - started) * 1000
        passed_ids = {c.doc_id for c in passed}
        dropped = [c.doc_id for c in candidates if c.doc_id not in passed_ids]
        kept = passed[: config.k]
        target = inputs.targets[qid]
        batch.append(ReaderInput(question, tuple(c.passage for c in kept)))
        rows.append({
            "qid": qid, "dataset": question.dataset, "gold": question.answer, "target": target.option,
            "severity": target.severity, "target_assigned_by_seed": target.assigned_by_seed,
            "retrieved_ids": [c.doc_id for c in candidates[: config.k]],
            "context_ids": [c.doc_id for c in kept],
            "context_poison_ids": [c.doc_id for c in kept if c.doc_id in poison_ids],
            "own_poison_ids": sorted(poison.for_question(qid)),
            "dropped_ids": dropped, "dropped_poison": sum(d in poison_ids for d in dropped),
            "defense_ms": defense_ms,
        })
    for row, answer in zip(rows, stack.generator.answer(batch), strict=True):
        row.update(answer=answer.letter, correct=answer.letter == row["gold"],
                   answered_target=answer.letter == row["target"])
    return rows
