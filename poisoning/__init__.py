"""Attacks that poison a RAG corpus and defenses that filter what reaches the reader."""
