"""The shared shape of the LLM readers: prompts in, one batched generation per call, answers parsed."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._answers import choice_answer, open_answer
from ragpoison.rag.generators._prompts import Prompt, answer_schema, reader_prompt
from ragpoison.rag.generators._runtime import package_version
from ragpoison.rag.generators.base import Generator, ReaderInput
from ragpoison.rag.plugin import Params
from ragpoison.rag.types import ERRORED, Answer


class LLMParams(Params):
    """Parameters every LLM reader shares: prompt style, decoding and seed."""

    model: str = Field(description="model directory (vllm, transformers) or served model name (openai)")
    mode: Literal["choice", "open"] = Field(
        "choice", description="choice: answer with an option letter; open: free text scored by substring match")
    prompt: Literal["direct", "cot"] = Field(
        "direct", description="direct: the letter only; cot: MedRAG's step-by-step JSON (choice mode)")
    structured: bool = Field(True, description="restrict decoding to the option letters where the backend can")
    max_tokens: int | None = Field(None, ge=1, description="default: 16 direct, 1024 cot, 128 open")
    max_context_chars: int | None = Field(None, ge=1, description="cut the documents block to this length")
    temperature: float = Field(0.0, ge=0.0, description="0 decodes greedily")
    completion_temperature: float = Field(0.0, ge=0.0, description="temperature of free-text completions")
    seed: int = 0


@dataclass(frozen=True)
class Request:
    """One generation: a prompt and how to decode it.

    ``choices`` restricts the output to exactly one of its strings; ``schema`` to JSON following it.
    """

    prompt: Prompt
    max_tokens: int
    temperature: float
    seed: int
    choices: tuple[str, ...] | None = None
    schema: dict[str, Any] | None = None


@dataclass
class Generation:
    """A backend's output for one request."""

    text: str
    scores: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # why the backend gave no output for this request (failure, timeout, refusal)


class LLMGenerator(Generator):
    """Base of the LLM readers: builds prompts, calls ``generate`` once per batch, parses the answers."""

    Params = LLMParams
    params: LLMParams
    DEFAULT_MAX_TOKENS = {"direct": 16, "cot": 1024, "open": 128}
    package = ""  # the distribution whose version manifest.json records

    def __init__(self, params: LLMParams | None = None) -> None:
        super().__init__(params)
        self.usage: Counter[str] = Counter()

    @property
    def style(self) -> str:
        """The prompt style: 'open' in open-answer mode, else the ``prompt`` parameter."""
        return "open" if self.params.mode == "open" else self.params.prompt

    def reader_requests(self, batch: list[ReaderInput]) -> list[Request]:
        """The generation requests for a batch of questions."""
        params, style = self.params, self.style
        max_tokens = params.max_tokens or self.DEFAULT_MAX_TOKENS[style]
        requests: list[Request] = []
        for item in batch:
            letters = tuple(sorted(item.question.options))
            structured = params.structured and style != "open"
            requests.append(Request(
                reader_prompt(item, style, params.max_context_chars), max_tokens, params.temperature, params.seed,
                choices=letters if structured and style == "direct" else None,
                schema=answer_schema(letters, with_thinking=True) if structured and style == "cot" else None))
        return requests

    def answer(self, batch: list[ReaderInput]) -> list[Answer]:
        """Answer a batch in one generation call; an answer naming no option is ``unparsed``.

        A request the backend failed (after its retries) or refused gives an ``errored`` answer with the reason.
        """
        if not batch:
            return []
        generations = self._generate(self.reader_requests(batch))
        answers = []
        for item, g in zip(batch, generations, strict=True):
            if g.error is not None:
                answers.append(Answer(ERRORED, error=g.error))
            elif self.params.mode == "open":
                answers.append(open_answer(g.text, item.question))
            else:
                answers.append(choice_answer(g.text, item.question, g.scores))
        return answers

    def complete(self, prompts: list[str], *, max_tokens: int = 256, seed: int = 0) -> list[str]:
        """Free-text completions, each prompt one user turn, at ``completion_temperature``."""
        if not prompts:
            return []
        requests = [Request(Prompt("", prompt), max_tokens, self.params.completion_temperature, seed)
                    for prompt in prompts]
        generations = self._generate(requests)
        failed = next((g.error for g in generations if g.error is not None), None)
        if failed is not None:  # an attack's writer cannot craft from a missing completion: stop, do not guess
            raise InputError(f"a completion failed: {failed}", field="generator")
        return [g.text for g in generations]

    def _generate(self, requests: list[Request]) -> list[Generation]:
        generations = self.generate(requests)
        self.usage["requests"] += len(requests)
        self.usage["prompt_tokens"] += sum(g.prompt_tokens for g in generations)
        self.usage["completion_tokens"] += sum(g.completion_tokens for g in generations)
        return generations

    @abstractmethod
    def generate(self, requests: list[Request]) -> list[Generation]:
        """Run every request (one batch where the backend batches); one Generation per request, in order."""

    def provenance(self) -> dict[str, Any]:
        """Kind, params and backend version, plus what the backend adds (model hash, hardware, determinism)."""
        record = super().provenance()
        record["version"] = package_version(self.package) if self.package else None
        record.update(self.backend_provenance())
        return record

    def backend_provenance(self) -> dict[str, Any]:
        """Backend-specific manifest entries."""
        return {}
