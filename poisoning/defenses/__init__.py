"""Retrieval-side defenses."""
