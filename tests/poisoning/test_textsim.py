"""Lexical similarity: bit-parallel LCS equals dynamic programming; MinHash estimates Jaccard."""

from hypothesis import given, settings
from hypothesis import strategies as st
from ragpoison.poisoning.textsim import MinHasher, lcs_length, rouge_l, shingles

tokens = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=40)


def lcs_by_table(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


@settings(max_examples=300, deadline=None)
@given(a=tokens, b=tokens)
def test_bit_parallel_lcs_equals_the_dynamic_programme(a, b):
    assert lcs_length(a, b) == lcs_by_table(a, b) == lcs_length(b, a)


def test_rouge_l_bounds():
    assert rouge_l("the same text", "The same, text!") == 1.0
    assert rouge_l("alpha beta", "gamma delta") == 0.0
    assert 0 < rouge_l("naloxone reverses opioid overdose", "naloxone treats an overdose") < 1


@settings(max_examples=40, deadline=None)
@given(words=st.lists(st.integers(0, 60), min_size=5, max_size=80), cut=st.integers(0, 80))
def test_minhash_estimates_the_jaccard_of_shingle_sets(words, cut):
    first = " ".join(f"w{w}" for w in words)
    second = " ".join(f"w{w}" for w in words[: cut] + [w + 100 for w in words[cut:]])
    hasher = MinHasher(num_perm=256, seed=1)
    a, b = shingles(first), shingles(second)
    true = len(a & b) / len(a | b)
    assert abs(MinHasher.jaccard(hasher.signature(first), hasher.signature(second)) - true) <= 0.15
