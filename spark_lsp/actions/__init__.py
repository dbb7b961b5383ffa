"""Model-powered code actions: the instant menu, the action service that computes rewrites, test
files and explanations, and the minimal edits. Knows nothing of LSP."""
