"""vLLM's in-process engine as the reader: one batched generate per cell, letters by structured outputs."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import Field
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._llm import Generation, LLMGenerator, LLMParams, Request
from ragpoison.rag.generators._model_dir import check_model_dir, model_dir_sha256
from ragpoison.rag.generators._prompts import render_prompt
from ragpoison.rag.generators._runtime import determinism_env, hardware, package_version, require_vllm
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import CorpusView

if TYPE_CHECKING:
    from vllm import LLM

FIELD = "generator.params.model"


class VLLMParams(LLMParams):
    """Parameters of the in-process vLLM reader (engine arguments of ``vllm.LLM``)."""

    max_model_len: int | None = Field(None, ge=1, description="context length (default: the model's)")
    dtype: str = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    enforce_eager: bool = False
    deterministic_scheduling: bool = Field(
        True, description="run the engine in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0) so scheduling repeats")
    batch_invariant: bool = Field(False, description="VLLM_BATCH_INVARIANT=1: outputs independent of batching")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def structured_outputs(request: Request) -> dict[str, Any]:
    """SamplingParams keywords restricting a request to its choices or schema (vLLM >= 0.12, else the older API)."""
    if request.choices is None and request.schema is None:
        return {}
    spec = {"choice": list(request.choices)} if request.choices is not None else {"json": request.schema}
    try:
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:  # older vLLM called it guided decoding
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(**spec)}
    return {"structured_outputs": StructuredOutputsParams(**spec)}


@GENERATORS.register("vllm")
class VLLMGenerator(LLMGenerator):
    """In-process vLLM engine (GPU): one batched generate per cell; structured outputs pick the option letter."""

    Params = VLLMParams
    params: VLLMParams
    package = "vllm"

    def __init__(self, params: VLLMParams | None = None) -> None:
        super().__init__(params)
        require_vllm()
        self.model_path = check_model_dir(self.params.model, FIELD)

    def fit(self, corpus: CorpusView) -> None:
        """Start the engine now, so that a model that cannot load fails before the first cell."""
        self.llm  # noqa: B018 - loading is the point

    @cached_property
    def llm(self) -> LLM:
        """The ``vllm.LLM`` engine."""
        params = self.params
        # vLLM reads these when the engine starts; they are its documented switches for repeatable outputs.
        if params.deterministic_scheduling:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if params.batch_invariant:
            os.environ["VLLM_BATCH_INVARIANT"] = "1"
        from vllm import LLM

        kwargs: dict[str, Any] = {"model": str(self.model_path), "seed": params.seed, "dtype": params.dtype,
                  "tensor_parallel_size": params.tensor_parallel_size,
                  "gpu_memory_utilization": params.gpu_memory_utilization, "enforce_eager": params.enforce_eager}
        if params.max_model_len is not None:
            kwargs["max_model_len"] = params.max_model_len
        try:
            return LLM(**kwargs)
        except Exception as exc:  # any engine start-up failure (CUDA, memory, config) is one line for the user
            raise InputError(f"vllm could not start the model: {_first_line(exc)}", path=self.model_path,
                             field=FIELD) from None

    def generate(self, requests: list[Request]) -> list[Generation]:
        """All requests in one ``LLM.generate`` call, prompts tokenised here so special tokens come out once."""
        from vllm import SamplingParams

        llm = self.llm
        tokenizer = llm.get_tokenizer()
        prompts, sampling = [], []
        for request in requests:
            text = render_prompt(tokenizer, request.prompt)
            ids = tokenizer.encode(text, add_special_tokens=not getattr(tokenizer, "chat_template", None))
            prompts.append({"prompt_token_ids": ids})
            sampling.append(SamplingParams(temperature=request.temperature, top_p=1.0, max_tokens=request.max_tokens,
                                           seed=request.seed, **structured_outputs(request)))
        try:
            outputs = llm.generate(prompts, sampling, use_tqdm=False)
        except ValueError as exc:
            raise InputError(f"vllm refused a prompt: {_first_line(exc)} (shorten the documents with "
                             "generator.params.max_context_chars or raise max_model_len)",
                             field="generator.params.max_context_chars") from None
        return [Generation(out.outputs[0].text, {}, len(out.prompt_token_ids or ()), len(out.outputs[0].token_ids))
                for out in outputs]

    def backend_provenance(self) -> dict[str, Any]:
        """Model hash, hardware, torch version and vLLM's determinism settings."""
        params = self.params
        return {"model_dir": str(self.model_path), "model_sha256": model_dir_sha256(self.model_path),
                "hardware": hardware(), "torch": package_version("torch"),
                "determinism": {"seed": params.seed, "temperature": params.temperature,
                                "deterministic_scheduling": params.deterministic_scheduling,
                                "batch_invariant": params.batch_invariant, "enforce_eager": params.enforce_eager,
                                "dtype": params.dtype, "tensor_parallel_size": params.tensor_parallel_size,
                                "max_model_len": params.max_model_len, "env": determinism_env()}}
