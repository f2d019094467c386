"""Perplexity scorers: the Kneser-Ney n-gram model is a proper distribution; a local causal LM plugs in."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragpoison.poisoning.defenses.base import Candidate, DefenseContext
from ragpoison.poisoning.lm.ngram import EOS, NgramScorer, lm_tokens
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import load_corpus
from ragpoison.rag.registry import DEFENSES

from tests.builders import PASSAGES, write_corpus

TEXTS = [p[2] for p in PASSAGES]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_kneser_ney_probabilities_sum_to_one_over_the_vocabulary(order):
    scorer = NgramScorer(order)
    scorer.fit(TEXTS)
    vocabulary = sorted({t for text in TEXTS for t in lm_tokens(text)} | {EOS})
    for context in [(), ("the",), ("is", "the"), ("unseen", "words"), ("<s>", "<s>")]:
        context = tuple(context[-(order - 1):]) if order > 1 else ()
        total = sum(scorer._prob(context, w) for w in vocabulary) + scorer._prob(context, "zzz-unseen")
        assert total == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_gets_a_finite_perplexity_and_training_text_scores_lower_than_shuffled(text):
    scorer = NgramScorer(3)
    scorer.fit(TEXTS)
    (score,) = scorer.perplexity([text])
    assert math.isfinite(score) and score >= 1.0
    seen, = scorer.perplexity([TEXTS[0]])
    shuffled, = scorer.perplexity([" ".join(reversed(TEXTS[0].split()))])
    assert seen < shuffled


@pytest.fixture
def tiny_causal_lm(tmp_path):
    """A one-layer GPT-2 with a word-level tokenizer trained here on the corpus (random weights, real code path)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(TEXTS, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[EOS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", eos_token="[EOS]")
    import torch

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=fast.vocab_size, n_positions=256, n_embd=32, n_layer=1, n_head=2)
    directory = tmp_path / "tiny-gpt2"
    GPT2LMHeadModel(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def test_a_local_causal_lm_scores_and_calibrates(tmp_path, tiny_causal_lm):
    corpus = load_corpus(write_corpus(tmp_path / "c"))
    defense = DEFENSES.create("perplexity", {"model": str(tiny_causal_lm), "fpr": 0.1})
    defense.fit(DefenseContext(corpus, seed=0))
    assert math.isfinite(defense.threshold)
    clean = [Candidate(d, 1.0, p) for d, p in corpus.items()]
    verdicts = defense.verdicts(None, clean)
    assert sum(not v for v in verdicts) <= 1, "at most fpr of the calibration passages are dropped"
    assert defense.verdicts(None, [Candidate("x", 1.0, {"text": "one"})]) == [False], "too short to score"
    with pytest.raises(InputError, match="config.json"):
        DEFENSES.create("perplexity", {"model": str(tmp_path)}).fit(DefenseContext(corpus))
