"""Contract tests run over every registered attack."""

import copy

import pytest

from poisoning.attacks.base import AttackContext
from rag.loaders import load_corpus, load_questions, load_targets
from rag.registry import ATTACKS

ALL_ATTACKS = ATTACKS.names()


@pytest.fixture
def context(tiny):
    corpus = load_corpus(tiny["corpus"])
    questions = load_questions(tiny["questions"])
    return AttackContext(questions, load_targets(tiny["targets"], questions, seed=0), corpus,
                         poison_per_target=3, seed=11)


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_same_seed_same_passages_other_seed_differs(name, context):
    attack = ATTACKS.create(name)
    first = attack.craft(context)
    assert first.passages == ATTACKS.create(name).craft(context).passages
    other = AttackContext(context.questions, context.targets, context.corpus, context.poison_per_target, seed=12)
    assert ATTACKS.create(name).craft(other).passages != first.passages


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_every_passage_is_labelled_and_new(name, context):
    poison = ATTACKS.create(name).craft(context)
    assert poison.passages
    assert set(poison.target_of) == poison.poison_ids
    assert not poison.poison_ids & set(context.corpus)
    for pid, passage in poison.passages.items():
        assert passage["text"].strip()
        assert {"source", "published", "reference"} <= set(passage)
        assert poison.target_of[pid] in context.questions


@pytest.mark.parametrize("name", ALL_ATTACKS)
def test_clean_corpus_unchanged(name, context):
    before = copy.deepcopy(dict(context.corpus))
    ATTACKS.create(name).craft(context)
    assert dict(context.corpus) == before
