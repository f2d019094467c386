"""Seeded, deterministic paraphrases of clinical questions: the query as another user might word it.

The ``paraphrase`` retrieval mode embeds a paraphrase instead of the question (the reader still reads the
question as asked), so that an attack's passages are measured against wording the attacker did not see.
The rewrite is rule-based and meaning-preserving: general clinical and question-phrasing synonyms, each
applied with a seeded coin flip, and a seeded reordering of a "context; question?" stem. Nothing in it is
specific to one corpus.
"""

from __future__ import annotations

import random
import re

# Pairs of interchangeable phrasings; each is used in both directions unless marked one-way below.
_SYNONYMS = (
    ("presents with", "comes in with"), ("presents", "comes in"), ("develops", "goes on to have"),
    ("should be given", "is indicated"), ("should be started", "ought to be initiated"),
    ("should be", "ought to be"), ("is recommended", "is advised"), ("recommended", "advised"),
    ("most appropriate", "best"), ("treatment", "therapy"), ("first-line", "initial"), ("drug", "medication"),
    ("antidote", "reversal agent"), ("elevated", "raised"), ("severe", "serious"), ("after", "following"),
    ("taking", "on"), ("intravenous", "IV"), ("intramuscular", "IM"), ("myocardial infarction", "heart attack"),
    ("hypertension", "high blood pressure"), ("renal", "kidney"), ("hepatic", "liver"),
    ("pregnant", "expecting"), ("woman", "female patient"), ("man", "male patient"), ("child", "young patient"),
    ("emergency department", "ER"), ("test", "investigation"), ("immediately", "right away"),
    ("promptly", "without delay"), ("management", "care"), ("symptoms", "complaints"), ("ingestion", "intake"),
    ("level", "concentration"), ("agent", "medicine"), ("diagnosis", "diagnostic label"),
    ("patient", "individual"), ("indicated", "called for"), ("preferred", "favoured"), ("given", "administered"),
)
_ONE_WAY = {"on", "care", "best", "initial", "intake", "medicine", "individual", "administered", "favoured",
            "called for", "following", "concentration", "therapy", "ER", "IV", "IM", "kidney", "liver"}
_TABLE = {a.lower(): b for a, b in _SYNONYMS} | {b.lower(): a for a, b in _SYNONYMS if b not in _ONE_WAY}
# An article before a swapped phrase is re-chosen for the new phrase ("an elevated" -> "a raised").
_PATTERN = re.compile(r"\b(?:(?P<article>an?) )?(?P<phrase>"
                      + "|".join(re.escape(k) for k in sorted(_TABLE, key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)
_STEM = re.compile(r"^(?P<context>.+?)\s*[;:]\s*(?P<ask>(?:which|what|how|when|where|who)\b.+?)\s*\?\s*$",
                   re.IGNORECASE | re.DOTALL)


def _match_case(source: str, replacement: str) -> str:
    if source[:1].isupper() and replacement[:1].islower():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _swap_words(text: str, rng: random.Random, rate: float) -> str:
    def swap(match: re.Match) -> str:
        article, word = match.group("article"), match.group("phrase")
        if rng.random() >= rate:
            return match.group(0)
        new = _match_case(word, _TABLE[word.lower()])
        if article is None:
            return new
        vowel = new[:1].lower() in "aeiou" or (new.isupper() and new[:1] in "AEFHILMNORSX")
        return f"{_match_case(article, 'an' if vowel else 'a')} {new}"

    return _PATTERN.sub(swap, text)


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    acronym = len(first) > 1 and (first.isupper() or any(c.isupper() for c in first[1:]))
    return text if acronym else text[:1].lower() + text[1:]


def _reorder(text: str, rng: random.Random) -> str:
    match = _STEM.match(text)
    if not match:
        return text
    context, ask = match.group("context").rstrip(" .;,"), match.group("ask")
    ask = ask[:1].upper() + ask[1:]
    style = rng.randrange(3)
    if style == 0:
        return f"{ask}, given that {_lower_first(context)}?"
    if style == 1:
        return f"{ask}? {context}."
    return f"{context}. {ask}?"


def paraphrase(text: str, rng: random.Random, rate: float = 0.6) -> str:
    """A meaning-preserving rewording of a question; the same rng state gives the same paraphrase."""
    rewritten = _reorder(_swap_words(text, rng, rate), rng)
    if rewritten == text:
        rewritten = _swap_words(text, random.Random(rng.random()), 1.0)
    return rewritten if rewritten != text else f"Clinical question: {text}"


def paraphrase_queries(queries: dict[str, str], seed: int) -> dict[str, str]:
    """Each query's paraphrase, seeded by the experiment seed and the question id."""
    return {qid: paraphrase(text, random.Random(f"{seed}:{qid}:paraphrase")) for qid, text in queries.items()}
