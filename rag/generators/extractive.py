"""Deterministic extractive reader: picks the option best supported by the retrieved passages."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

from rag.generators.base import Generator, ReaderInput
from rag.generators.text import sentences, tokens
from rag.plugin import Params
from rag.registry import GENERATORS
from rag.types import Answer, Corpus


class ExtractiveParams(Params):
    """Parameters of the extractive reader."""

    # Support a sentence lends an option even when it shares no word with the question.
    base_relevance: float = 0.25
    # Weight of a passage by rank r (0-based): 1 / (1 + rank_decay * r).
    rank_decay: float = 0.0


@GENERATORS.register("extractive")
class ExtractiveReader(Generator):
    """CPU reader scoring each option by IDF-weighted co-occurrence with the question, sentence by sentence."""

    Params = ExtractiveParams

    def __init__(self, params: ExtractiveParams | None = None) -> None:
        super().__init__(params)
        self._idf: dict[str, float] = {}
        self._default_idf = 1.0

    def fit(self, corpus: Corpus) -> None:
        """Learn inverse document frequencies from the clean corpus."""
        df: Counter[str] = Counter()
        for passage in corpus.values():
            df.update(set(tokens(f"{passage.get('title', '')} {passage['text']}")))
        n = len(corpus)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._default_idf = math.log((n + 1) / 0.5)

    def _weight(self, token: str) -> float:
        return self._idf.get(token, self._default_idf)

    def answer(self, batch: list[ReaderInput]) -> list[Answer]:
        """Answer each question independently."""
        return [self._answer_one(item) for item in batch]

    def _answer_one(self, item: ReaderInput) -> Answer:
        question = item.question
        q_tokens = set(tokens(question.question))
        option_tokens = {letter: set(tokens(text)) for letter, text in question.options.items()}
        distinct = {}
        for letter, toks in option_tokens.items():
            others = set().union(*(t for other, t in option_tokens.items() if other != letter))
            distinct[letter] = (toks - others) or toks
        scores = dict.fromkeys(question.options, 0.0)
        for rank, passage in enumerate(item.passages):
            weight = 1.0 / (1.0 + self.params.rank_decay * rank)
            title = set(tokens(passage.get("title", "")))
            best = dict.fromkeys(question.options, 0.0)
            sentence_tokens = [set(tokens(s)) for s in sentences(passage["text"])]
            for i, s_tokens in enumerate(sentence_tokens):
                # A claim's relevance is judged in its local context: the sentence, its neighbours
                # and the passage title, as a reader resolves "it" or "this drug" across sentences.
                window = set().union(*sentence_tokens[max(0, i - 1): i + 2], title)
                relevance = self._overlap(q_tokens, window)
                for letter, toks in distinct.items():
                    coverage = self._overlap(toks, s_tokens)
                    if coverage:
                        best[letter] = max(best[letter], coverage * (self.params.base_relevance + relevance))
            for letter, value in best.items():
                scores[letter] += weight * value
        top = max(scores.values())
        tied = [letter for letter, value in scores.items() if math.isclose(value, top, abs_tol=1e-12)]
        # Ties (including no support at all) break by a hash of the question, not by letter order,
        # so an unsupported reader guesses uniformly rather than favouring 'A'.
        letter = min(tied, key=lambda x: hashlib.sha256(f"{question.qid}:{x}".encode()).hexdigest())
        return Answer(letter=letter, scores=scores, text=question.options[letter])

    def _overlap(self, wanted: set[str], present: set[str]) -> float:
        total = sum(self._weight(t) for t in wanted)
        if not total:
            return 0.0
        return sum(self._weight(t) for t in wanted & present) / total
