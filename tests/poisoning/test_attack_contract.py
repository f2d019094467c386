"""Contract tests run over every registered attack (a new attack is tested the day it is registered)."""

import copy
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.runner import Experiment, conditions, overlay
from ragpoison.poisoning import TextGenerator, TokenGradientEmbedder, VictimEmbedder, VictimReader
from ragpoison.poisoning.attacks._hotflip import gradient_embedder, sentence_model
from ragpoison.poisoning.attacks.base import AttackContext
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets
from ragpoison.rag.registry import ATTACKS, RETRIEVERS, STORES

from tests.poisoning.contract_parts import ContractEmbedder, ForeignModelEmbedder

ALL_ATTACKS = ATTACKS.names()
# Small optimiser budgets keep the white-box attacks fast here; their own tests check the optimisation. The
# adaptive attacks draft fewer candidates per question here (their drafts are embedded and read one by one).
FAST = {"poisonedrag-whitebox": {"iterations": 1, "candidates": 2, "share_prefix": True},
        "corpus-poisoning": {"iterations": 1, "candidates": 2, "passage_tokens": 8},
        **{name: {"candidates": 1} for name in ATTACKS.names() if ATTACKS.get(name).aims_at}}
# The attacks that optimise against the victim's gradients: they need a TokenGradientEmbedder.
WHITE_BOX = {"poisonedrag-whitebox", "corpus-poisoning"}
GRADIENTS_MESSAGE = "needs the victim's sentence-transformers embedder (white-box gradients)"


def _attack(name):
    return ATTACKS.create(name, FAST.get(name, {}))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.builders import write_dataset

    return write_dataset(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="module")
def inputs(data):
    questions = load_questions(data["questions"])
    return load_corpus(data["corpus"]), questions, load_targets(data["targets"], questions, seed=0)


def _context(inputs, embedder, seed=11, per_target=3, rate=None):
    corpus, questions, targets = inputs
    return AttackContext(questions, targets, corpus, poison_per_target=per_target, seed=seed, poison_rate=rate,
                         embedder=embedder)


def _fingerprint(poison):
    return (poison.passages, poison.edits, poison.target_of, poison.queries, poison.trained_on)


# In-place content edits are chosen by relevance and made by rule, so the seed may leave them as they are;
# its copies (and their mirror metadata) are seeded.
SEEDED = {"content-edit": {"mode": "copies"}}


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_same_seed_same_poison_other_seed_differs(name, inputs, embedder):
    first = _attack(name).craft(_context(inputs, embedder))
    assert _fingerprint(first) == _fingerprint(_attack(name).craft(_context(inputs, embedder)))
    params = {**FAST.get(name, {}), **SEEDED.get(name, {})}
    seeded = _fingerprint(ATTACKS.create(name, params).craft(_context(inputs, embedder))) if name in SEEDED \
        else _fingerprint(first)
    others = [_fingerprint(ATTACKS.create(name, params).craft(_context(inputs, embedder, seed=s))) for s in (12, 13)]
    assert any(other != seeded for other in others), "the seed should matter"


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_every_added_or_edited_passage_is_labelled(name, inputs, embedder):
    corpus, questions, _ = inputs
    poison = _attack(name).craft(_context(inputs, embedder))
    assert poison.poison_ids, "an attack with a budget writes something"
    assert poison.poison_ids == set(poison.passages) | set(poison.edits)
    assert not set(poison.passages) & set(corpus), "new passages never reuse a clean id"
    assert set(poison.edits) <= set(corpus), "edits replace existing passages"
    assert set(poison.target_of) <= poison.poison_ids
    assert set(poison.target_of.values()) <= set(questions)
    if poison.target_of:  # a targeted attack names the question of every id it wrote
        assert set(poison.target_of) == poison.poison_ids
    for passage in poison.passages.values():
        assert passage["text"].strip()
        assert {"source", "published", "reference"} <= set(passage)
    for doc_id, passage in poison.edits.items():
        assert passage["text"].strip() and passage != corpus[doc_id], "an edit changes the passage"
        assert set(passage) == set(corpus[doc_id]), "an edit keeps the passage's fields"


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_crafting_leaves_the_corpus_alone(name, inputs, embedder):
    before = copy.deepcopy(dict(inputs[0]))
    _attack(name).craft(_context(inputs, embedder))
    assert dict(inputs[0]) == before


@pytest.fixture(scope="module")
def stacks():
    return {}


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_cell_labels_poison_and_leaves_corpus_and_index_as_they_were(name, data, stacks):
    config = ExperimentConfig(data={k: str(v) for k, v in data.items()}, k=3, fetch_k=6, poison_per_target=[2],
                              attacks=["none", {"name": name, "params": FAST.get(name, {})}])
    on_disk = data["corpus"].read_bytes()
    experiment = Experiment(config, stacks=stacks)
    corpus_before = copy.deepcopy(experiment.inputs.corpus)
    clean_cell, attack_cell = (c for c in [*map(_cell, conditions(config))])
    experiment.run_cell(clean_cell)
    store = experiment.stack.retriever.store
    ids_before = store.ids()
    vectors_before = np.stack([store.vector(i) for i in ids_before])
    rows = experiment.run_cell(attack_cell)
    poison, _, _ = experiment._retrieve(attack_cell.condition)
    assert rows and all(r.attack == name for r in rows)
    for row in rows:
        shown_poison = [d for d in row.context_ids if d in poison.poison_ids]
        assert row.context_poison_ids == shown_poison
    assert any(r.context_poison_ids for r in rows), "the poison reaches the retriever"
    assert experiment.inputs.corpus == corpus_before
    assert data["corpus"].read_bytes() == on_disk
    assert store.ids() == ids_before
    assert np.array_equal(np.stack([store.vector(i) for i in ids_before]), vectors_before)


def _cell(condition):
    from ragpoison.eval.config import PluginSpec
    from ragpoison.eval.runner import Cell

    return Cell(condition, PluginSpec(name="none"))


@pytest.fixture(scope="module")
def retriever(inputs, embedder):
    retriever = RETRIEVERS.create("dense", embedder=embedder, store=STORES.create("faiss", dim=embedder.dim))
    retriever.index(inputs[0])
    return retriever


@pytest.mark.parametrize("name", ALL_ATTACKS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), per_target=st.integers(1, 3))
def test_injecting_then_removing_leaves_the_index_exactly_as_it_was(name, seed, per_target, inputs, embedder,
                                                                     retriever):
    from ragpoison.eval.stack import Inputs

    corpus, questions, targets = inputs
    store = retriever.store
    ids = store.ids()
    vectors = np.stack([store.vector(i) for i in ids])
    queries = {qid: q.question for qid, q in questions.items()}
    run = retriever.retrieve(queries, len(ids))
    poison = _attack(name).craft(_context(inputs, embedder, seed=seed, per_target=per_target))
    with overlay(retriever, Inputs(corpus, questions, targets, {}, ""), poison):
        assert set(store.ids()) == set(ids) | set(poison.passages)
    assert store.ids() == ids
    assert np.array_equal(np.stack([store.vector(i) for i in ids]), vectors)
    assert retriever.retrieve(queries, len(ids)) == run


def test_the_runner_hands_attacks_an_embedder_and_generator_that_satisfy_the_contracts(data, stacks, monkeypatch):
    received = []
    attack = ATTACKS.get("prompt-injection")
    craft = attack.craft
    monkeypatch.setattr(attack, "craft", lambda self, context: received.append(context) or craft(self, context))
    config = ExperimentConfig(data={k: str(v) for k, v in data.items()}, k=3, fetch_k=6, poison_per_target=[2],
                              attacks=["none", {"name": "prompt-injection"}])
    experiment = Experiment(config, stacks=stacks)
    experiment._retrieve(next(c for c in conditions(config) if not c.is_clean))
    (context,) = received
    assert context.embedder is experiment.stack.embedder and context.generator is experiment.stack.generator
    assert isinstance(context.embedder, VictimEmbedder) and isinstance(context.embedder, TokenGradientEmbedder)
    assert gradient_embedder(context.embedder, "prompt-injection") is context.embedder, "it gives gradients"
    assert isinstance(context.generator, TextGenerator) and isinstance(context.generator, VictimReader)
    assert context.generator.writes_text is False, "the CPU default stack's reader writes no free text"


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_an_attack_uses_no_more_of_the_embedder_than_its_contract(name, inputs, embedder):
    bare = ContractEmbedder(embedder)
    assert isinstance(bare, VictimEmbedder) and not isinstance(bare, TokenGradientEmbedder)
    if name in WHITE_BOX:
        with pytest.raises(InputError, match=r"white-box gradients"):
            _attack(name).craft(_context(inputs, bare))
    else:
        # The same vectors through the bare contract: the same poison as through the full embedder.
        assert _fingerprint(_attack(name).craft(_context(inputs, bare))) == \
            _fingerprint(_attack(name).craft(_context(inputs, embedder)))


@pytest.mark.parametrize("name", sorted(WHITE_BOX))
@pytest.mark.parametrize("victim", ["none", "no-model", "foreign-model"])
def test_a_white_box_attack_without_gradients_is_a_one_line_input_error(name, victim, inputs, embedder):
    given = {"none": None, "no-model": ContractEmbedder(embedder), "foreign-model": ForeignModelEmbedder(embedder)}
    with pytest.raises(InputError) as caught:
        _attack(name).craft(_context(inputs, given[victim]))
    assert str(caught.value) == f"field 'attacks.{name}': {GRADIENTS_MESSAGE}"
    assert caught.value.field == f"attacks.{name}"
    with pytest.raises(InputError, match=r"^field 'attacks.hotflip': needs the victim's sentence-transformers"):
        sentence_model(given[victim], "hotflip")


def test_list_attacks_names_every_attack_with_its_description():
    from ragpoison.rag.registry import first_line

    proc = subprocess.run([sys.executable, "-m", "ragpoison", "list", "attacks"], capture_output=True, text=True,
                          check=True)
    lines = proc.stdout.splitlines()
    assert len(lines) == len(ALL_ATTACKS)
    for name, line in zip(ALL_ATTACKS, lines, strict=True):
        description = first_line(ATTACKS.get(name).__doc__)
        assert description and line.split()[0] == name and line.endswith(description)
