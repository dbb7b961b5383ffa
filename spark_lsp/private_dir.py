"""Folders other local users cannot reach into: the state folder (statistics), the model cache,
and the folder of a token file.

A private folder is created 0700 and must be a real folder of this user: one of another user is
refused, one of ours that group or others could enter is tightened to 0700. A token file's
folder may also be shared (root's, or sticky as /tmp), since the token file itself is created
exclusively, 0600; but no other user may write to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o700


class PrivateFolderError(Exception):
    """The message names the folder, what is wrong with it and the fix."""


def private_dir(folder: Path, purpose: str) -> Path:
    """``folder``, created 0700 with any missing parent; ``purpose`` names it in errors (for
    example "statistics folder")."""
    try:
        _make_private(folder)
    except OSError as error:
        raise PrivateFolderError(
            f"cannot create the {purpose} {folder}: {error.strerror}"
        ) from None
    status = _folder_status(folder, purpose)
    if status.st_uid != os.getuid():
        raise PrivateFolderError(
            f"the {purpose} {folder} belongs to another user (uid {status.st_uid}); "
            "remove it or point to a folder of your own"
        )
    if status.st_mode & 0o077:
        try:
            os.chmod(folder, PRIVATE_MODE)
        except OSError as error:
            raise PrivateFolderError(
                f"the {purpose} {folder} is open to other users and cannot be made private: "
                f"{error.strerror}; run: chmod 700 {folder}"
            ) from None
        logger.warning(
            "the %s %s was open to other users (mode %o); it is now 0700",
            purpose,
            folder,
            stat.S_IMODE(status.st_mode),
        )
    return folder


def check_not_writable_by_others(folder: Path, purpose: str) -> None:
    """``folder`` is ours or root's, and others cannot write to it unless it is sticky (others
    can then neither remove nor rename our files in it)."""
    status = _folder_status(folder, purpose)
    if status.st_uid not in (os.getuid(), 0):
        raise PrivateFolderError(f"the {purpose} {folder} belongs to another user")
    if status.st_mode & 0o022 and not status.st_mode & stat.S_ISVTX:
        raise PrivateFolderError(
            f"other users can write to the {purpose} {folder}; run: chmod 700 {folder}"
        )


def owned_and_not_shared(status: os.stat_result) -> bool:
    """Whether a file is a regular file of this user that no one else can write to."""
    return (
        stat.S_ISREG(status.st_mode) and status.st_uid == os.getuid() and not status.st_mode & 0o022
    )


def _make_private(folder: Path) -> None:
    missing = [path for path in (folder, *folder.parents) if not os.path.lexists(path)]
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it: checked below
            os.mkdir(path, PRIVATE_MODE)


def _folder_status(folder: Path, purpose: str) -> os.stat_result:
    try:
        status = os.lstat(folder)
    except OSError as error:
        raise PrivateFolderError(f"cannot use the {purpose} {folder}: {error.strerror}") from None
    if not stat.S_ISDIR(status.st_mode):
        raise PrivateFolderError(f"the {purpose} {folder} is not a folder (a link or a file?)")
    return status
