"""The Language Server Protocol layer: the pygls server and its protocol rules, one module per
feature (session, text sync, inline completion, code actions, debug requests), the conversions
between LSP and the services' own types, JSON-RPC errors, progress and status.

Handlers stay thin: they fetch a document snapshot, call a service (completion/, actions/,
context/, the model service) and convert its answer. Nothing below this package knows LSP.
"""
