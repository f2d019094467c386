"""Tokenisation shared by the lexical parts of the stack."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(])")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers him his how i if in into is it its itself just me more most my no nor not of off on once
only or other our out over own same she should so some such than that the their them then there these they
this those through to too under until up very was we were what when where which while who whom why will with
would you your yours following best most likely patient patients first which whose next appropriate
recommended management treatment therapy given use used using should
""".split())


def stem(token: str) -> str:
    """A light stemmer: drop a plural 's' and keep a 6-character prefix of long words."""
    if len(token) > 4 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return token[:6] if len(token) > 6 else token


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content tokens (stopwords removed)."""
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def sentences(text: str) -> list[str]:
    """Split prose into sentences."""
    return [s for s in _SENTENCE.split(text.strip()) if s]


# Negation in the style of NegEx (Chapman et al., 2001): a cue negates the words around it within its clause
# (up to NEGATION_WINDOW words either side); a forward-only cue negates the words after it up to the next
# comma. Clauses end at these words and marks.
NEGATION_WINDOW = 6
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?(?:\.[0-9]+)?|[,;:()]")
_CLAUSE_BREAKS = frozenset(";:()") | frozenset(
    "but however whereas while although though unless except because since yet".split())
_CLAUSE_CUES = frozenset(
    "not never cannot can't don't doesn't isn't aren't wasn't weren't won't shouldn't mustn't didn't "
    "contraindicated avoided ineffective discouraged".split())
_FORWARD_CUES = frozenset("no without neither nor avoid avoiding against".split())
_FORWARD_PAIRS = frozenset({("rather", "than"), ("instead", "of")})
_MARKERS = _CLAUSE_BREAKS | _CLAUSE_CUES | _FORWARD_CUES | {"rather", "instead"}


def _negation_marks(words: list[str]) -> list[bool]:
    """For each word, whether a negation cue's scope covers it."""
    negated = [False] * len(words)
    start = 0
    for end in [*(i for i, w in enumerate(words) if w in _CLAUSE_BREAKS), len(words)]:
        # Positions of the clause's words, commas left out of the window count.
        spoken = [i for i in range(start, end) if words[i] != ","]
        for n, i in enumerate(spoken):
            word, following = words[i], words[i + 1] if i + 1 < len(words) else ""
            if word in _CLAUSE_CUES:
                for j in spoken[max(0, n - NEGATION_WINDOW): n + NEGATION_WINDOW + 1]:
                    negated[j] = True
            elif word in _FORWARD_CUES or (word, following) in _FORWARD_PAIRS:
                for j in range(i + 1, min(end, i + 1 + NEGATION_WINDOW)):
                    if words[j] == ",":
                        break
                    negated[j] = True
        start = end + 1
    return negated


def polar_tokens(text: str) -> tuple[set[str], set[str]]:
    """Split a sentence's content tokens into (affirmed, negated) by NegEx-style cues and scope.

    A token that occurs both affirmed and negated counts as affirmed.
    """
    words = _WORD.findall(text.lower())
    affirmed: set[str] = set()
    denied: set[str] = set()
    for word, is_negated in zip(words, _negation_marks(words), strict=True):
        if _TOKEN.fullmatch(word) and word not in STOPWORDS and word not in _MARKERS:
            (denied if is_negated else affirmed).add(stem(word))
    return affirmed, denied - affirmed


def is_negated(text: str) -> bool:
    """True when any word of the text falls under a negation cue (e.g. 'which drug is NOT used')."""
    return bool(polar_tokens(text)[1]) or any(w in _CLAUSE_CUES for w in _WORD.findall(text.lower()))
