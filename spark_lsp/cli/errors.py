"""What the commands raise for problems a user can fix: printed as one line, exit status 1."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line or start-up the user can fix; printed as one line."""
