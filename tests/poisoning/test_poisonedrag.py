from ragpoison.poisoning.attacks.base import AttackContext
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets
from ragpoison.rag.registry import ATTACKS


def test_blackbox_is_question_prefix_plus_text_naming_the_target(tiny):
    questions = load_questions(tiny["questions"])
    targets = load_targets(tiny["targets"], questions, seed=0)
    context = AttackContext(questions, targets, load_corpus(tiny["corpus"]), poison_per_target=5, seed=0)
    poison = ATTACKS.create("poisonedrag-blackbox").craft(context)
    assert len(poison.passages) == 5 * len(questions)
    for qid, question in questions.items():
        own = poison.for_question(qid)
        assert len(own) == 5
        target_text = question.options[targets[qid].option]
        texts = [poison.passages[p]["text"] for p in own]
        assert len(set(texts)) > 1, "the writer should vary its passages"
        for text in texts:
            assert text.startswith(question.question)
            assert target_text in text[len(question.question):]
        assert all(poison.passages[p]["source"] == "web" for p in own)
