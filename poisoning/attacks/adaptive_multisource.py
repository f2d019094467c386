"""Adaptive attack on source caps and source allowlists: each passage claims its own source (`adaptive-multisource`).

``source-cap`` (``defenses/source_cap.py``) keeps at most ``max_per_source`` passages per value of the metadata
``field``, best ranked first; ``provenance`` (``defenses/provenance.py``) keeps only passages whose ``source`` is
in ``trusted_sources``. Both read a claim the passage makes about itself, and both parameters are public. The
attacker spreads its N passages of one question over distinct values of the capped field, never more than
``max_per_source`` to one value; when an allowlist is in the chain too, the values come from the allowlist
(with a reference and date in the corpus's own format, as ``provenance-spoof`` writes them), otherwise from
distinct web publishers. A Sybil attack on a per-source quota: the cap assumes a source name is an identity.
"""

from __future__ import annotations

import random

from ragpoison.poisoning.attacks._adaptive import AdaptiveAttack, AttackerView, faced, public_params
from ragpoison.poisoning.attacks.provenance_spoof import date_range, reference_format
from ragpoison.rag.registry import ATTACKS

_PUBLISHERS = ("health-answers", "medfacts-daily", "clinic-notes", "wellness-forum", "care-guide", "med-digest",
               "doctor-notes", "pharm-brief", "nurse-desk", "ward-round", "er-notes", "rx-review")


@ATTACKS.register("adaptive-multisource")
class AdaptiveMultisource(AdaptiveAttack):
    """Adaptive vs source-cap (and provenance): corpus-register poison spread over distinct claimed sources."""

    aims_at = frozenset({"source-cap", "provenance"})

    def prepare(self, view: AttackerView) -> None:
        """Read the cap and the allowlist, if the chain holds them."""
        self.field, self.cap = "source", 2
        if (spec := faced(view.context, "source-cap")) is not None:
            p = public_params(spec)
            self.field, self.cap = p.field, p.max_per_source
        self.allowlist: tuple[str, ...] = ()
        if (spec := faced(view.context, "provenance")) is not None:
            # Distinct spellings only: "textbook" and "textbooks" are two values to the cap.
            self.allowlist = tuple(dict.fromkeys(s.lower() for s in public_params(spec).trusted_sources))
        self._dates = date_range(view.context)
        self._taken = {str(p.get("reference", "")) for p in view.context.corpus.values()}

    def metadata(self, view: AttackerView, qid: str, index: int, rng: random.Random, slug: str) -> dict[str, str]:
        """Passage ``index`` claims value ``index // cap`` of the pool, so no value carries more than the cap."""
        offset = int.from_bytes(qid.encode(), "little") % 997
        if self.allowlist:
            source = self.allowlist[(offset + index // self.cap) % len(self.allowlist)]
            prefix, digits, low, high = reference_format(view.context, source)
            reference = f"{prefix}{rng.randint(low, high):0{digits}d}"
            while reference in self._taken:
                reference = f"{prefix}{rng.randint(low, high):0{digits}d}"
            self._taken.add(reference)
            first, last = self._dates
            published = first + (last - first) * rng.random()
            meta = {"source": source, "published": published.isoformat(), "reference": reference}
        else:
            host = _PUBLISHERS[(offset + index // self.cap) % len(_PUBLISHERS)]
            meta = {"source": f"{host}.example", "published": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "reference": f"https://{host}.example/{slug}"}
        if self.field != "source":
            meta[self.field] = meta["source"]
        return meta
