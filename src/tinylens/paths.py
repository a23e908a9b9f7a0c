"""Looking at a path without a bare OSError, and the system's limits on a path's length
(:data:`NAME_MAX`, :data:`PATH_MAX`, and a folder's own, :func:`name_max_said`). Standard library only, so that any part of tinylens (data,
results, the fit's checks, the command line's messages) can use it without importing astropy or pandas."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

#: The longest name of one file or folder most disks take, in bytes (NAME_MAX).
NAME_MAX = 255

#: The longest path the system takes, in bytes, its closing NUL counted (PATH_MAX on Linux).
PATH_MAX = 4096


def reachable(path: Path) -> bool:
    """``path.exists()``, but False (not a bare OSError) where a folder on its way cannot be
    entered, which ``Path.exists`` raises on Python 3.11, or where the system refuses to look (a
    name too long for it, ENAMETOOLONG; a failing disk, EIO)."""
    try:
        return path.exists()
    except OSError:
        return False


def name_max_said(folder: Path) -> tuple[int | None, bool]:
    """The longest name in bytes that the disk of ``folder``, or of the nearest folder above it
    there where it is not made yet (or its path is too long for the system to look at), takes
    (PC_NAME_MAX), None where it has no limit, and whether the system said it (True); or
    :data:`NAME_MAX`, most disks', and False where the system does not say (it cannot be looked
    at, or has no os.pathconf)."""
    for place in (folder, *folder.parents):
        try:
            limit = os.pathconf(place, "PC_NAME_MAX")
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:  # a name on the way, or the path, too long: look above it
                continue
            return NAME_MAX, False
        except (ValueError, AttributeError):  # (AttributeError: no os.pathconf, as on Windows)
            return NAME_MAX, False
        return (limit if limit >= 0 else None), True
    return NAME_MAX, False


def name_too_long(parts: Iterable[str], limit: int | None) -> str | None:
    """The first of ``parts`` (the names of a path) longer than ``limit`` bytes, the longest name
    a disk takes (:func:`name_max_said`'s; None: no limit), or None where none is."""
    return next((part for part in parts if limit is not None and len(os.fsencode(part)) > limit), None)


def limit_text(limit: int | None, said: bool, where: str = "there") -> str:
    """How a message gives a name limit (:func:`name_max_said`): ``"<limit> bytes there"`` (or
    ``where``) where the system said it, most disks' :data:`NAME_MAX` as such where it did not."""
    return f"{limit} bytes {where}" if said and limit is not None else f"{NAME_MAX} bytes on most disks"
