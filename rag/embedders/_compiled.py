"""The model's forward pass compiled by ``torch.compile`` on the CPU (``embedder.params.compile: true``).

Inductor with the weights frozen into the graph (``freezing``: constants folded, weights prepacked for oneDNN)
fuses what eager mode runs op by op; with all-MiniLM-L6-v2 on a 2-core CPU with AMX it embedded 1.19 to 1.29x
as many passages a second as eager mode in bfloat16, and 1.16 to 1.28x in float32 (``benchmarks/precision.py``
reports each). The price is the compilation, once per process and model: about 28 s there the first time, 14 s
with inductor's on-disk cache, so it pays from some 20,000 to 30,000 passages on. The graph is compiled once,
with a dynamic sequence length, for every length bucket of ``_shapes``; a text's vector is still a function of
the text alone (the same bits in any batch, any order, any process), but not the same bits as eager mode, so
the embedder's identity and cache key say ``+compiled``.

The compiled forward is kept beside the model, not in it: the model itself stays as loaded, for the white-box
attacks that take its gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ragpoison.rag.embedders._numerics import Numerics
    from sentence_transformers import SentenceTransformer

_ATTRIBUTE = "_ragpoison_compiled_forward"


def forward_of(model: SentenceTransformer, numerics: Numerics) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The model itself, or its compiled forward pass (compiled on first use, then kept with the model)."""
    if not numerics.compiled:
        return model
    compiled = model.__dict__.get(_ATTRIBUTE)
    if compiled is None:
        import torch

        compiled = torch.compile(model, dynamic=True, options={"freezing": True})
        object.__setattr__(model, _ATTRIBUTE, compiled)  # not registered as a submodule: no second set of weights
    return compiled
