"""The clinical register writer: poisoned passages built from the corpus's own sentences about the question.

No "the answer is", no "choose X". For a target question the writer takes the clean passages the attacker
itself retrieves for the question, rewrites the sentences that name the correct answer so that they name the
target (and turns around any warning they gave against it), keeps topical sentences that name no option,
and adds one claim sentence: the question restated as a declarative clause asserting the target. Every
choice is drawn from a seeded ``random.Random``, so the same inputs always give the same passage.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ragpoison.poisoning.attacks import _clinical_edits as ce
from ragpoison.rag.generators._text import polar_tokens, sentences, tokens
from ragpoison.rag.types import Question

_WH = re.compile(r"\b(which|what|when|how)\b", re.IGNORECASE)
_AUX = r"is|are|was|were|should|would|will|can|could|does|do|did|has|have|must|may|might"
_WHICH_IS = re.compile(r"^(?:which|what) (?:is|are) (?:the )?(?P<rest>.+)$", re.IGNORECASE)
_WHICH_AUX = re.compile(rf"^(?:which|what) (?P<noun>[\w-]+(?: [\w-]+){{0,3}}?) (?P<verb>{_AUX})\b(?P<rest>.*)$",
                        re.IGNORECASE)
_WHICH_VERB = re.compile(r"^(?:which|what) (?P<noun>[\w-]+) (?P<rest>.+)$", re.IGNORECASE)
_WHEN = re.compile(rf"^when (?:{_AUX}) (?P<rest>.+)$", re.IGNORECASE)
_PREPOSITIONS = frozenset("after before in for during following with among on at from under".split())


@dataclass(frozen=True)
class Draft:
    """One candidate poisoned passage and how it was built (which clean passages lent it sentences)."""

    title: str
    text: str
    sources: tuple[str, ...]
    echo: bool


@dataclass(frozen=True)
class SentencePool:
    """The rewritten sentences available for one target question."""

    asserting: tuple[tuple[str, str], ...]  # (clean doc id, sentence now asserting the target)
    topical: tuple[tuple[str, str], ...]  # (clean doc id, sentence naming no option)
    titles: tuple[str, ...]  # clean titles, rewritten to name the target where they named the answer


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    keep = len(first) > 1 and (first.isupper() or any(c.isupper() for c in first[1:]))
    return text if keep else text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def split_question(question: str) -> tuple[str, str]:
    """(context, ask): the clinical vignette before the last wh-word, and the question it asks."""
    matches = list(_WH.finditer(question))
    if not matches:
        return "", question.strip().rstrip("?").strip()
    cut = matches[-1].start()
    return question[:cut].strip().rstrip(";,:").strip(), question[cut:].strip().rstrip("?").strip()


def claim_sentence(question: str, target: str, *, echo: bool) -> str:
    """The question restated as a declarative sentence asserting ``target``; ``echo`` keeps its vignette."""
    context, ask = split_question(question)
    if m := _WHICH_IS.match(ask):
        claim = f"the {m['rest']} is {target}"
    elif m := _WHICH_AUX.match(ask):
        claim = f"{target} is the {m['noun']} that {m['verb']}{m['rest']}"
    elif m := _WHEN.match(ask):
        claim = f"{_lower_first(m['rest'])} is {target}"
    elif m := _WHICH_VERB.match(ask):
        claim = f"{target} is the {m['noun']} that {m['rest']}"
    else:
        claim = f"{target} is the usual answer to {_lower_first(ask)}"
    if not echo or not context:
        return _upper_first(claim) + "."
    lead = context.split(" ", 1)[0].lower()
    opener = context if lead in _PREPOSITIONS else f"When {_lower_first(context)}"
    return f"{_upper_first(opener)}, {_lower_first(claim)}."


def _names(sentence: str, option: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", sentence, re.IGNORECASE) is not None


def _denies(sentence: str, option: str) -> bool:
    """True when the sentence names the option under a negation cue (the reader would count it against it)."""
    wanted = set(tokens(option))
    return bool(wanted) and wanted <= polar_tokens(sentence)[1]


def sentence_pool(question: Question, target: str, passages: Sequence[tuple[str, Mapping[str, str]]]) -> SentencePool:
    """Rewrite the sentences of the attacker's own top passages for one question.

    A sentence naming the correct answer has it replaced by the target (``_clinical_edits.substitute``); a
    sentence warning against the target has the warning turned around; a sentence still denying the target,
    or naming another option, is dropped, since the reader would count it for that option or against ours.
    """
    gold = question.options[question.answer]
    others = [text for letter, text in question.options.items() if text not in (gold, target)]
    # The words the reader credits to each rival option (its distinct words, as the extractive reader takes
    # them): a kept sentence must carry none of them, or it would lend that option support.
    option_tokens = {text: set(tokens(text)) for text in question.options.values()}
    rivals: set[str] = set()
    for text in [gold, *others]:
        rest = set().union(*(t for o, t in option_tokens.items() if o != text))
        rivals |= (option_tokens[text] - rest) or set()
    rivals -= option_tokens[target]
    asserting: list[tuple[str, str]] = []
    topical: list[tuple[str, str]] = []
    titles: list[str] = []
    seen: set[str] = set()
    for doc_id, passage in passages:
        title = str(passage.get("title", ""))
        titles.append(ce.substitute(title, gold, target) or title)
        for sentence in sentences(str(passage["text"])):
            rewritten = sentence
            swapped = ce.substitute(sentence, gold, target)
            if swapped is not None:
                rewritten = swapped
            if _names(rewritten, target) and _denies(rewritten, target):
                rewritten = ce.flip_contraindication(rewritten) or ce.flip_negation(rewritten) or rewritten
            if any(_names(rewritten, o) for o in others) or _names(rewritten, gold) or _denies(rewritten, target):
                continue
            if rivals & set(tokens(rewritten)):
                continue
            if rewritten in seen:
                continue
            seen.add(rewritten)
            (asserting if _names(rewritten, target) else topical).append((doc_id, rewritten))
    return SentencePool(tuple(asserting), tuple(topical), tuple(titles))


class ClinicalRegisterWriter:
    """Writes passages in the corpus's own register asserting a target option (deterministic for an rng)."""

    def __init__(self, *, asserting: tuple[int, int] = (1, 2), topical: tuple[int, int] = (1, 3)) -> None:
        self.asserting = asserting
        self.topical = topical

    def draft(self, question: Question, target: str, pool: SentencePool, rng: random.Random, *,
              echo: bool = True, rotate: int = 0, extra_topical: int = 0) -> Draft:
        """One passage: claim sentence, rewritten asserting sentences and topical sentences, in a seeded order.

        ``rotate`` shifts which clean passages lend sentences, so that the N passages of one question draw
        on different sources (diversity against near-duplicate filters); ``extra_topical`` pads the passage
        with further topical sentences, which pulls its embedding towards ordinary clean text.
        """
        claim = claim_sentence(question.question, target, echo=echo)
        asserting = _rotated(pool.asserting, rotate)
        topical = _rotated(pool.topical, rotate)
        n_assert = min(len(asserting), rng.randint(*self.asserting))
        n_topic = min(len(topical), rng.randint(*self.topical) + extra_topical)
        chosen_assert = _spread(asserting, n_assert, rng)
        chosen_topic = _spread(topical, n_topic, rng)
        body = [s for _, s in chosen_assert + chosen_topic]
        rng.shuffle(body)
        position = rng.randint(0, min(1, len(body)))
        parts = body[:position] + [claim] + body[position:]
        asserted_titles = [t for t in pool.titles if _names(t, target)]
        title = (asserted_titles or list(pool.titles) or [""])[rotate % max(1, len(asserted_titles or pool.titles))]
        sources = tuple(sorted({d for d, _ in chosen_assert + chosen_topic}))
        return Draft(title=title, text=" ".join(parts), sources=sources, echo=echo)


def _rotated(items: tuple[tuple[str, str], ...], shift: int) -> list[tuple[str, str]]:
    """Items grouped by source passage, the source order rotated by ``shift``."""
    order: list[str] = []
    for doc_id, _ in items:
        if doc_id not in order:
            order.append(doc_id)
    if not order:
        return []
    shift %= len(order)
    ranked = order[shift:] + order[:shift]
    return sorted(items, key=lambda item: ranked.index(item[0]))


def _spread(items: list[tuple[str, str]], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """``count`` items, at most one per source passage while sources last, earlier (rotated) sources first."""
    chosen: list[tuple[str, str]] = []
    used: set[str] = set()
    for doc_id, sentence in items:
        if len(chosen) >= count:
            break
        if doc_id not in used or len(used) >= len({d for d, _ in items}):
            chosen.append((doc_id, sentence))
            used.add(doc_id)
    rng.shuffle(chosen)
    return chosen
