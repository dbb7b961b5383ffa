"""The one helper behind every settings dataclass: defaults, bounds and descriptions.

Each package declares its settings with ``setting()`` in a small module of its own
(``engine/settings.py``, ``completion/settings.py``, ``context/settings.py``,
``actions/settings.py``). From those fields
come the CLI flags (``add_arguments``), the options an editor sends (``lsp/options.py``), the
README's tables and the VS Code ``package.json`` check (both held to the fields by tests).
``problem_with`` is the one rule a value must pass: a settings class applies it to every field in
its ``__post_init__`` (``check_fields``), and the editor options apply it to each value they
receive, so that a bad value keeps the previous one.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import MISSING, field, fields
from typing import Any, Literal


def setting(
    default: Any,
    description: str,
    low: int | None = None,
    high: int | None = None,
    client_values: tuple[str, ...] | None = None,
    client_adds: bool = False,
) -> Any:
    """A settings field: its default, a description for --help and docs, and integer bounds.

    ``client_values`` marks a field that decides where code, credentials or model files come
    from: an editor's options (which a workspace can write) may set it only to one of these
    values (an empty tuple: never); the command line and the environment may set anything.
    ``client_adds`` marks a list that protects something (the private-file patterns): an
    editor's list is added to the default one and never removes from it."""
    metadata = {
        "help": description,
        "low": low,
        "high": high,
        "client_values": client_values,
        "client_adds": client_adds,
    }
    return field(default=default, metadata=metadata)


def camel(name: str) -> str:
    """A field's name as editors write it (``debounce_ms`` -> ``debounceMs``)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def problem_with(value: Any, hint: Any, metadata: Any) -> str | None:
    """Why ``value`` does not fit a field of type ``hint`` with ``metadata`` bounds, or None."""
    allowed = typing.get_args(hint) if typing.get_origin(hint) is not None else (hint,)
    if typing.get_origin(hint) is tuple:  # tuple[str, ...]: a list of strings, bounded in length
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        high = metadata.get("high")
        return f"must have at most {high} entries" if high and len(value) > high else None
    if typing.get_origin(hint) is Literal:
        return None if value in allowed else f"must be one of {', '.join(map(repr, allowed))}"
    if value is None:
        return None if type(None) in allowed else "must not be null"
    if isinstance(value, bool) != (bool in allowed):
        return f"must be {'a boolean' if bool in allowed else _kind(allowed)}"
    if not isinstance(value, tuple(t for t in allowed if isinstance(t, type))):
        return f"must be {_kind(allowed)}"
    low, high = metadata.get("low"), metadata.get("high")
    if isinstance(value, int) and low is not None and not low <= value <= (high or value):
        return f"must be between {low} and {high}"
    return None


def _kind(allowed: tuple[Any, ...]) -> str:
    names = {int: "an integer", str: "a string", bool: "a boolean"}
    return " or ".join(names.get(t, "null") for t in allowed)


def check_fields(instance: Any) -> None:
    """Raise ValueError naming the first field of ``instance`` whose value breaks its rule."""
    hints = typing.get_type_hints(type(instance))
    for item in fields(instance):
        value = getattr(instance, item.name)
        if (problem := problem_with(value, hints[item.name], item.metadata)) is not None:
            raise ValueError(f"{item.name} {problem}, got {value!r}")


def add_arguments(parser: argparse.ArgumentParser, settings_type: type) -> None:
    """Add one ``--flag`` per settings field (dashes for underscores), defaulting to the field's."""
    hints = typing.get_type_hints(settings_type)
    for item in fields(settings_type):
        flag = "--" + item.name.replace("_", "-")
        default = None if item.default is MISSING else item.default
        description = f"{item.metadata['help']} (default: {default})"
        if isinstance(default, bool):
            parser.add_argument(
                flag,
                dest=item.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=description,
            )
            continue
        kind = int if isinstance(default, int) else str
        extra: dict[str, Any] = {}
        if typing.get_origin(hints[item.name]) is Literal:
            extra["choices"] = typing.get_args(hints[item.name])
        parser.add_argument(
            flag,
            dest=item.name,
            type=kind,
            default=default,
            metavar=item.name.upper(),
            help=description,
            **extra,
        )


def from_arguments(args: argparse.Namespace, settings_type: type) -> Any:
    """The settings the parsed flags of ``add_arguments`` describe."""
    return settings_type(**{item.name: getattr(args, item.name) for item in fields(settings_type)})
