import socket

import pytest
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators.base import ReaderInput
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import ERRORED, UNPARSED, Question

from tests.chat_server import ChatServer

OPTIONS = {"A": "Naloxone", "B": "N-acetylcysteine", "C": "Flumazenil", "D": "Fomepizole"}
NAC = {"title": "Acetaminophen overdose", "text": "N-acetylcysteine is the antidote; give N-acetylcysteine early."}
FOMEPIZOLE = {"title": "Methanol poisoning", "text": "Fomepizole blocks alcohol dehydrogenase."}


def _item(qid: str, passages) -> ReaderInput:
    return ReaderInput(Question(qid, "Which antidote?", dict(OPTIONS), "B"), tuple(passages))


def _reader(server: ChatServer, **params):
    return GENERATORS.create("openai", {"base_url": server.base_url, "backoff_s": 0.01, **params}, key="generator")


@pytest.fixture
def server():
    with ChatServer() as running:
        yield running


def test_one_request_per_question_restricted_to_the_option_letters(server):
    reader = _reader(server)
    answers = reader.answer([_item("q1", [NAC]), _item("q2", [FOMEPIZOLE])])
    assert [a.letter for a in answers] == ["B", "D"]
    posts = [body for path, body in server.behaviour.requests if path == "/v1/chat/completions"]
    assert len(posts) == 2
    for body in posts:
        assert body["model"] == "tiny-reader"  # the only model the server lists
        assert body["structured_outputs"] == {"choice": ["A", "B", "C", "D"]}
        assert body["temperature"] == 0 and body["seed"] == 0
        system, user = body["messages"]
        assert system["role"] == "system" and "medical expert" in system["content"]
        assert "Document [0] (Title: " in user["content"] and "A. Naloxone" in user["content"]
    assert reader.usage["requests"] == 2 and reader.usage["completion_tokens"] == 2


@pytest.mark.parametrize("structured_api, prompt, field", [
    ("vllm-legacy", "direct", "guided_choice"), ("vllm-legacy", "cot", "guided_json"),
    ("openai", "direct", "response_format"), ("openai", "cot", "response_format"),
    ("vllm", "cot", "structured_outputs"),
])
def test_structured_apis_and_medrag_json(server, structured_api, prompt, field):
    reader = _reader(server, structured_api=structured_api, prompt=prompt)
    assert reader.answer([_item("q1", [NAC])])[0].letter == "B"
    body = server.behaviour.requests[-1][1]
    assert field in body
    if prompt == "cot":
        assert "step_by_step_thinking" in body["messages"][0]["content"]


def test_a_reply_naming_no_option_is_unparsed_not_a_guess(server):
    server.behaviour.reply = "I am not sure; both could be right."
    answer = _reader(server, structured=False).answer([_item("q1", [NAC])])[0]
    assert answer.letter == UNPARSED and answer.text == "I am not sure; both could be right."
    assert "structured_outputs" not in server.behaviour.requests[-1][1]


def test_completions_api_sends_the_prompt_as_plain_text(server):
    answer = _reader(server, api="completions", structured=False).answer([_item("q1", [NAC])])[0]
    assert answer.letter == "B"
    path, body = server.behaviour.requests[-1]
    assert path == "/v1/completions" and body["prompt"].endswith("\nAnswer:")


def test_open_mode_records_the_options_the_answer_mentions(server):
    reader = _reader(server, mode="open")
    answer = reader.answer([_item("q1", [NAC])])[0]
    assert answer.text == "N-acetylcysteine is the antidote; give N-acetylcysteine early."
    assert answer.mentions == ("B",) and answer.letter == "B"
    server.behaviour.reply = "Fomepizole, not naloxone."
    both = reader.answer([_item("q1", [NAC])])[0]
    assert both.mentions == ("A", "D") and both.letter == UNPARSED
    assert "Query: Which antidote?" in server.behaviour.requests[-1][1]["messages"][1]["content"]


def test_complete_writes_free_text_per_prompt(server):
    reader = _reader(server, completion_temperature=0.7)
    texts = reader.complete(["Write about naloxone.", "Write about flumazenil."], max_tokens=40, seed=3)
    assert texts == ["Passage (seed 3): Write about naloxone.", "Passage (seed 3): Write about flumazenil."]
    body = server.behaviour.requests[-1][1]
    assert body["max_tokens"] == 40 and body["temperature"] == 0.7
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert reader.writes_text


def test_retries_server_errors_with_backoff(server):
    server.behaviour.fail_next = 2
    assert _reader(server, retries=3, concurrency=1).answer([_item("q1", [NAC])])[0].letter == "B"
    assert len(server.behaviour.requests) == 3
    server.behaviour.fail_next = 10
    (failed,) = _reader(server, retries=1).answer([_item("q1", [NAC])])
    # Still failing after its retries: the answer is errored with the reason, not a wrong letter and not a crash.
    assert failed.letter == ERRORED and "HTTP 503: the engine is busy" in failed.error
    with pytest.raises(InputError, match="HTTP 503"):  # a writer cannot craft from a missing completion
        _reader(server, retries=0).complete(["Write about naloxone."])


def test_a_client_error_is_not_retried(server):
    server.behaviour.fail_next, server.behaviour.fail_status = 1, 400
    (failed,) = _reader(server, retries=3).answer([_item("q1", [NAC])])
    assert failed.letter == ERRORED and "HTTP 400" in failed.error
    assert len(server.behaviour.requests) == 1


def test_concurrency_is_bounded_and_order_kept(server):
    server.behaviour.delay_s = 0.15
    items = [_item(f"q{i}", [NAC] if i % 2 else [FOMEPIZOLE]) for i in range(8)]
    answers = _reader(server, concurrency=3).answer(items)
    assert [a.letter for a in answers] == ["D", "B"] * 4
    assert 2 <= server.behaviour.max_in_flight <= 3


def test_timeout_is_a_one_line_error(server):
    server.behaviour.delay_s = 1.0
    (failed,) = _reader(server, timeout_s=0.2, retries=1).answer([_item("q1", [NAC])])
    assert failed.letter == ERRORED and "within 0.2 s (2 tries)" in failed.error and "\n" not in failed.error


def test_server_down_is_named_before_any_question():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    reader = GENERATORS.create("openai", {"base_url": f"http://127.0.0.1:{port}/v1", "retries": 1,
                                          "backoff_s": 0.01}, key="generator")
    with pytest.raises(InputError) as err:
        reader.fit({})
    message = str(err.value)
    assert f"cannot reach the server at http://127.0.0.1:{port}/v1 (connection refused, 2 tries)" in message
    assert "ragpoison serve" in message and "field 'generator.params.base_url'" in message


def test_a_model_the_server_does_not_serve_is_named(server):
    with pytest.raises(InputError, match=r"does not serve 'llama-70b' \(it serves: tiny-reader\)"):
        _reader(server, model="llama-70b").fit({})


def test_provenance_names_the_served_model_and_server_version(server):
    record = _reader(server).provenance()
    assert record["kind"] == "openai" and record["version"] == "chat-server-1"
    assert record["server"]["model"] == "tiny-reader" and record["determinism"]["temperature"] == 0
