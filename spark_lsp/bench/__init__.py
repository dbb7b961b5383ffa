"""Reproducible benchmarks behind ``spark-lsp bench``: each prints a table and can save JSON."""
