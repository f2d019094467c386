"""A small OpenAI-compatible server on loopback for tests: deterministic answers, failures on demand.

Its "model" reads the prompt the way a careful student would: it picks the option whose text the documents
repeat most often. It honours vLLM's ``structured_outputs`` choice and JSON fields and OpenAI's
``response_format``. Run as a script it stands in for ``vllm serve`` (which needs a GPU): same flags, same
endpoints (/health, /version, /v1/models, /v1/chat/completions, /v1/completions).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_OPTION = re.compile(r"^([A-Z])\. (.+)$", re.MULTILINE)
_DOCUMENT = re.compile(r"Document \[\d+\] \(Title: (.*?)\) (.*)$", re.MULTILINE)


def read_prompt(prompt: str) -> tuple[str | None, str]:
    """The letter the documents support best (None without options) and a free-text answer."""
    documents = _DOCUMENT.findall(prompt)
    text = " ".join(f"{title} {body}" for title, body in documents).lower()
    choices = prompt.split("Here are the potential choices:", 1)
    options = dict(_OPTION.findall(choices[1])) if len(choices) == 2 else {}
    if options:
        counts = {letter: text.count(option.lower()) for letter, option in sorted(options.items())}
        best = max(counts.values())
        return next(letter for letter, count in counts.items() if count == best), ""
    return None, documents[0][1].split(". ")[0] if documents else "I don't know"


class Behaviour:
    """What the server does next; tests change it between calls."""

    def __init__(self) -> None:
        self.fail_next = 0          # answer 503 to this many requests
        self.fail_every = 0         # answer 503 to every n-th completion request (0: never)
        self.completions = 0        # completion requests seen
        self.failed = 0             # requests answered with a failure
        self.fail_status = 503
        self.delay_s = 0.0          # sleep before answering a completion
        self.reply: str | None = None  # fixed completion text instead of the model's
        self.requests: list[tuple[str, dict]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()


def _completion_text(body: dict, prompt: str, behaviour: Behaviour) -> str:
    if behaviour.reply is not None:
        return behaviour.reply
    letter, sentence = read_prompt(prompt)
    structured = body.get("structured_outputs") or {}
    choices = structured.get("choice") or body.get("guided_choice")
    schema = structured.get("json") or body.get("guided_json") or (
        (body.get("response_format") or {}).get("json_schema", {}).get("schema"))
    if choices:
        return letter if letter in choices else choices[0]
    if schema:
        allowed = schema["properties"]["answer_choice"]["enum"]
        answer = {"answer_choice": letter if letter in allowed else allowed[0]}
        if "step_by_step_thinking" in schema["properties"]:
            answer = {"step_by_step_thinking": "The documents say so.", **answer}
        return json.dumps(answer)
    if letter is not None:
        return f"The answer is {letter}."
    if "Document [" in prompt:
        return sentence
    return f"Passage (seed {body.get('seed')}): {prompt.strip()[:60]}"


def make_handler(behaviour: Behaviour, model: str, root: str):
    """A request handler class bound to a behaviour and a served model name."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, {})
            elif self.path == "/version":
                self._send(200, {"version": "chat-server-1"})
            elif self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model", "root": root,
                                                             "max_model_len": 2048}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with behaviour.lock:
                behaviour.requests.append((self.path, body))
                failing = behaviour.fail_next > 0
                behaviour.fail_next -= failing
                behaviour.completions += 1
                if behaviour.fail_every and behaviour.completions % behaviour.fail_every == 0:
                    failing = True
                behaviour.failed += failing
                behaviour.in_flight += 1
                behaviour.max_in_flight = max(behaviour.max_in_flight, behaviour.in_flight)
            try:
                if failing:
                    self._send(behaviour.fail_status, {"error": {"message": "the engine is busy, try again"}})
                    return
                time.sleep(behaviour.delay_s)
                if body.get("model") != model:
                    self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                    return
                chat = self.path == "/v1/chat/completions"
                prompt = "\n".join(m["content"] for m in body["messages"]) if chat else body["prompt"]
                text = _completion_text(body, prompt, behaviour)
                choice = {"index": 0, "finish_reason": "stop",
                          **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
                self._send(200, {"id": "cmpl-1", "object": "chat.completion" if chat else "text_completion",
                                 "model": model, "choices": [choice],
                                 "usage": {"prompt_tokens": len(prompt.split()),
                                           "completion_tokens": len(text.split())}})
            finally:
                with behaviour.lock:
                    behaviour.in_flight -= 1

    return Handler


class ChatServer:
    """The server in a background thread on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, model: str = "tiny-reader", root: str = "", port: int = 0) -> None:
        self.behaviour = Behaviour()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self.behaviour, model, root))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = model
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_like_vllm(argv: list[str]) -> int:
    """Stand in for ``vllm serve MODEL --host --port --seed --max-model-len --served-model-name``."""
    parser = argparse.ArgumentParser(prog="vllm")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--max-model-len", type=int)
    parser.add_argument("--served-model-name")
    parser.add_argument("--dtype")
    args, _ = parser.parse_known_args(argv)
    record = os.environ.get("STANDIN_ARGV_FILE")
    if record:
        with open(record, "w", encoding="utf-8") as handle:
            json.dump({"argv": argv, "pid": os.getpid(),
                       "env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_")}}, handle)
    if os.environ.get("STANDIN_FAIL"):
        sys.stderr.write("ValueError: the model does not fit in GPU memory\n")
        return 1
    time.sleep(float(os.environ.get("STANDIN_LOAD_S", "0.3")))  # loading weights
    server = ChatServer(args.served_model_name or args.model, root=args.model, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with server:
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(serve_like_vllm(sys.argv[1:]))
