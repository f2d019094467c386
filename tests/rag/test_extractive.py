from collections import Counter

from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.generators.extractive import ExtractiveReader
from ragpoison.rag.loaders import load_corpus
from ragpoison.rag.types import Question

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


def test_a_denied_option_loses_to_an_affirmed_one(tiny):
    reader = _reader(tiny)
    q = Question("t/2", "What is the treatment for thrombotic thrombocytopenic purpura?",
                 {"A": "Platelet transfusion", "B": "Plasma exchange", "C": "Naloxone", "D": "Fomepizole"}, "B")
    passage = {"title": "TTP", "text": "In thrombotic thrombocytopenic purpura, platelet transfusion is generally "
                                       "avoided. Plasma exchange is the treatment for thrombotic thrombocytopenic "
                                       "purpura."}
    answer = reader.answer([ReaderInput(q, (passage,))])[0]
    assert answer.letter == "B"
    assert answer.scores["A"] < 0 < answer.scores["B"]
    blind = ExtractiveReader(ExtractiveReader.Params(negation=False))
    blind.fit(load_corpus(tiny["corpus"]))
    assert blind.answer([ReaderInput(q, (passage,))])[0].scores["A"] > 0


def test_an_option_that_denies_is_supported_by_a_denial(tiny):
    reader = _reader(tiny)
    q = Question("t/3", "Is mist therapy recommended for croup?",
                 {"A": "Yes, mist therapy improves croup", "B": "No, mist therapy is not recommended for croup"}, "B")
    passage = {"title": "Croup", "text": "Mist therapy is not recommended for croup."}
    assert reader.answer([ReaderInput(q, (passage,))])[0].letter == "B"


def test_a_question_asking_what_to_avoid_reads_denials_as_support(tiny):
    reader = _reader(tiny)
    q = Question("t/4", "Which drug is contraindicated in pregnancy?",
                 {"A": "Lisinopril", "B": "Labetalol", "C": "Naloxone", "D": "Fomepizole"}, "A")
    passage = {"title": "Hypertension in pregnancy", "text": "Lisinopril is contraindicated in pregnancy, "
                                                             "whereas labetalol is used in pregnancy."}
    assert reader.answer([ReaderInput(q, (passage,))])[0].letter == "A"


def test_semantic_support_reads_a_paraphrase_that_shares_no_word(tiny, embedder):
    q = Question("t/5", "What is done for this injury?",
                 {"A": "Fracture immobilisation", "B": "Renal function", "C": "Anticoagulant reversal",
                  "D": "Heart attack"}, "A")
    passage = {"title": "", "text": "A broken bone is set and held in a plaster cast."}
    words_only = ExtractiveReader(ExtractiveReader.Params(semantic_weight=0))
    words_only.fit(load_corpus(tiny["corpus"]))
    words_only.use_embedder(embedder)
    assert len(set(words_only.answer([ReaderInput(q, (passage,))])[0].scores.values())) == 1  # no word shared
    semantic = _reader(tiny)
    semantic.use_embedder(embedder)
    answer = semantic.answer([ReaderInput(q, (passage,))])[0]
    assert answer.letter == "A"
    assert answer.scores["A"] > max(answer.scores[x] for x in "BCD")
