"""Reproducible benchmarks behind ``spark-lsp bench``: each module declares its own subcommand
(``add_parser``), prints a table and can save JSON. Runtime code never imports this package."""
