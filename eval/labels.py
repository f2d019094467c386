"""How cells are named for people: one poison-amount label and one attack label, shared by console, gate and report."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def poison_rate_of(row: Mapping[str, Any]) -> float | None:
    """A row's poison rate, or None when its amount is per target (NaN after a round trip through files)."""
    rate = row.get("poison_rate")
    return None if rate is None or (isinstance(rate, float) and math.isnan(rate)) else float(rate)


def amount_label(per_target: int, rate: float | None) -> str:
    """A poison amount as people write it: ``N=5`` passages per target question, ``rate=0.01`` of the corpus."""
    return f"rate={rate:g}" if rate is not None else f"N={per_target}"


def poison_amount(row: Mapping[str, Any]) -> str:
    """A cell's poison amount label, or '-' for the no-attack cell."""
    if row["attack"] == "none":
        return "-"
    return amount_label(int(row["poison_per_target"]), poison_rate_of(row))


def attack_label(row: Mapping[str, Any]) -> str:
    """A cell's attack for display: its name, with the params it was given (``name[key=value,...]``)."""
    params = row.get("attack_params")
    if not isinstance(params, str) or not params:
        return str(row["attack"])
    given = json.loads(params)
    return f"{row['attack']}[{','.join(f'{key}={json.dumps(value)}' for key, value in given.items())}]"
