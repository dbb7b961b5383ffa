"""Why a code action cannot give its edit; the LSP layer turns each into its JSON-RPC error."""

from __future__ import annotations


class ActionError(Exception):
    """The message is meant for the user."""


class InvalidTarget(ActionError):
    """The action's data is not one of ours, or points outside the document (InvalidParams)."""


class DocumentChanged(ActionError):
    """The document moved on since the action was offered (ContentModified)."""


class ActionFailed(ActionError):
    """The model could not give a usable answer, or is not loaded (RequestFailed)."""


class ActionCancelled(ActionError):
    """The user or the client cancelled the action (RequestCancelled)."""
