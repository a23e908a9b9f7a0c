"""Looking at a path without a bare OSError. Standard library only, so that any part of tinylens
(data, results) can use it without importing astropy or pandas."""

from __future__ import annotations

from pathlib import Path


def reachable(path: Path) -> bool:
    """``path.exists()``, but False (not a bare OSError) where a folder on its way cannot be
    entered, which ``Path.exists`` raises on Python 3.11, or where the system refuses to look (a
    name too long for it, ENAMETOOLONG; a failing disk, EIO)."""
    try:
        return path.exists()
    except OSError:
        return False
