"""Deterministic extractive reader: picks the option best supported by the retrieved passages."""

from __future__ import annotations

import hashlib
import math

import numpy as np
from pydantic import Field
from ragpoison.rag.embedders.base import Embedder
from ragpoison.rag.generators._frequencies import document_frequencies
from ragpoison.rag.generators._text import is_negated, polar_tokens, sentences, tokens
from ragpoison.rag.generators.base import Generator, ReaderInput
from ragpoison.rag.plugin import Params
from ragpoison.rag.registry import GENERATORS
from ragpoison.rag.types import Answer, CorpusView, Question


class ExtractiveParams(Params):
    """Parameters of the extractive reader."""

    # Support a sentence lends an option even when it shares no word with the question.
    base_relevance: float = 0.25
    # Weight of a passage by rank r (0-based): 1 / (1 + rank_decay * r).
    rank_decay: float = 0.0
    # Read negation: an option named under a negation cue ("X is not recommended") counts against it.
    negation: bool = True
    # Weight of semantic support (the option's best embedding similarity to a context sentence) against
    # lexical support, both standardised over the options; 0 reads words only.
    semantic_weight: float = Field(1.0, ge=0)


@GENERATORS.register("extractive")
class ExtractiveReader(Generator):
    """CPU reader scoring each option by IDF-weighted co-occurrence with the question, sentence by sentence."""

    Params = ExtractiveParams
    params: ExtractiveParams

    def __init__(self, params: ExtractiveParams | None = None) -> None:
        super().__init__(params)
        self._idf: dict[str, float] = {}
        self._default_idf = 1.0
        self._embedder: Embedder | None = None

    def use_embedder(self, embedder: Embedder) -> None:
        """Read semantic support with the stack's embedder (shared model and cache)."""
        self._embedder = embedder

    def fit(self, corpus: CorpusView) -> None:
        """Learn inverse document frequencies from the clean corpus."""
        n = len(corpus)
        df = document_frequencies((f"{p.get('title', '')} {p['text']}" for p in corpus.values()), n)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._default_idf = math.log((n + 1) / 0.5)

    def _weight(self, token: str) -> float:
        return self._idf.get(token, self._default_idf)

    def answer(self, batch: list[ReaderInput]) -> list[Answer]:
        """Answer each question; the batch's sentences are embedded together for semantic support."""
        lexical = [self._lexical_scores(item) for item in batch]
        semantic = self._semantic_scores(batch)
        answers: list[Answer] = []
        for item, lex, sem in zip(batch, lexical, semantic, strict=True):
            scores = _standardised(lex)
            if sem is not None:
                scores = {x: v + self.params.semantic_weight * w for (x, v), w in
                          zip(scores.items(), _standardised(sem).values(), strict=True)}
            answers.append(_choose(item.question, scores))
        return answers

    def _semantic_scores(self, batch: list[ReaderInput]) -> list[dict[str, float] | None]:
        """Each option's best cosine similarity to a sentence of its question's passages (None: not read)."""
        if self._embedder is None or not self.params.semantic_weight:
            return [None] * len(batch)
        per_item = [[s for p in item.passages for s in sentences(p["text"])] for item in batch]
        texts = sorted({t for item, sents in zip(batch, per_item, strict=True)
                        for t in [*sents, *item.question.options.values()]})
        if not texts:
            return [None] * len(batch)
        row = {t: i for i, t in enumerate(texts)}
        vectors = self._embedder.encode(texts)
        out: list[dict[str, float] | None] = []
        for item, sents in zip(batch, per_item, strict=True):
            if not sents:
                out.append(None)
                continue
            context = vectors[[row[t] for t in sents]]
            out.append({x: float(np.max(context @ vectors[row[o]])) for x, o in item.question.options.items()})
        return out

    def _lexical_scores(self, item: ReaderInput) -> dict[str, float]:
        question = item.question
        q_tokens = set(tokens(question.question))
        # A question that asks what to avoid ("which drug is contraindicated") is answered by denials, so it
        # reads polarity the other way round: "asks_denial".
        asks_denial = self.params.negation and is_negated(_ask(question.question))
        option_tokens = {letter: set(tokens(text)) for letter, text in question.options.items()}
        distinct: dict[str, set[str]] = {}
        for letter, toks in option_tokens.items():
            others: set[str] = set().union(*(t for other, t in option_tokens.items() if other != letter))
            distinct[letter] = (toks - others) or toks
        # An option may itself deny something ("No prophylaxis", "No, it did not improve symptoms"): the
        # passage supports it where the two agree in polarity.
        denied_in_option = {letter: polar_tokens(text)[1] if self.params.negation else set()
                            for letter, text in question.options.items()}
        scores = dict.fromkeys(question.options, 0.0)
        for rank, passage in enumerate(item.passages):
            weight = 1.0 / (1.0 + self.params.rank_decay * rank)
            support = self._passage_support(q_tokens, distinct, denied_in_option, passage, asks_denial)
            for letter, value in support.items():
                scores[letter] += weight * value
        return scores

    def _passage_support(self, q_tokens: set[str], distinct: dict[str, set[str]],
                         denied_in_option: dict[str, set[str]], passage: dict[str, str], asks_denial: bool,
                         ) -> dict[str, float]:
        """Best affirmed support minus best denied support of each option in one passage."""
        title = set(tokens(passage.get("title", "")))
        texts = sentences(passage["text"])
        sentence_tokens = [set(tokens(s)) for s in texts]
        best = {letter: [0.0, 0.0] for letter in distinct}  # [affirmed, denied]
        for i, text in enumerate(texts):
            # A claim's relevance is judged in its local context: the sentence, its neighbours
            # and the passage title, as a reader resolves "it" or "this drug" across sentences.
            window: set[str] = set().union(*sentence_tokens[max(0, i - 1): i + 2], title)
            relevance = self.params.base_relevance + self._overlap(q_tokens, window)
            affirmed, denied = polar_tokens(text) if self.params.negation else (sentence_tokens[i], set())
            for letter, toks in distinct.items():
                claimed = toks - denied_in_option[letter]
                if asks_denial:
                    # A denial answers such a question; a plain mention may too ("the one to avoid is X").
                    pro = self._overlap(toks, denied & claimed) + 0.5 * self._overlap(toks, affirmed & claimed)
                    con = 0.0
                else:
                    pro = self._overlap(toks, (affirmed & claimed) | (denied & denied_in_option[letter]))
                    # Only a denial of what the option claims counts against it: plain mentions of what an
                    # option denies are everywhere and say nothing about it.
                    con = self._overlap(toks, denied & claimed)
                best[letter][0] = max(best[letter][0], pro * relevance)
                best[letter][1] = max(best[letter][1], con * relevance)
        return {letter: pro - con for letter, (pro, con) in best.items()}

    def _overlap(self, wanted: set[str], present: set[str]) -> float:
        total = sum(self._weight(t) for t in wanted)
        if not total:
            return 0.0
        return sum(self._weight(t) for t in wanted & present) / total


def _ask(question: str) -> str:
    """The part of a question that asks (from its last 'which'/'what'), where a negation changes the ask."""
    lowered = question.lower()
    cut = max(lowered.rfind("which"), lowered.rfind("what"))
    return question[cut:] if cut >= 0 else question



def _standardised(scores: dict[str, float]) -> dict[str, float]:
    """Scores shifted to mean 0 and scaled to unit spread over the options (all 0 when they are equal)."""
    values = np.array(list(scores.values()), dtype=np.float64)
    spread = values.std()
    if spread < 1e-9:
        return dict.fromkeys(scores, 0.0)
    return {x: float(v) for x, v in zip(scores, (values - values.mean()) / spread, strict=True)}


def _choose(question: Question, scores: dict[str, float]) -> Answer:
    """The best-scoring option.

    Ties (no support at all included) break by a hash of the question id, not by letter order, so an
    unsupported reader guesses uniformly rather than favouring 'A'.
    """
    top = max(scores.values())
    tied = [letter for letter, value in scores.items() if math.isclose(value, top, abs_tol=1e-9)]
    letter = min(tied, key=lambda x: hashlib.sha256(f"{question.qid}:{x}".encode()).hexdigest())
    return Answer(letter=letter, scores=scores, text=question.options[letter])
