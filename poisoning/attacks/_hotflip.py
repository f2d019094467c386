"""HotFlip (Ebrahimi et al., 2018) over a sentence-transformers embedder: gradient-guided token flips.

White-box attacks (PoisonedRAG white-box, Zhong et al.'s corpus poisoning, BadRAG's contrastive passages)
share one loop: a sequence ``[CLS] prefix suffix [SEP]`` whose prefix tokens are free; each iteration takes
the gradient of the objective with respect to the input token embeddings, picks one prefix position per
sequence (seeded), ranks every vocabulary token by the first-order gain of putting it there, evaluates the
best ``candidates`` exactly with the real model and keeps the best one if it improves the objective.

The objective of a sequence with embedding e (L2-normalised, as the retriever indexes it) is
``e . mean(positive) - negative_weight * e . mean(negative)``: the mean cosine similarity to the queries it
should be retrieved for, minus that to the queries it should not.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from ragpoison.poisoning._contracts import TokenGradientEmbedder, VictimEmbedder
from ragpoison.rag.errors import InputError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import Tensor, nn
    from transformers import PreTrainedModel


@dataclass
class FlipProblem:
    """One sequence to optimise: free ``prefix`` token ids, a fixed ``suffix``, and the queries it targets."""

    prefix: list[int]
    suffix: list[int]
    positive: npt.NDArray[np.float32]
    negative: npt.NDArray[np.float32] | None = None


@runtime_checkable
class _TransformerModule(Protocol):
    """The first module of a sentence-transformers model that wraps a transformers model and its tokenizer."""

    @property
    def auto_model(self) -> PreTrainedModel:
        """The wrapped transformers model."""
        ...

    @property
    def tokenizer(self) -> Any:  # sentence-transformers types it as Any
        """The model's tokenizer."""
        ...


def _input_embeddings(model: SentenceTransformer) -> nn.Embedding | None:
    """The token-embedding layer HotFlip takes gradients at, when the model's first module has one."""
    from torch import nn

    first = model[0]
    if not isinstance(first, _TransformerModule):
        return None
    embeddings = first.auto_model.get_input_embeddings()
    return embeddings if isinstance(embeddings, nn.Embedding) else None


def gradient_embedder(embedder: VictimEmbedder | None, attack: str) -> TokenGradientEmbedder:
    """The victim's embedder if it gives white-box gradients, else a one-line InputError naming the attack.

    It must be a ``TokenGradientEmbedder`` whose model is a loaded SentenceTransformer over a transformers
    model with a token-embedding layer (HotFlip takes its gradients there).
    """
    if isinstance(embedder, TokenGradientEmbedder):
        from sentence_transformers import SentenceTransformer

        model = embedder.model
        if isinstance(model, SentenceTransformer) and _input_embeddings(model) is not None:
            return embedder
    raise InputError("needs the victim's sentence-transformers embedder (white-box gradients)",
                     field=f"attacks.{attack}")


def sentence_model(embedder: VictimEmbedder | None, attack: str) -> SentenceTransformer:
    """The victim embedder's loaded SentenceTransformer, or an InputError naming the attack."""
    return gradient_embedder(embedder, attack).model


@lru_cache(maxsize=4)
def _allowed_tokens(tokenizer: Any) -> tuple[bool, ...]:
    """Whole-word vocabulary entries that decode and re-tokenize to themselves (so the text keeps the ids)."""
    special = set(tokenizer.all_special_ids)
    allowed = []
    for token_id in range(len(tokenizer)):
        token = tokenizer.convert_ids_to_tokens(token_id)
        ok = (token_id not in special and not token.startswith("##") and not token.startswith("[")
              and token.isascii() and token.isprintable())
        if ok:
            ok = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(token)) == [token_id]
        allowed.append(ok)
    return tuple(allowed)


class HotFlip:
    """Runs HotFlip on a batch of sequences against one SentenceTransformer; deterministic for a seed."""

    def __init__(self, model: SentenceTransformer, *, candidates: int, seed: str, negative_weight: float = 1.0,
                 batch_size: int = 128) -> None:
        import torch

        embeddings = _input_embeddings(model)
        if embeddings is None:
            raise TypeError("HotFlip needs a sentence-transformers model over a transformers model's token embeddings")
        self.model = model
        self.tokenizer: Any = model.tokenizer
        self.embeddings: nn.Embedding = embeddings
        self.candidates = candidates
        self.negative_weight = negative_weight
        self.batch_size = batch_size
        self.rng = random.Random(seed)
        self.device = model.device
        self.allowed = torch.tensor(_allowed_tokens(self.tokenizer), dtype=torch.bool, device=self.device)
        self.max_length = int(model.max_seq_length or 512)

    def tokens(self, text: str) -> list[int]:
        """Token ids of text, without special tokens (at most the model's maximum length)."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False, truncation=True,
                                        max_length=self.max_length)["input_ids"]
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        text: str = self.tokenizer.decode(list(ids), clean_up_tokenization_spaces=True)
        return text.strip()

    def _sequence(self, prefix: list[int], suffix: list[int]) -> list[int]:
        room = self.max_length - 2 - len(prefix)
        return [self.tokenizer.cls_token_id, *prefix, *suffix[:max(0, room)], self.tokenizer.sep_token_id]

    def _batch(self, sequences: list[list[int]]) -> dict[str, Tensor]:
        import torch

        width = max(map(len, sequences))
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], dtype=torch.long)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences], dtype=torch.long)
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device),
                "token_type_ids": torch.zeros_like(ids, device=self.device)}

    def _embed(self, sequences: list[list[int]]) -> Tensor:
        import torch

        out: Tensor = self.model(self._batch(sequences))["sentence_embedding"]
        return torch.nn.functional.normalize(out, dim=-1)

    def _targets(self, problems: list[FlipProblem]) -> Tensor:
        import torch

        pos = torch.tensor(np.stack([p.positive.reshape(-1, p.positive.shape[-1]).mean(0) for p in problems]))
        neg = torch.zeros_like(pos)
        for i, p in enumerate(problems):
            if p.negative is not None and len(p.negative):
                neg[i] = torch.tensor(p.negative.reshape(-1, p.negative.shape[-1]).mean(0))
        return (pos - self.negative_weight * neg).to(self.device)

    def scores(self, problems: list[FlipProblem]) -> list[float]:
        """The objective of each problem's current sequence."""
        with self._eval_mode():
            return self._evaluate([self._sequence(p.prefix, p.suffix) for p in problems], self._targets(problems))

    @contextmanager
    def _eval_mode(self) -> Iterator[None]:
        # Restore each module's own flag afterwards: a loaded model mixes train and eval submodules, and
        # setting the top module back with train() would switch dropout on everywhere beneath it.
        modes = {module: module.training for module in self.model.modules()}
        # Only the input embeddings need a gradient: weight gradients would cost most of the backward pass
        # and leave .grad tensors on the victim's model.
        wanted = {param: param.requires_grad for param in self.model.parameters()}
        self.model.eval()
        self.model.requires_grad_(False)
        try:
            yield
        finally:
            for module, training in modes.items():
                module.training = training
            for param, requires in wanted.items():
                param.requires_grad_(requires)

    def optimise(self, problems: list[FlipProblem], iterations: int) -> list[float]:
        """Flip prefix tokens in place for ``iterations`` rounds; returns the final objectives."""
        import torch

        direction = self._targets(problems)
        with self._eval_mode():
            for _ in range(iterations):
                positions = [self._position(p.prefix) for p in problems]
                gains = self._gradient_gains(problems, direction, positions)
                trials: list[list[int]] = []
                owners: list[tuple[int, int]] = []
                for i, (problem, position) in enumerate(zip(problems, positions, strict=True)):
                    if position is None:
                        continue
                    current = problem.prefix[position]
                    ranked = torch.topk(gains[i], self.candidates + 1).indices.tolist()
                    options = [current] + [t for t in ranked if t != current][: self.candidates]
                    for token in options:
                        prefix = list(problem.prefix)
                        prefix[position] = token
                        trials.append(self._sequence(prefix, problem.suffix))
                        owners.append((i, token))
                values = self._evaluate(trials, direction[[i for i, _ in owners]]) if trials else []
                best: dict[int, tuple[float, int]] = {}
                for (i, token), value in zip(owners, values, strict=True):
                    # The current token comes first for each problem, so it wins ties: no change for nothing.
                    if i not in best or value > best[i][0]:
                        best[i] = (value, token)
                for i, (_, token) in best.items():
                    position = positions[i]
                    if position is not None:  # always: only problems with a position have trials
                        problems[i].prefix[position] = token
        return self.scores(problems)

    def _position(self, prefix: list[int]) -> int | None:
        """A seeded prefix position holding a whole one-token word (flipping a word piece would garble it)."""
        pieces = [self.tokenizer.convert_ids_to_tokens(t).startswith("##") for t in prefix] + [False]
        free = [i for i in range(len(prefix)) if not pieces[i] and not pieces[i + 1]]
        return self.rng.choice(free) if free else None

    def _gradient_gains(self, problems: list[FlipProblem], direction: Tensor,
                        positions: list[int | None]) -> Tensor:
        """First-order gain of each vocabulary token at each problem's chosen position."""
        import torch

        captured: dict[str, Tensor] = {}

        def hook(_module: nn.Module, _inputs: tuple[Any, ...], output: Tensor) -> Tensor:
            leaf = output.detach().requires_grad_(True)
            captured["embeds"] = leaf
            return leaf

        handle = self.embeddings.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                emb = self._embed([self._sequence(p.prefix, p.suffix) for p in problems])
                (emb * direction).sum().backward()
        finally:
            handle.remove()
        grad = captured["embeds"].grad
        if grad is None:
            raise RuntimeError("HotFlip's backward pass left no gradient on the input embeddings")
        rows = torch.stack([grad[i, 1 + (pos or 0)] for i, pos in enumerate(positions)])
        with torch.inference_mode():
            gains = rows @ self.embeddings.weight.detach().T
            return gains.masked_fill(~self.allowed[: gains.shape[1]], float("-inf"))

    def _evaluate(self, sequences: list[list[int]], direction: Tensor) -> list[float]:
        import torch

        values: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(sequences), self.batch_size):
                emb = self._embed(sequences[start:start + self.batch_size])
                values.extend((emb * direction[start:start + self.batch_size]).sum(-1).tolist())
        return values
