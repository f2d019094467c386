"""A word n-gram language model with interpolated Kneser-Ney smoothing, trained on the trusted corpus."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

from ragpoison.poisoning.lm.base import PerplexityScorer

_TOKEN = re.compile(r"[a-z]+|[0-9]+(?:\.[0-9]+)?|[^\sa-z0-9]")
BOS, EOS = "<s>", "</s>"
Ngram = tuple[str, ...]


def lm_tokens(text: str) -> list[str]:
    """Lower-cased words, numbers and punctuation marks (function words kept: fluency lives in them)."""
    return _TOKEN.findall(text.lower())


class NgramScorer(PerplexityScorer):
    """Interpolated Kneser-Ney n-gram model; unseen words fall back to a uniform floor over the vocabulary."""

    def __init__(self, order: int = 3) -> None:
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order = order
        self._counts: list[Counter[Ngram]] = []
        self._context_total: list[Counter[Ngram]] = []
        self._context_types: list[Counter[Ngram]] = []
        self._discount: list[float] = []
        self._vocab_size = 0

    def fit(self, texts: list[str]) -> None:
        """Count n-grams (raw at the top order, continuation counts below it) and estimate discounts."""
        n = self.order
        top: Counter[Ngram] = Counter()
        vocab: set[str] = set()
        for text in texts:
            tokens = [BOS] * (n - 1) + lm_tokens(text) + [EOS]
            vocab.update(tokens)
            for i in range(n - 1, len(tokens)):
                top[tuple(tokens[i - n + 1: i + 1])] += 1
        counts: list[Counter[Ngram]] = [Counter() for _ in range(n)]
        counts[n - 1] = top
        # A lower-order count is the number of distinct words seen before the n-gram (Kneser-Ney).
        for m in range(n - 1, 0, -1):
            for gram in counts[m]:
                counts[m - 1][gram[1:]] += 1
        self._counts = counts
        self._context_total = [Counter() for _ in range(n)]
        self._context_types = [Counter() for _ in range(n)]
        for m in range(n):
            for gram, count in counts[m].items():
                self._context_total[m][gram[:-1]] += count
                self._context_types[m][gram[:-1]] += 1
        self._discount = [_discount(counts[m]) for m in range(n)]
        self._vocab_size = len(vocab - {BOS})

    def _prob(self, context: tuple[str, ...], word: str) -> float:
        probability = 1.0 / (self._vocab_size + 1)  # order 0: uniform, one slot for unseen words
        for m in range(self.order):
            history = context[len(context) - m:] if m else ()
            total = self._context_total[m].get(history, 0)
            if not total:
                continue
            discount = self._discount[m]
            count = self._counts[m].get((*history, word), 0)
            backoff = discount * self._context_types[m][history] / total
            probability = max(count - discount, 0) / total + backoff * probability
        return probability

    def log_prob(self, text: str) -> tuple[float, int]:
        """Natural-log probability of a text and the number of predicted tokens."""
        if not self._counts:
            raise RuntimeError("the n-gram model must be fitted first")
        n = self.order
        tokens = [BOS] * (n - 1) + lm_tokens(text) + [EOS]
        total = sum(math.log(self._prob(tuple(tokens[i - n + 1: i]), tokens[i])) for i in range(n - 1, len(tokens)))
        return total, len(tokens) - (n - 1)

    def perplexity(self, texts: list[str]) -> list[float]:
        """The exponential of the mean negative log-probability per token (end of passage included)."""
        scores = []
        for text in texts:
            log_prob, count = self.log_prob(text)
            scores.append(math.exp(-log_prob / count))
        return scores


def _discount(counts: Counter[Ngram]) -> float:
    """Absolute discount D = n1 / (n1 + 2 n2) from the counts of n-grams seen once and twice."""
    freq: defaultdict[int, int] = defaultdict(int)
    for count in counts.values():
        if count <= 2:
            freq[count] += 1
    n1, n2 = freq[1], freq[2]
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75
