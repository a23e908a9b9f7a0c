"""Looking at a path without a bare OSError, and the system's limits on a path's length
(:data:`NAME_MAX`, :data:`PATH_MAX`). Standard library only, so that any part of tinylens (data,
results, the fit's checks, the command line's messages) can use it without importing astropy or pandas."""

from __future__ import annotations

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
