"""One edit the user made (the lines it replaced and their new text), as the prompts show it:
a unified diff (the chat and FIM formats) or ``original:``/``updated:`` text (Sweep's)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class RecentEdit:
    """One edit the user made: the lines before and after it."""

    path: str
    before: str
    after: str

    def as_diff(self) -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{self.path}",
            tofile=f"b/{self.path}",
            n=1,
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
