"""Inline completion: the pipeline from a cursor position to suggestions, and its pieces."""
