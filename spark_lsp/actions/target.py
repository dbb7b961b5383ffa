"""What an offered code action acts on: a document version in one opening of the document
(its generation), whole lines, and the action. It travels to the client in the action's ``data``
(or a command's arguments) and comes back untrusted when the action is resolved or run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spark_lsp.actions.errors import InvalidTarget


@dataclass(frozen=True)
class Target:
    uri: str
    version: int
    first: int
    last: int  # exclusive
    action: str
    message: str = ""  # the diagnostic's message, for "fix"
    generation: int = 0  # the opening of the document the action was offered in

    def as_data(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "version": self.version,
            "first": self.first,
            "last": self.last,
            "action": self.action,
            "message": self.message,
            "generation": self.generation,
        }

    @classmethod
    def from_data(cls, data: object) -> Target:
        """The target ``as_data`` described; InvalidTarget for anything else."""
        if not isinstance(data, dict):
            raise InvalidTarget(f"not a spark-lsp code action: {data!r}")
        keys = ("uri", "version", "first", "last", "action", "generation")
        values = {key: data.get(key) for key in keys}
        message = data.get("message", "")
        texts_ok = all(isinstance(values[key], str) for key in ("uri", "action"))
        numbers_ok = all(
            isinstance(values[key], int) and not isinstance(values[key], bool)
            for key in ("version", "first", "last", "generation")
        )
        if not (texts_ok and numbers_ok and isinstance(message, str)):
            raise InvalidTarget(f"not a spark-lsp code action: {data!r}")
        return cls(message=message, **values)  # type: ignore[arg-type]
