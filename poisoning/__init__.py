"""Attacks that poison a RAG corpus and defenses that filter what reaches the reader."""

from ragpoison.poisoning._contracts import TextGenerator, TokenGradientEmbedder, VictimEmbedder, VictimReader

__all__ = ["TextGenerator", "TokenGradientEmbedder", "VictimEmbedder", "VictimReader"]
