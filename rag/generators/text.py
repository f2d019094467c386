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
