"""Model-powered code actions: the instant menu, rewrites, and their minimal edits."""
