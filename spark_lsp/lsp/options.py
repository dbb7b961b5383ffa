"""Options an editor sends: ``initializationOptions`` and ``workspace/didChangeConfiguration``.

One typed tree with a default for every field, written in camelCase on the wire:

    {"completion": {"automatic": true, "debounceMs": 0, "fallbackSort": "last", ...},
     "engine": {"model": "/path/model.gguf", "nCtx": 8192, ...}}

Every value is untrusted: a field with a wrong type or out of range keeps its previous value and
yields a problem message (the rule is ``settings.problem_with``, the same the settings classes
apply); unknown keys yield one too. Engine fields are the ``EngineSettings`` of
the command line; they apply when the model loads, so a change after that asks for a restart.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from typing import Any

from spark_lsp.actions.settings import ActionSettings
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.settings import ContextSettings
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.settings import camel, problem_with

SECTION = "sparkLsp"  # the configuration section editors store these options under


@dataclass(frozen=True)
class ServerOptions:
    actions: ActionSettings = field(default_factory=ActionSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)


WHY_NOT_FROM_CLIENT = (
    "where code, keys and model files come from is set on the spark-lsp command line, in the "
    "environment or in your user settings, never by a workspace (see SECURITY.md)"
)


def _client_may_set(metadata: Any, value: object) -> bool:
    allowed = metadata.get("client_values")
    return allowed is None or value in allowed


def _merge(current: Any, raw: object, path: str, problems: list[str]) -> Any:
    """``current`` (a dataclass) updated from the camelCase dict ``raw``."""
    if not isinstance(raw, dict):
        problems.append(f"{path or 'options'} must be an object")
        return current
    hints = typing.get_type_hints(type(current))
    by_wire = {camel(item.name): item for item in fields(current)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        item = by_wire.get(key)
        where = f"{path}.{key}" if path else str(key)
        if item is None:
            problems.append(f"unknown option {where}")
            continue
        if item.default is MISSING and item.default_factory is not MISSING:  # a nested group
            changes[item.name] = _merge(getattr(current, item.name), value, where, problems)
            continue
        if value != getattr(current, item.name) and not _client_may_set(item.metadata, value):
            problems.append(f"{where} is ignored: {WHY_NOT_FROM_CLIENT}")
            continue
        if (problem := problem_with(value, hints[item.name], item.metadata)) is not None:
            problems.append(
                f"{where} {problem} (got {value!r}); keeping {getattr(current, item.name)!r}"
            )
            continue
        if isinstance(value, list) and item.metadata.get("client_adds"):
            value = [*item.default, *(entry for entry in value if entry not in item.default)]
        changes[item.name] = tuple(value) if isinstance(value, list) else value
    try:
        return replace(current, **changes)
    except ValueError:  # a rule across fields: keep the changes that pass it, one by one
        pass
    merged = current
    for name, value in changes.items():
        try:
            merged = replace(merged, **{name: value})
        except ValueError as error:
            problems.append(f"{path}.{camel(name)}: {error}; keeping {getattr(merged, name)!r}")
    return merged


def merge_options(current: ServerOptions, raw: object) -> tuple[ServerOptions, list[str]]:
    """New options from ``raw`` over ``current``, and what was wrong with ``raw``."""
    problems: list[str] = []
    if raw is None:
        return current, problems
    return _merge(current, raw, "", problems), problems


def to_wire(options: Any) -> dict[str, Any]:
    """A dataclass tree as camelCase JSON."""
    return {
        camel(item.name): to_wire(value)
        if is_dataclass(value)
        else list(value)
        if isinstance(value, tuple)
        else value
        for item in fields(options)
        for value in (getattr(options, item.name),)
    }


def section_of(settings: object) -> object:
    """Our options inside a configuration value: under ``sparkLsp`` (how VS Code and most clients
    nest them), or the value itself when it has our keys; None when it holds nothing of ours
    (other tools' sections, an empty value)."""
    if isinstance(settings, dict):
        if SECTION in settings:
            return settings[SECTION]
        ours = {camel(item.name) for item in fields(ServerOptions)}
        return settings if ours & settings.keys() else None
    return None if settings in (None, [], "") else settings
