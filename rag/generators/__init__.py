"""Answer generators (readers)."""
