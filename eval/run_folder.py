"""One run per results folder: an exclusive lock for the run's life, and no mixing of two configs' results.

The lock is ``DIR/.ragpoison.lock``, held with ``flock``: the kernel releases it when its holder dies, however it
dies, so a killed run never leaves a lock that blocks the next one (the pid it left in the file is reported as
taken over). The folder's identity is ``DIR/run.json``, naming the sweep (the hash of every expanded config)
whose results it holds; a run of another sweep into it refuses unless told to ``--overwrite``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ragpoison.eval.results import atomic_write
from ragpoison.rag.errors import InputError

LOCK_NAME = ".ragpoison.lock"
IDENTITY_NAME = "run.json"
# What a run writes into its folder; --overwrite clears these and nothing else of the user's.
RESULT_NAMES = ("summary.csv", "trials.parquet", "manifest.json", "report.html", IDENTITY_NAME)
RESULT_FOLDERS = ("cells",)


def sweep_hash(config_hashes: Sequence[str]) -> str:
    """One hash naming a sweep: its expanded configs' hashes, in order."""
    return hashlib.sha256(json.dumps(list(config_hashes)).encode()).hexdigest()[:16]


def _read_holder(path: Path) -> dict[str, object]:
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


@contextmanager
def run_lock(out: Path, say: Callable[[str], None] = lambda _msg: None) -> Iterator[None]:
    """Hold ``out``'s lock for the block; a second holder gets an InputError naming the first one's pid."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_holder(path)
            raise InputError(f"another ragpoison run (pid {holder.get('pid', '?')}) is writing to this folder; wait "
                             "for it to finish or choose another --out", path=out) from None
        # The previous holder may have unlinked the file between our open and our lock: lock the file on disk.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        stale = _read_holder(path)
        if stale.get("pid") not in (None, os.getpid()):
            say(f"took over the lock left by pid {stale['pid']}, which is no longer running")
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked: the next run locks a fresh file
        os.close(fd)


def holds_results(out: Path) -> bool:
    """True when the folder holds a run's results or finished cells."""
    cells = out / "cells"
    return any((out / name).exists() for name in RESULT_NAMES) or (cells.is_dir() and any(cells.glob("*.jsonl")))


def _identity_of(out: Path) -> str | None:
    """The sweep hash the folder's results belong to, or None when the folder does not say."""
    identity = _read_holder(out / IDENTITY_NAME)
    value = identity.get("sweep")
    return value if isinstance(value, str) else None


def prepare(out: Path, sweep: str, *, resume: bool, overwrite: bool) -> None:
    """Make ``out`` ready for a run of ``sweep`` (call while holding its lock); refuse to mix two sweeps.

    ``overwrite`` clears the previous results first; ``resume`` keeps them and needs them to be this sweep's; a
    plain run into a folder holding another sweep's results (or results that do not say whose they are) refuses.
    """
    if resume and overwrite:
        raise InputError("--resume keeps a folder's results and --overwrite clears them: give one", field="--overwrite")
    if overwrite:
        for name in RESULT_NAMES:
            (out / name).unlink(missing_ok=True)
        for folder in RESULT_FOLDERS:
            shutil.rmtree(out / folder, ignore_errors=True)
    elif holds_results(out):
        found = _identity_of(out)
        # A folder from before run.json existed may be resumed: its finished cells are matched by id, so another
        # config's cells are never read (they are only left beside the new ones).
        if found != sweep and not (resume and found is None):
            whose = f"another config (sweep {found})" if found else "a run that does not say its config"
            raise InputError(f"holds results of {whose}; use a new --out, or --overwrite to clear them (or resume "
                             "the same config with `ragpoison run --resume`)", path=out)
    text = json.dumps({"sweep": sweep, "format": "ragpoison-run/1"}, indent=2) + "\n"
    atomic_write(out / IDENTITY_NAME, lambda p: p.write_text(text, encoding="utf-8"))
