"""Paraphrased queries: seeded, deterministic, meaning-preserving rewordings."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from ragpoison.rag.paraphrase import paraphrase, paraphrase_queries

QUESTION = ("A patient taking warfarin with an INR of 5.8 presents with an intracranial hemorrhage; which reversal "
            "strategy is recommended?")


def test_same_seed_same_paraphrase_and_it_differs_from_the_question():
    first = paraphrase_queries({"q1": QUESTION}, seed=0)
    assert first == paraphrase_queries({"q1": QUESTION}, seed=0)
    assert first["q1"] != QUESTION
    wordings = {paraphrase_queries({"q1": QUESTION}, seed=s)["q1"] for s in range(8)}
    assert len(wordings) > 2, "other seeds word it otherwise"


def test_paraphrase_keeps_the_clinical_facts():
    for seed in range(8):
        text = paraphrase(QUESTION, random.Random(seed))
        for fact in ("warfarin", "INR of 5.8", "intracranial hemorrhage", "reversal strategy"):
            assert fact in text
        assert text.count("?") == 1


def test_context_then_question_is_reordered_and_articles_agree():
    texts = {paraphrase("A patient has an elevated lactate; which antidote should be given?", random.Random(s))
             for s in range(12)}
    assert any(t.startswith(("Which", "What")) for t in texts)
    assert not any(" a individual" in t.lower() or " an raised" in t.lower() or t.startswith("A individual")
                   for t in texts)


@settings(max_examples=50, deadline=None)
@given(text=st.text(min_size=1, max_size=80), seed=st.integers(0, 1000))
def test_any_text_gets_a_different_deterministic_wording(text, seed):
    first = paraphrase(text, random.Random(seed))
    assert first == paraphrase(text, random.Random(seed))
    assert first != text
