"""Model names as Hugging Face writes them ("org/name", "org/name@revision"), resolved through the local cache.

A value naming an existing directory is that directory, as before. Otherwise a value shaped like a hub id is
looked up in the user's Hugging Face cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
``~/.cache/huggingface/hub``) without any download: ragpoison runs offline, so an id that is not cached is
an input error saying which id is missing and how to fetch it. The snapshot's commit hash is the revision
the manifest records.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ragpoison.rag.errors import InputError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?(@[\w./-]+)?$")


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are, and, for a hub id, which id and revision they are."""

    path: Path
    hub_id: str | None = None
    revision: str | None = None

    def provenance(self) -> dict[str, str]:
        """The hub id and resolved revision for a manifest (empty for a local directory)."""
        return {"hub_id": self.hub_id, "revision": self.revision or ""} if self.hub_id else {}


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface").expanduser()
    return home / "hub"


def resolve_model(value: str, field: str) -> ModelSource:
    """A local directory as given, or a hub id's cached snapshot; an InputError naming ``field`` otherwise."""
    local = Path(value).expanduser()
    if local.is_dir() or not HUB_ID.match(value) or value.startswith((".", "~")):
        return ModelSource(local)
    repo_id, _, revision = value.partition("@")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = hub_cache()
    try:
        snapshot = Path(snapshot_download(repo_id, revision=revision or None, cache_dir=cache,
                                          local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        raise InputError(f"model {value!r} is neither a local directory nor in the Hugging Face cache ({cache}), "
                         f"and nothing is downloaded at run time: fetch it where the hub is reachable "
                         f"(`hf download {repo_id}`) and copy that cache here, or give a local directory",
                         field=field) from None
    return ModelSource(snapshot.resolve(), repo_id, snapshot.name)
