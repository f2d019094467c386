"""Any OpenAI-compatible endpoint (``vllm serve``, ``ragpoison serve``) as the reader, one request per question."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._llm import Generation, LLMGenerator, LLMParams, Request
from ragpoison.rag.generators._model_dir import model_dir_sha256
from ragpoison.rag.generators._openai_http import OpenAIClient
from ragpoison.rag.generators._prompts import answer_schema
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import CorpusView


class OpenAIParams(LLMParams):
    """Parameters of the OpenAI-compatible reader."""

    model: str = Field("", description="served model name; empty: the one model the server lists")
    base_url: str = "http://127.0.0.1:8000/v1"
    api: Literal["chat", "completions"] = Field(
        "chat", description="chat: system and user messages; completions: the prompt as plain text")
    structured_api: Literal["vllm", "vllm-legacy", "openai"] = Field(
        "vllm", description="vllm: structured_outputs (vLLM >= 0.12); vllm-legacy: guided_choice/guided_json; "
                            "openai: response_format with a JSON schema")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key, if any")
    concurrency: int = Field(8, ge=1, description="requests in flight at once")
    timeout_s: float = Field(60.0, gt=0, description="per request")
    retries: int = Field(3, ge=0, description="extra tries after a refused connection, a timeout, 429 or 5xx")
    backoff_s: float = Field(0.5, ge=0, description="wait before retry n: backoff_s * 2**n")


def structured_body(request: Request, api: str) -> dict[str, Any]:
    """Request-body fields restricting the output to the request's choices or schema."""
    if request.choices is None and request.schema is None:
        return {}
    if api == "openai":
        schema = request.schema or answer_schema(request.choices or (), with_thinking=False)
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "answer", "schema": schema, "strict": True}}}
    if api == "vllm-legacy":
        return {"guided_choice": list(request.choices)} if request.choices else {"guided_json": request.schema}
    spec = {"choice": list(request.choices)} if request.choices else {"json": request.schema}
    return {"structured_outputs": spec}


@GENERATORS.register("openai")
class OpenAIGenerator(LLMGenerator):
    """An OpenAI-compatible server (e.g. vllm serve): bounded concurrent requests, retries, timeouts."""

    Params = OpenAIParams
    params: OpenAIParams

    def __init__(self, params: OpenAIParams | None = None) -> None:
        super().__init__(params)
        settings = self.params
        self.client = OpenAIClient(settings.base_url, api_key=os.environ.get(settings.api_key_env) or None,
                                   timeout_s=settings.timeout_s, retries=settings.retries, backoff_s=settings.backoff_s)
        self._served: dict[str, Any] | None = None

    def served_model(self, retries: int | None = None) -> dict[str, Any]:
        """The server's entry for the model in use (from ``/models``); checks that the server serves it."""
        if self._served is None:
            listed = self.client.get("/models", retries=retries).get("data") or []
            entries = {str(m.get("id")): m for m in listed if isinstance(m, dict)}
            wanted = self.params.model
            if wanted and wanted not in entries:
                raise InputError(f"the server at {self.client.base_url} does not serve {wanted!r} (it serves: "
                                 f"{', '.join(sorted(entries)) or 'nothing'})", field="generator.params.model")
            if not wanted and len(entries) != 1:
                raise InputError(f"the server at {self.client.base_url} serves {len(entries)} models "
                                 f"({', '.join(sorted(entries))}); name one", field="generator.params.model")
            self._served = entries[wanted] if wanted else next(iter(entries.values()))
        return self._served

    def fit(self, corpus: CorpusView) -> None:
        """Check now that the server answers and serves the model, before any cell runs."""
        self.served_model()

    def _body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.served_model()["id"], "max_tokens": request.max_tokens,
                "temperature": request.temperature, "top_p": 1.0, "seed": request.seed,
                **structured_body(request, self.params.structured_api)}
        if self.params.api == "chat":
            body["messages"] = request.prompt.messages()
        else:
            body["prompt"] = request.prompt.as_text()
        return body

    def _one(self, request: Request) -> Generation:
        """One request; a failure after the client's retries, or a refusal, is an errored generation, not a raise."""
        path = "/chat/completions" if self.params.api == "chat" else "/completions"
        try:
            data = self.client.post(path, self._body(request))
        except InputError as exc:
            return Generation("", error=exc.detail)
        try:
            choice = data["choices"][0]
            message = choice["message"] if self.params.api == "chat" else {}
            text = message["content"] if self.params.api == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            return Generation("", error=f"{self.client.base_url}{path} answered without choices[0]")
        refusal = message.get("refusal") if isinstance(message, dict) else None
        if refusal or choice.get("finish_reason") == "content_filter":
            return Generation("", error=f"the model refused to answer: {refusal or 'content filter'}")
        usage = data.get("usage") or {}
        return Generation(text or "", {}, int(usage.get("prompt_tokens") or 0),
                          int(usage.get("completion_tokens") or 0))

    def generate(self, requests: list[Request]) -> list[Generation]:
        """One HTTP request per prompt, at most ``concurrency`` in flight; a failed request is an errored generation."""
        self.served_model()
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.params.concurrency, len(requests))))
        try:
            futures = [pool.submit(self._one, request) for request in requests]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def provenance(self) -> dict[str, Any]:
        """Base URL, the served model (and its hash when its directory is on this machine), server version."""
        record = super().provenance()
        try:
            served = self.served_model(retries=0)
        except InputError as exc:
            return {**record, "server": {"error": str(exc)}}
        root = served.get("root")
        local = Path(root) if isinstance(root, str) and root else None
        server = {"model": served.get("id"), "root": root, "max_model_len": served.get("max_model_len")}
        if local is not None and (local / "config.json").is_file():
            server["model_sha256"] = model_dir_sha256(local)
        try:
            # vLLM answers /version at the server root (beside /v1).
            version = OpenAIClient(self.client.base_url.removesuffix("/v1"), timeout_s=5, retries=0).get("/version")
            record["version"] = version.get("version")
        except InputError:
            record["version"] = None
        return {**record, "server": server,
                "determinism": {"seed": self.params.seed, "temperature": self.params.temperature,
                                "concurrency": self.params.concurrency}}
