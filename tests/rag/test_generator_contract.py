import json

import pytest
from ragpoison.rag.generators._runtime import gpus, has_module
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.loaders import load_corpus
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import UNPARSED, Answer, Question

from tests.chat_server import ChatServer

pytestmark = pytest.mark.usefixtures("single_torch_thread")

# How to build each registered generator here; a generator registered without an entry fails its contract test.
PARAMS = {
    "extractive": lambda model, server: {},
    "transformers": lambda model, server: {"model": str(model), "max_tokens": 4},
    "openai": lambda model, server: {"base_url": server.base_url},
    "vllm": lambda model, server: {"model": str(model), "max_model_len": 2048, "gpu_memory_utilization": 0.3},
}


@pytest.mark.parametrize("name", GENERATORS.names())
def test_every_generator_answers_each_question_once_and_describes_itself(name, tiny, tiny_llama):
    if name not in PARAMS:
        pytest.fail(f"no contract parameters for generator {name!r}")
    if name == "vllm" and not (has_module("vllm") and gpus()):
        pytest.skip("the vllm generator needs the vllm package and a CUDA GPU")
    corpus = load_corpus(tiny["corpus"])
    options = {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole", "E": "Protamine"}
    batch = [ReaderInput(Question(f"c/{i}", "Which antidote is used for acetaminophen overdose?",
                                  dict(list(options.items())[: 4 + i % 2]), "B"),
                         tuple(corpus[d] for d in ["tox_1", "tox_3", "card_1"][: i % 4])) for i in range(5)]
    with ChatServer() as server:
        generator = GENERATORS.create(name, PARAMS[name](tiny_llama, server), key="generator")
        generator.fit(corpus)
        answers = generator.answer(batch)
        assert generator.answer([]) == []
        assert len(answers) == len(batch)
        for item, answer in zip(batch, answers, strict=True):
            assert isinstance(answer, Answer) and isinstance(answer.text, str)
            assert answer.letter in item.question.options or answer.letter == UNPARSED
        record = generator.provenance()
        assert record["kind"] == name and json.loads(json.dumps(record)) == record
        if generator.writes_text:
            texts = generator.complete(["Write one sentence about naloxone."], max_tokens=8, seed=0)
            assert len(texts) == 1 and isinstance(texts[0], str)
        else:
            with pytest.raises(NotImplementedError):
                generator.complete(["Write one sentence about naloxone."])
