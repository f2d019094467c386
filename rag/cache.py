"""Where ragpoison keeps what it derives once and reuses: embeddings, indexes, model hashes, converted corpora."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """Cache folder: $RAGPOISON_CACHE or ~/.cache/ragpoison."""
    return Path(os.environ.get("RAGPOISON_CACHE", Path.home() / ".cache" / "ragpoison"))
