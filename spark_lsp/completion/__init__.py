"""Inline completion: from a cursor to a suggestion (cursor state, the pipeline with its cache,
debounce and background continuation, post-processing rules, shown items). Owns
``CompletionSettings``; knows nothing of LSP."""
