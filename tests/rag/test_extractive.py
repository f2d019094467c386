from collections import Counter

from rag.generators.base import ReaderInput
from rag.generators.extractive import ExtractiveReader
from rag.loaders import load_corpus
from rag.types import Question

Q = Question(qid="t/1", question="What is the antidote for acetaminophen overdose?",
             options={"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole"}, answer="B")


def _reader(tiny):
    reader = ExtractiveReader()
    reader.fit(load_corpus(tiny["corpus"]))
    return reader


def test_picks_the_option_the_passages_support(tiny):
    corpus = load_corpus(tiny["corpus"])
    reader = _reader(tiny)
    answer = reader.answer([ReaderInput(Q, (corpus["tox_1"], corpus["tox_3"]))])[0]
    assert answer.letter == "B"
    assert answer.scores["B"] > max(answer.scores[x] for x in "ACD")


def test_support_for_a_claim_needs_the_question_nearby(tiny):
    reader = _reader(tiny)
    off_topic = {"title": "Opioid overdose", "text": "Naloxone reverses opioid respiratory depression."}
    on_topic = {"title": "Acetaminophen overdose", "text": "The antidote for acetaminophen overdose is Fomepizole."}
    answer = reader.answer([ReaderInput(Q, (off_topic, on_topic))])[0]
    assert answer.letter == "D"


def test_is_deterministic_and_guesses_uniformly_without_support(tiny):
    reader = _reader(tiny)
    empty = [ReaderInput(Question(f"t/{i}", "Which one?", dict(Q.options), "B"), ()) for i in range(200)]
    first = [a.letter for a in reader.answer(empty)]
    assert first == [a.letter for a in reader.answer(empty)]
    counts = Counter(first)
    assert set(counts) == set("ABCD")
    assert max(counts.values()) < 80
