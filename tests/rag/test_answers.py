import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ragpoison.rag.generators._answers import mentioned_options, normalize, open_answer, parse_choice
from ragpoison.rag.generators._prompts import reader_prompt, render_context
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.types import UNPARSED, Question

LETTERS = ("A", "B", "C", "D")


@pytest.mark.parametrize("text, letter", [
    ("B", "B"), ("B.", "B"), (" (C) Flumazenil", "C"), ("D) Fomepizole", "D"), ("**A**", "A"),
    ('{"step_by_step_thinking": "NAC restores glutathione.", "answer_choice": "B"}', "B"),
    ('```json\n{"step_by_step_thinking": "x", "answer_choice": "C. Flumazenil"}\n```', "C"),
    ('{"step_by_step_thinking": "cut off", "answer_choice": "D', "D"),
    ("Based on the documents, the answer is C.", "C"), ("Answer: (A)", "A"),
    ("A patient with this overdose needs N-acetylcysteine.", UNPARSED),
    ("The answer is a beta blocker.", UNPARSED), ("E", UNPARSED), ('{"answer_choice": "F"}', UNPARSED),
    ("I don't know.", UNPARSED), ("", UNPARSED),
])
def test_parse_choice_reads_the_letter_or_says_unparsed(text, letter):
    assert parse_choice(text, LETTERS) == letter


@given(st.text(alphabet=string.printable, max_size=200))
def test_parse_choice_never_invents_a_letter(text):
    assert parse_choice(text, LETTERS) in (*LETTERS, UNPARSED)


def test_open_answers_are_matched_as_poisonedrag_matches_them():
    assert normalize("  Fomepizole. ") == "fomepizole" and normalize("N-acetylcysteine") == "n-acetylcysteine"
    options = {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole."}
    question = Question("q", "Which antidote?", options, "B")
    assert mentioned_options("Start N-ACETYLCYSTEINE   now", options) == ("B",)
    assert mentioned_options("Use fomepizole; naloxone will not help.", options) == ("A", "D")
    assert open_answer("I don't know", question).letter == UNPARSED
    answer = open_answer("Give fomepizole.", question)
    assert answer.letter == "D" and answer.mentions == ("D",) and answer.text == "Give fomepizole."


def test_prompts_use_medrag_documents_and_choices():
    passages = ({"title": "T0", "text": "first"}, {"title": "T1", "text": "second"})
    assert render_context(passages) == "Document [0] (Title: T0) first\nDocument [1] (Title: T1) second"
    item = ReaderInput(Question("q", "Which antidote?", {"B": "NAC", "A": "Naloxone"}, "B"), passages)
    direct = reader_prompt(item, "direct")
    assert "Here are the potential choices:\nA. Naloxone\nB. NAC" in direct.user
    assert direct.as_text().endswith("\nAnswer:") and [m["role"] for m in direct.messages()] == ["system", "user"]
    cot = reader_prompt(item, "cot")
    assert '"answer_choice": Str{A/B/C/...}' in cot.system and cot.user.endswith("generate your output in json:")
    opened = reader_prompt(item, "open")
    assert "A. Naloxone" not in opened.user and opened.user.endswith("Query: Which antidote?\n\nAnswer:")
    cut = reader_prompt(item, "direct", max_context_chars=12)
    assert "documents:\nDocument [0]\n\nHere is the question" in cut.user
