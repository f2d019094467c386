"""Retrieval-poisoning attacks."""
