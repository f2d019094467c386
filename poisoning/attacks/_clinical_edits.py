"""Clinical misinformation edits of passage text: answer swapped, dose scaled, contraindication or negation flipped.

Each function takes a passage's text and returns the edited text, or None when the edit does not apply, so
that an attack only ever records an edit that changed something a clinician would act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Literal

Operation = Literal["substitute", "dose", "contraindication", "negation"]
SUBSTITUTE: Final = "substitute"
DOSE: Final = "dose"
CONTRAINDICATION: Final = "contraindication"
NEGATION: Final = "negation"
OPERATIONS: tuple[Operation, ...] = (SUBSTITUTE, DOSE, CONTRAINDICATION, NEGATION)

# An amount given to a patient: a number or range with a mass or unit, per kg or per time at most. Lab values
# and concentrations (mg/dL, mEq/L, mg/mL) do not match: scaling those would not change a dose.
_DOSE = re.compile(
    r"(?<![\w.])(?P<a>\d+(?:\.\d+)?)(?:(?P<sep>\s*(?:to|-|–)\s*)(?P<b>\d+(?:\.\d+)?))?\s?"
    r"(?P<unit>mg|mcg|g|units?|IU|mEq|mmol)(?P<per>/kg(?:/(?:h|hr|hour|day|min))?|/(?:h|hr|hour|day|min))?"
    r"(?![\w/])")
_CONTRA = (  # (pattern, replacement): warnings become endorsements and endorsements warnings
    (r"\bis contraindicated\b", "is recommended"), (r"\bare contraindicated\b", "are recommended"),
    (r"\bcontraindicated\b", "recommended"), (r"\bshould not be used\b", "should be used"),
    (r"\bshould be avoided\b", "should be preferred"), (r"\bmust not be (given|used)\b", r"can safely be \1"),
    (r"\bis safe\b", "is contraindicated"), (r"\bare safe\b", "are contraindicated"),
    (r"\bis unsafe\b", "is safe"),
)
_NEGATION = (  # a negation removed, or, failing that, one added to a recommendation
    (r"\bshould not\b", "should"), (r"\bdoes not\b", "does"), (r"\bdo not\b", "do"), (r"\bis not\b", "is"),
    (r"\bare not\b", "are"), (r"\bcannot\b", "can"), (r"\bmust not\b", "must"), (r"\bnever\b", "always"),
    (r"\bno longer\b", "still"),
)
_NEGATE = ((r"\bshould be\b", "should not be"), (r"\bis recommended\b", "is not recommended"),
           (r"\bis indicated\b", "is not indicated"), (r"\bis effective\b", "is not effective"),
           (r"\bimproves\b", "does not improve"), (r"\breduces\b", "does not reduce"), (r"\bcan be\b", "cannot be"))


def _bounded(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", re.IGNORECASE)


def _in_case_of(found: str, replacement: str) -> str:
    """Write ``replacement`` in the case of the text it replaces (a sentence start stays capitalised)."""
    first = replacement.split(" ", 1)[0]
    keeps_case = len(first) > 1 and (first.isupper() or any(c.isupper() for c in first[1:]))
    if found[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement if keeps_case else replacement[:1].lower() + replacement[1:]


def _written_in_case(replacement: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement writing ``replacement`` in the case of each match."""

    def replace(match: re.Match[str]) -> str:
        return _in_case_of(match.group(0), replacement)

    return replace


def _expanded_in_case(template: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement expanding ``template`` (group references) in the case of each match."""

    def replace(match: re.Match[str]) -> str:
        return _in_case_of(match.group(0), match.expand(template))

    return replace


def answer_cores(gold: str, target: str) -> list[tuple[str, str]]:
    """(what to find, what to write) pairs: the whole answers, then the words where they differ.

    "4 hours after ingestion" against "1 hour after ingestion" also gives ("4 hours", "1 hour"), so a passage
    that says "drawn 4 hours after an acute ingestion" can still be made to assert the target.
    """
    pairs = [(gold, target)]
    g, t = gold.split(), target.split()
    start = 0
    while start < min(len(g), len(t)) and g[start].lower() == t[start].lower():
        start += 1
    end = 0
    while end < min(len(g), len(t)) - start and g[-1 - end].lower() == t[-1 - end].lower():
        end += 1
    core_g, core_t = " ".join(g[start:len(g) - end]), " ".join(t[start:len(t) - end])
    # A lone short word ("oral") would be replaced everywhere it occurs, not only where it is the answer.
    if core_g and core_t and (start or end) and (len(core_g.split()) > 1 or len(core_g) >= 5):
        pairs.append((core_g, core_t))
    return pairs


def substitute(text: str, gold: str, target: str) -> str | None:
    """Every mention of the correct answer replaced by the target (drug substituted, first-line agent swapped)."""
    for find, write in answer_cores(gold, target):
        pattern = _bounded(find)
        if pattern.search(text):
            return pattern.sub(_written_in_case(write), text)
    return None


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _scaled(match: re.Match[str], factor: float) -> str:
    unit = match.group("unit")
    values = [float(match.group("a"))] + ([float(match.group("b"))] if match.group("b") else [])
    values = [v * factor for v in values]
    # Keep the unit readable and the amount the same: 1500 mg is written 1.5 g, 0.5 g is written 500 mg.
    if unit == "mg" and max(values) >= 1000:
        unit, values = "g", [v / 1000 for v in values]
    elif unit == "mcg" and max(values) >= 1000:
        unit, values = "mg", [v / 1000 for v in values]
    elif unit == "g" and max(values) < 1:
        unit, values = "mg", [v * 1000 for v in values]
    amount = _number(values[0]) + (f"{match.group('sep')}{_number(values[1])}" if len(values) > 1 else "")
    return f"{amount} {unit}{match.group('per') or ''}"


def scale_doses(text: str, factor: float) -> str | None:
    """Every dose in the text multiplied by ``factor`` (10 or 0.1); ranges scale at both ends."""
    edited = _DOSE.sub(lambda m: _scaled(m, factor), text)
    return edited if edited != text else None


def _first_rule(text: str, rules: tuple[tuple[str, str], ...]) -> str | None:
    for pattern, replacement in rules:
        compiled = re.compile(pattern, re.IGNORECASE)
        if compiled.search(text):
            return compiled.sub(_expanded_in_case(replacement), text, count=1)
    return None


def flip_contraindication(text: str) -> str | None:
    """The first contraindication turned into a recommendation, or the first 'safe' into 'contraindicated'."""
    return _first_rule(text, _CONTRA)


def flip_negation(text: str) -> str | None:
    """The first negation removed ('should not' -> 'should'), or else a recommendation negated."""
    return _first_rule(text, _NEGATION) or _first_rule(text, _NEGATE)
