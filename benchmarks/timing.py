"""Wall-clock and CPU seconds of the steps of a measurement."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Stopwatch:
    """Records wall-clock and process CPU seconds (all threads) per named step."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def time(self, name: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` and record its seconds under ``name``."""
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        self.wall[name] = time.perf_counter() - wall
        self.cpu[name] = time.process_time() - cpu
        return value
