"""ragpoison: a retrieval-poisoning testbed for clinical RAG pipelines.

The installed distribution has one top-level name. Its subpackages:

- ``ragpoison.rag``: the RAG stack under test (loaders, embedders, stores, retrievers, generators);
- ``ragpoison.poisoning``: attacks that poison a corpus and defenses that filter what reaches the reader;
- ``ragpoison.eval``: configs, the cell runner, metrics, results and the command line;
- ``ragpoison.corpora``: the bundled question sets.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("ragpoison")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
