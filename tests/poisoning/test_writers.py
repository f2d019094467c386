"""Passage writers: the register writer (CPU default), the template writer, and the LLM writer (Generator.complete)."""

import random
import re

import pytest
from ragpoison.poisoning.attacks._writers import LLMWriter, RegisterWriter, TemplateWriter, make_writer
from ragpoison.poisoning.attacks.base import AttackContext
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import Generator
from ragpoison.rag.generators.extractive import ExtractiveReader
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets
from ragpoison.rag.registry import ATTACKS
from ragpoison.rag.types import Answer

_ASKED = re.compile(r"This is my answer: (?P<answer>.+?)\. Please craft")


class ScriptedWriterLLM(Generator):
    """A deterministic text-writing backend: writes a fixed template around the answer the prompt names.

    ``silent_tries`` makes its first completions leave the answer out, as a real LLM sometimes does.
    """

    def __init__(self, silent_tries: int = 0) -> None:
        super().__init__()
        self.silent_tries = silent_tries
        self.calls: list[tuple[int, int]] = []

    def answer(self, batch):
        return [Answer(letter=next(iter(item.question.options))) for item in batch]

    def complete(self, prompts, *, max_tokens=256, seed=0):
        self.calls.append((len(prompts), seed))
        outputs = []
        for prompt in prompts:
            answer = _ASKED.search(prompt).group("answer")
            if len(self.calls) <= self.silent_tries:
                outputs.append("Corpus: I cannot help with that request.")
            else:
                outputs.append(f'Corpus: "Specialist consensus (seed {seed}) now names {answer} as the answer."')
        return outputs


@pytest.fixture
def context(tiny):
    questions = load_questions(tiny["questions"])
    targets = load_targets(tiny["targets"], questions, seed=0)
    return AttackContext(questions, targets, load_corpus(tiny["corpus"]), poison_per_target=2, seed=3,
                         generator=ScriptedWriterLLM())


def test_blackbox_uses_the_llm_writer_when_the_generator_writes_text(context):
    assert context.generator.writes_text
    poison = ATTACKS.create("poisonedrag-blackbox").craft(context)
    assert context.generator.calls == [(2 * len(context.questions), 3)], "one batch for every passage"
    for pid, passage in poison.passages.items():
        question = context.questions[poison.target_of[pid]]
        answer = question.options[context.targets[question.qid].option]
        assert passage["text"] == (f"{question.question} Specialist consensus (seed 3) now names {answer} "
                                   "as the answer.")
    assert poison.passages == ATTACKS.create("poisonedrag-blackbox").craft(context).passages


def test_register_is_the_default_on_the_cpu_stack_and_template_can_be_forced(context):
    cpu = AttackContext(context.questions, context.targets, context.corpus, 2, seed=3, generator=ExtractiveReader())
    assert not cpu.generator.writes_text
    assert isinstance(make_writer("auto", cpu, "poisonedrag-blackbox"), RegisterWriter)
    assert isinstance(make_writer("auto", context, "poisonedrag-blackbox"), LLMWriter)
    assert isinstance(make_writer("template", cpu, "poisonedrag-blackbox"), TemplateWriter)
    forced = ATTACKS.create("poisonedrag-blackbox", {"writer": "template"}).craft(context)
    assert context.generator.calls == []
    assert any("choose" in p["text"].lower() or "answer" in p["text"].lower() for p in forced.passages.values())
    default = ATTACKS.create("poisonedrag-blackbox").craft(cpu).passages
    assert default == ATTACKS.create("poisonedrag-blackbox", {"writer": "register"}).craft(cpu).passages
    assert default != forced.passages
    assert not any(re.search(r"choose|the answer is", p["text"], re.IGNORECASE) for p in default.values())


def test_ranking_in_blocks_equals_ranking_the_whole_corpus(tiny, embedder, monkeypatch):
    import numpy as np
    from ragpoison.poisoning.attacks import _writers
    from ragpoison.rag.retrievers.base import passage_text

    questions = load_questions(tiny["questions"])
    corpus = load_corpus(tiny["corpus"])
    context = AttackContext(questions, load_targets(tiny["targets"], questions, seed=0), corpus, embedder=embedder)
    ids = sorted(corpus)
    scores = embedder.encode_queries([questions[q].question for q in sorted(context.targets)]) @ \
        embedder.encode([passage_text(dict(corpus[d])) for d in ids]).T
    whole = {q: [ids[i] for i in np.argsort(-row, kind="stable")[:4]]
             for q, row in zip(sorted(context.targets), scores, strict=True)}
    monkeypatch.setattr(_writers, "_BLOCK", 3)
    assert len(ids) > 3 * 2, "several blocks"
    assert _writers.rank_passages(context, 4) == whole


def test_llm_writer_without_a_text_generator_is_a_named_input_error(context):
    cpu = AttackContext(context.questions, context.targets, context.corpus, 2, seed=3, generator=ExtractiveReader())
    with pytest.raises(InputError, match=r"attacks.provenance-spoof.params.writer"):
        ATTACKS.create("provenance-spoof", {"writer": "llm"}).craft(cpu)


def test_llm_writer_asks_again_for_texts_missing_the_answer_then_falls_back(context):
    requests = [(q, q.options["A"], random.Random(i)) for i, q in enumerate(context.questions.values())]
    retried = LLMWriter(ScriptedWriterLLM(silent_tries=1), seed=5)
    texts = retried.write_many(requests)
    assert retried.generator.calls == [(4, 5), (4, 6)], "the second try asks only for what failed, new seed"
    assert all("(seed 6)" in text for text in texts) and retried.fallbacks == 0
    stubborn = LLMWriter(ScriptedWriterLLM(silent_tries=99), seed=5, max_tries=2)
    texts = stubborn.write_many(requests)
    assert stubborn.fallbacks == 4 and len(stubborn.generator.calls) == 2
    for (_, answer, _), text in zip(requests, texts, strict=True):
        assert answer in text and "cannot help" not in text


def test_the_register_writer_asserts_the_target_in_the_corpus_register(tiny, embedder):
    from ragpoison.poisoning.attacks._writers import RegisterWriter

    questions = load_questions(tiny["questions"])
    corpus = load_corpus(tiny["corpus"])
    context = AttackContext(questions, load_targets(tiny["targets"], questions, seed=0), corpus, embedder=embedder)
    question = questions["tiny/0001"]  # acetaminophen overdose; the target is Flumazenil
    texts = [RegisterWriter(context).write(question, "Flumazenil", random.Random(f"0:{i}")) for i in range(4)]
    assert texts == [RegisterWriter(context).write(question, "Flumazenil", random.Random(f"0:{i}")) for i in range(4)]
    for text in texts:
        assert "flumazenil" in text.lower()
        assert "N-acetylcysteine" not in text, "the correct answer is rewritten, never left standing"
        assert not re.search(r"the answer is|choose|correct choice", text, re.IGNORECASE)
    # The corpus's own sentence about the antidote's timing, now naming the target.
    assert any("most effective when started within eight hours" in text for text in texts)
    poison = ATTACKS.create("poisonedrag-blackbox", {"writer": "register"}).craft(context)
    assert all(not re.search(r"choose", p["text"], re.IGNORECASE) for p in poison.passages.values())
