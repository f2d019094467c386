"""Real parts of the victim's stack cut down to the contracts that attacks and defenses are promised.

Each wraps a real embedder or reader and exposes only the members of its protocol, so a plugin that
reaches for anything more (the model, its cache, its params) fails under these and not under the real part.
"""


class ContractEmbedder:
    """A real embedder seen only through ``VictimEmbedder``: no model, so no white-box gradients."""

    def __init__(self, inner):
        self._inner = inner

    @property
    def identity(self):
        return self._inner.identity

    @property
    def dim(self):
        return self._inner.dim

    def encode(self, texts):
        return self._inner.encode(texts)

    def encode_queries(self, texts):
        return self._inner.encode_queries(texts)


class ForeignModelEmbedder(ContractEmbedder):
    """States a ``model``, as ``TokenGradientEmbedder`` asks, but it is no sentence-transformers model."""

    @property
    def model(self):
        return object()


class ContractReader:
    """A real reader seen only through ``VictimReader``."""

    def __init__(self, inner):
        self._inner = inner

    def answer(self, batch):
        return self._inner.answer(batch)
