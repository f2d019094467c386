"""Lexical similarity between passages: ROUGE-L (longest common subsequence) and MinHash over word shingles."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[a-z0-9]+")
# Universal hashing (a * x + b) mod p with the Mersenne prime 2**31 - 1: a * x stays below 2**62.
_PRIME = (1 << 31) - 1


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words, as ROUGE tokenises."""
    return _WORD.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, Allison-Dix/Hyyro)."""
    if not a or not b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    masks: dict[str, int] = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for token in a:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - bin(v).count("1")


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F1 between two texts (harmonic mean of LCS precision and recall over words)."""
    wa, wb = words(a), words(b)
    lcs = lcs_length(wa, wb)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(wb), lcs / len(wa)
    return 2 * precision * recall / (precision + recall)


def shingles(text: str, size: int = 3) -> set[str]:
    """Word n-gram shingles (the whole text as one shingle when it is shorter than ``size``)."""
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1)}


class MinHasher:
    """MinHash signatures whose agreement estimates the Jaccard similarity of two shingle sets."""

    def __init__(self, num_perm: int = 128, shingle_size: int = 3, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
        self._b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
        self.shingle_size = shingle_size

    def signature(self, text: str) -> npt.NDArray[np.uint64]:
        """The minimum of each of ``num_perm`` hash functions over the text's shingles."""
        items = shingles(text, self.shingle_size)
        if not items:
            return np.full(len(self._a), np.iinfo(np.uint64).max, dtype=np.uint64)
        base = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") % _PRIME
                         for s in sorted(items)], dtype=np.uint64)
        hashed = (base[:, None] * self._a + self._b) % np.uint64(_PRIME)
        return hashed.min(axis=0)

    @staticmethod
    def jaccard(first: npt.NDArray[np.uint64], second: npt.NDArray[np.uint64]) -> float:
        """Estimated Jaccard similarity: the fraction of hash functions whose minima agree."""
        return float(np.mean(first == second))
