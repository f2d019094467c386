"""A causal language model from a local directory (transformers), scoring text by token perplexity."""

from __future__ import annotations

import math
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ragpoison.poisoning.lm.base import PerplexityScorer
from ragpoison.rag.errors import InputError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class CausalLMScorer(PerplexityScorer):
    """Perplexity under a pre-trained causal LM loaded offline from a local directory."""

    def __init__(self, model_dir: str | Path, *, device: str = "cpu", max_length: int = 512) -> None:
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise InputError("not a local transformers model directory (no config.json)", path=path,
                             field="defenses.perplexity.params.model")
        self.path = path.resolve()
        self.device = device
        self.max_length = max_length

    @cached_property
    def _model(self) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        model = AutoModelForCausalLM.from_pretrained(str(self.path))
        # transformers declares PreTrainedModel.to with functools.wraps(nn.Module.to): mypy sees it unbound.
        model = model.to(self.device)  # type: ignore[arg-type]  # third-party typing, not our call
        model.eval()
        return tokenizer, model

    def perplexity(self, texts: list[str]) -> list[float]:
        """The exponential of the model's mean token cross-entropy, one text at a time (inf below two tokens)."""
        import torch

        tokenizer, model = self._model
        scores = []
        with torch.no_grad():
            for text in texts:
                encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=self.max_length)
                ids = encoded["input_ids"].to(self.device)
                if ids.shape[1] < 2:
                    scores.append(math.inf)
                    continue
                loss = model(input_ids=ids, labels=ids).loss
                scores.append(math.exp(float(loss)))
        return scores
