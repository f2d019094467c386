import shutil

import pytest
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._answers import parse_choice
from ragpoison.rag.generators._model_dir import model_dir_sha256
from ragpoison.rag.generators._prompts import reader_prompt, render_prompt
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import UNPARSED, Question

pytestmark = pytest.mark.usefixtures("single_torch_thread")

OPTIONS = {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole"}
NAC = {"title": "Acetaminophen overdose", "text": "N-acetylcysteine is the antidote for acetaminophen overdose."}
OPIOID = {"title": "Opioid overdose", "text": "Naloxone reverses respiratory depression from opioids within minutes, "
          "and can be repeated every two to three minutes while ventilation is supported."}


def _items():
    five = dict(OPTIONS, E="Protamine sulfate")
    return [ReaderInput(Question("q1", "What is the antidote for acetaminophen overdose?", dict(OPTIONS), "B"),
                        (NAC,)),
            ReaderInput(Question("q2", "Which drug reverses opioid respiratory depression?", five, "A"),
                        (OPIOID, NAC, OPIOID)),
            ReaderInput(Question("q3", "Which antidote?", dict(OPTIONS), "D"), ())]


@pytest.fixture(scope="module")
def model_dirs(tiny_llama, tmp_path_factory):
    plain = tmp_path_factory.mktemp("plain") / "tiny-plain"
    shutil.copytree(tiny_llama, plain)
    (plain / "chat_template.jinja").unlink()
    return {"chat": tiny_llama, "plain": plain}


def _reader(model_dir, **params):
    return GENERATORS.create("transformers", {"model": str(model_dir), **params}, key="generator")


def test_letters_come_from_the_next_token_logits_of_the_option_letters(model_dirs):
    import torch

    reader = _reader(model_dirs["chat"])
    items = _items()
    answers = reader.answer(items)
    model, tokenizer = reader._loaded
    for item, answer in zip(items, answers, strict=True):
        assert set(answer.scores) == set(item.question.options)
        assert answer.letter == max(answer.scores, key=answer.scores.get)
        # Recompute one prompt alone, without padding: softmax over the letters' best next-token logits.
        text = render_prompt(tokenizer, reader_prompt(item, "direct"))
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            logits = model(**ids).logits[0, -1]
        letters = sorted(item.question.options)
        best = torch.stack([logits[[tokenizer.encode(x, add_special_tokens=False)[0],
                                    tokenizer.encode(f" {x}", add_special_tokens=False)[0]]].max() for x in letters])
        expected = dict(zip(letters, torch.softmax(best, 0).tolist(), strict=True))
        assert answer.scores == pytest.approx(expected, abs=1e-5)


def test_a_batch_scores_as_its_questions_do_alone(model_dirs):
    reader = _reader(model_dirs["chat"], batch_size=3)
    single = _reader(model_dirs["chat"], batch_size=1)
    for batched, alone in zip(reader.answer(_items()), single.answer(_items()), strict=True):
        assert batched.letter == alone.letter
        assert batched.scores == pytest.approx(alone.scores, abs=1e-5)


def test_free_text_that_names_no_option_is_unparsed(model_dirs):
    reader = _reader(model_dirs["chat"], structured=False, max_tokens=8)
    answers = reader.answer(_items())
    for item, answer in zip(_items(), answers, strict=True):
        assert answer.text and answer.scores == {}
        assert answer.letter == parse_choice(answer.text, item.question.options)
    # A random model writes no answer; the reader records that instead of defaulting to a letter.
    assert UNPARSED in {a.letter for a in answers}
    assert reader.usage["completion_tokens"] == 3 * 8


def test_cot_reasons_freely_then_decodes_the_letter_among_the_options(model_dirs):
    reader = _reader(model_dirs["chat"], prompt="cot", max_tokens=6)
    for item, answer in zip(_items(), reader.answer(_items()), strict=True):
        assert answer.letter in item.question.options
        assert answer.text.endswith(f'"answer_choice": "{answer.letter}"}}')
        assert set(answer.scores) == set(item.question.options)


def test_greedy_and_seeded_decoding_repeat(model_dirs):
    first = _reader(model_dirs["chat"], structured=False, max_tokens=6).answer(_items())
    again = _reader(model_dirs["chat"], structured=False, max_tokens=6).answer(_items())
    assert [a.text for a in first] == [a.text for a in again]
    writer = _reader(model_dirs["chat"], completion_temperature=1.0)
    prompts = ["Write a passage about naloxone.", "Write a passage about flumazenil."]
    seeded = writer.complete(prompts, max_tokens=12, seed=1)
    assert writer.complete(prompts, max_tokens=12, seed=1) == seeded
    assert writer.complete(prompts, max_tokens=12, seed=2) != seeded
    assert len(seeded) == 2 and all(isinstance(t, str) for t in seeded)


def test_a_model_without_chat_template_reads_plain_text(model_dirs):
    reader = _reader(model_dirs["plain"])
    _, tokenizer = reader._loaded
    assert not tokenizer.chat_template
    assert render_prompt(tokenizer, reader_prompt(_items()[0], "direct")).endswith("\nAnswer:")
    assert all(a.letter in "ABCDE" for a in reader.answer(_items()))


def test_open_mode_records_mentions(model_dirs):
    answers = _reader(model_dirs["chat"], mode="open", max_tokens=6).answer(_items())
    for item, answer in zip(_items(), answers, strict=True):
        assert answer.mentions is not None
        assert answer.letter == (answer.mentions[0] if len(answer.mentions) == 1 else UNPARSED)
        assert all(item.question.options[x].lower() in answer.text.lower() for x in answer.mentions)


def test_bad_model_directories_name_the_key(tmp_path):
    with pytest.raises(InputError, match=r"field 'generator.params.model': model directory not found"):
        _reader(tmp_path / "missing")
    with pytest.raises(InputError, match=r"no config.json"):
        _reader(tmp_path)
    with pytest.raises(InputError, match=r"generator.params.model"):
        GENERATORS.get("transformers").parse_params({}, key="generator")


def test_provenance_hashes_the_model_directory(model_dirs, tmp_path):
    record = _reader(model_dirs["chat"]).provenance()
    assert record["kind"] == "transformers" and record["version"]
    assert record["model_sha256"] == model_dir_sha256(model_dirs["chat"])
    assert record["determinism"] == {"device": "cpu", "dtype": "float32", "seed": 0, "temperature": 0.0,
                                     "batch_size": 8, "greedy": True}
    assert record["hardware"]["cpu_count"] >= 1
    copy = shutil.copytree(model_dirs["plain"], tmp_path / "copy")
    before = model_dir_sha256(copy)
    (copy / "generation_config.json").write_text('{"do_sample": true}')
    assert model_dir_sha256(copy) != before
