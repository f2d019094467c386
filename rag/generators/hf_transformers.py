"""A local Hugging Face causal language model as the reader, on CPU or GPU, through ``transformers``."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from ragpoison.rag.errors import InputError
from ragpoison.rag.generators._answers import parse_choice
from ragpoison.rag.generators._llm import Generation, LLMGenerator, LLMParams, Request
from ragpoison.rag.generators._model_dir import check_model_dir, model_dir_sha256
from ragpoison.rag.generators._prompts import Prompt, render_prompt
from ragpoison.rag.generators._runtime import hardware, has_module
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import UNPARSED, CorpusView

if TYPE_CHECKING:
    from transformers import BatchEncoding, GenerationMixin, PreTrainedModel, PreTrainedTokenizerBase

    class CausalLM(PreTrainedModel, GenerationMixin):
        """What AutoModelForCausalLM loads: a model that generates."""

FIELD = "generator.params.model"
# After a free-text chain of thought, the answer letter is decoded restricted to the options behind this cue.
ANSWER_CUE = '", "answer_choice": "'


class TransformersParams(LLMParams):
    """Parameters of the transformers reader."""

    device: str = Field("auto", description="auto: cuda when available, else cpu; or any torch device")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 (or float16) on GPU, float32 on CPU")
    batch_size: int = Field(8, ge=1)


@GENERATORS.register("transformers")
class TransformersGenerator(LLMGenerator):
    """A local Hugging Face model (CPU or GPU); option letters chosen by restricting next-token logits."""

    Params = TransformersParams
    params: TransformersParams
    package = "transformers"

    def __init__(self, params: TransformersParams | None = None) -> None:
        super().__init__(params)
        if not has_module("transformers"):
            raise InputError("the transformers package is not installed (pip install transformers)",
                             field="generator.kind")
        self.model_path = check_model_dir(self.params.model, FIELD)

    def fit(self, corpus: CorpusView) -> None:
        """Load the model now, so that a broken model directory fails before the first cell."""
        self._loaded  # noqa: B018 - loading is the point

    @cached_property
    def device(self) -> str:
        """The torch device the model runs on."""
        if self.params.device != "auto":
            return self.params.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @cached_property
    def dtype_name(self) -> str:
        """The weights' dtype."""
        if self.params.dtype != "auto":
            return self.params.dtype
        if not self.device.startswith("cuda"):
            return "float32"
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"

    @cached_property
    def _loaded(self) -> tuple[CausalLM, PreTrainedTokenizerBase]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, self.dtype_name))
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cannot load the model: {first}", path=self.model_path, field=FIELD) from None
        tokenizer.padding_side = "left"  # so the last position of every row is its prompt's last token
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise InputError("the tokenizer has neither a pad nor an end-of-sequence token",
                                 path=self.model_path, field=FIELD)
            tokenizer.pad_token = tokenizer.eos_token
        # transformers wraps to() with functools.wraps, which mypy reads as an unbound function of the model.
        loaded: CausalLM = model.to(self.device).eval()  # type: ignore[arg-type]  # transformers' decorated to()
        return loaded, tokenizer

    def _text(self, prompt: Prompt) -> str:
        return render_prompt(self._loaded[1], prompt)

    def _encode(self, texts: list[str]) -> BatchEncoding:
        _, tokenizer = self._loaded
        # A chat template writes its own special tokens; plain text gets the tokenizer's.
        return tokenizer(texts, return_tensors="pt", padding=True,
                         add_special_tokens=not tokenizer.chat_template).to(self.device)

    def _letter_ids(self, letter: str) -> list[int]:
        _, tokenizer = self._loaded
        ids: set[int] = set()
        for variant in (letter, f" {letter}"):
            tokens = tokenizer.encode(variant, add_special_tokens=False)
            if tokens and str(tokenizer.decode(tokens[:1])).strip() == letter:
                ids.add(tokens[0])
        if not ids:
            raise InputError(f"the tokenizer has no single token for option letter {letter!r}; set "
                             "generator.params.structured to false", field="generator.params.structured")
        return sorted(ids)

    def score_letters(self, texts: list[str], letter_sets: list[tuple[str, ...]]
                      ) -> tuple[list[dict[str, float]], list[int]]:
        """Per text, each allowed letter's probability as the next token (renormalised), and the prompt's length."""
        import torch

        model, _ = self._loaded
        encoded = self._encode(texts)
        # Positions count from each prompt's first real token, as generate() does, so that a left-padded
        # row scores exactly as it would alone.
        positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = model(**encoded, position_ids=positions).logits[:, -1, :].float()
        scores: list[dict[str, float]] = []
        for row, letters in zip(logits, letter_sets, strict=True):
            best = torch.stack([row[self._letter_ids(letter)].max() for letter in letters])
            scores.append(dict(zip(letters, torch.softmax(best, dim=0).tolist(), strict=True)))
        return scores, encoded["attention_mask"].sum(dim=1).tolist()

    def _free(self, texts: list[str], request: Request) -> list[tuple[str, int, int]]:
        """Decode freely: (text, prompt tokens, completion tokens) per prompt."""
        import torch
        from transformers import GenerationConfig

        model, tokenizer = self._loaded
        encoded = self._encode(texts)
        # A fresh config, so that a model's own sampling defaults never override temperature 0.
        config = GenerationConfig(max_new_tokens=request.max_tokens, do_sample=request.temperature > 0,
                                  pad_token_id=tokenizer.pad_token_id,
                                  eos_token_id=model.generation_config.eos_token_id or tokenizer.eos_token_id)
        if request.temperature > 0:
            config.temperature, config.top_p, config.top_k = request.temperature, 1.0, 0
        torch.manual_seed(request.seed)
        with torch.inference_mode():
            output = model.generate(**encoded, generation_config=config)
        new = output[:, encoded["input_ids"].shape[1]:]
        stops = {tokenizer.pad_token_id, tokenizer.eos_token_id} - {None}
        results: list[tuple[str, int, int]] = []
        for prompt_mask, tokens in zip(encoded["attention_mask"], new.tolist(), strict=True):
            length = next((i + 1 for i, t in enumerate(tokens) if t in stops), len(tokens))
            text = str(tokenizer.decode(tokens[:length], skip_special_tokens=True))
            results.append((text, int(prompt_mask.sum()), length))
        return results

    def generate(self, requests: list[Request]) -> list[Generation]:
        """Batches of ``batch_size``: letter scoring for choice requests, ``generate`` for the rest."""
        groups: dict[tuple[bool, bool, int, float, int], list[int]] = {}
        for index, request in enumerate(requests):
            key = (request.choices is not None, request.schema is not None, request.max_tokens,
                   request.temperature, request.seed)
            groups.setdefault(key, []).append(index)
        results: dict[int, Generation] = {}
        size = self.params.batch_size
        for indices in groups.values():
            for start in range(0, len(indices), size):
                chunk = indices[start:start + size]
                results.update(zip(chunk, self._run_chunk([requests[i] for i in chunk]), strict=True))
        return [results[index] for index in range(len(requests))]

    def _run_chunk(self, chunk: list[Request]) -> list[Generation]:
        texts = [self._text(r.prompt) for r in chunk]
        if chunk[0].choices is not None:
            # A chunk shares one key (see ``generate``), so every request in it has choices.
            scores, lengths = self.score_letters(texts, [r.choices or () for r in chunk])
            return [Generation(_best(s), s, n, 1) for s, n in zip(scores, lengths, strict=True)]
        generations = [Generation(text, {}, n_prompt, n_new) for text, n_prompt, n_new in self._free(texts, chunk[0])]
        if chunk[0].schema is not None:
            self._decode_answer_choice(texts, chunk, generations)
        return generations

    def _decode_answer_choice(self, texts: list[str], chunk: list[Request], generations: list[Generation]) -> None:
        """Where free reasoning named no valid option, decode the letter, restricted to the options, after a cue."""
        letters = [tuple((r.schema or {})["properties"]["answer_choice"]["enum"]) for r in chunk]
        pending = [i for i, g in enumerate(generations) if parse_choice(g.text, letters[i]) == UNPARSED]
        if not pending:
            return
        reasoning = {i: generations[i].text.split('"answer_choice"')[0].rstrip(' ,"') for i in pending}
        scores, _ = self.score_letters([texts[i] + reasoning[i] + ANSWER_CUE for i in pending],
                                       [letters[i] for i in pending])
        for i, letter_scores in zip(pending, scores, strict=True):
            letter = _best(letter_scores)
            old = generations[i]
            generations[i] = Generation(f'{reasoning[i]}{ANSWER_CUE}{letter}"}}', letter_scores, old.prompt_tokens,
                                        old.completion_tokens + 1)

    def backend_provenance(self) -> dict[str, Any]:
        """Model directory and hash, hardware, device, dtype and decoding settings."""
        return {"model_dir": str(self.model_path), "model_sha256": model_dir_sha256(self.model_path),
                "hardware": hardware(),
                "determinism": {"device": self.device, "dtype": self.dtype_name, "seed": self.params.seed,
                                "temperature": self.params.temperature, "batch_size": self.params.batch_size,
                                "greedy": self.params.temperature == 0}}


def _best(scores: dict[str, float]) -> str:
    """The highest-scoring letter (the first of equals, in the dict's order)."""
    return max(scores, key=scores.__getitem__)
