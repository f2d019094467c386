"""Errors that carry a one-line, user-facing message naming the file, line or key at fault."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input: a malformed file, an unknown key, a missing file or an unreachable server."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.field is not None:
            where = f"{where}: field '{self.field}'" if where else f"field '{self.field}'"
        return f"{where}: {self.detail}" if where else self.detail
