"""Reading tinylens's own JSON files (``result.json``, ``row.json``, ``checkpoint.pipeline.json``,
``population.json``, ``inputs.json``, ``truth.json``, ...) where they may be damaged.

Every reader of such a file goes through :func:`read_json_file` (or :func:`read_json_text` and
:func:`parse_json`, where the text itself is wanted), so that one rule holds for all of them: a
file that cannot be read raises an :class:`OSError`, and one whose text is not JSON that can be
read raises a :class:`ValueError` (:class:`json.JSONDecodeError`, :class:`UnicodeDecodeError`;
:class:`NotFiniteLiteral` for a NaN or an Infinity, which tinylens never writes), never anything else, and nothing but a regular file is read: a named pipe (FIFO) in a file's
place, whose reading would wait for a writer for ever, is :class:`NotAFile`, an OSError, at once, as
is a socket, which cannot be opened (the system's "No such device or address" named neither).
Each caller then decides what such a file means to it (a state that is not
there, or a file it refuses with a message naming it). Standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any


class NestedTooDeep(json.JSONDecodeError):
    """JSON text nested more deeply than :mod:`json` can read (``[[[[...`` many thousands deep: a
    damaged file), which it reports as a RecursionError; raised as the malformed JSON it is."""

    def __init__(self, doc: str) -> None:
        ValueError.__init__(self, "nested too deeply to read: more than a thousand levels of '[' or '{', so a "
                                  "damaged file")
        self.msg, self.doc, self.pos, self.lineno, self.colno = self.args[0], doc, 0, 1, 1

    def __reduce__(self):  # pickled (a survey's worker) as itself, not by JSONDecodeError's arguments
        return NestedTooDeep, (self.doc,)


def special_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, other than a regular file or a folder, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def not_a_file_advice(mode: int) -> str:
    """What to do with the special file of ``st_mode`` ``mode`` found where a file is read. A socket
    is a running program's (a server bound to this name): deleting it under that program breaks it,
    and the program would make it again; a device (a link to /dev/null?) is no file's to delete."""
    if stat.S_ISSOCK(mode):
        return ("a program made it to listen on (a server given this file's name for its socket): stop that "
                "program or give it another name, then delete the socket and put the file in its place")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "give the file itself (a link to a device, such as /dev/null, in its place? replace the link with the file)"
    return "delete it, or put the file in its place"


class NotAFile(OSError):
    """Something other than a file or a folder (a named pipe, a socket, a device) where a JSON file
    is read; not read (a named pipe would wait for a writer for ever). No errno: not a matter of
    permissions. Its message says what it is and what to do."""

    def __init__(self, mode: int) -> None:
        kind = special_kind(mode)
        super().__init__(f"it is {kind}, not a file, so it is not read: {not_a_file_advice(mode)}")
        self.strerror, self.mode = f"{kind}, not a file", mode

    def __reduce__(self):  # pickled (a survey's worker) and copied by its mode, not by OSError's message
        return NotAFile, (self.mode,)


#: The number literals that Python's json reads and writes but JSON has not (RFC 8259).
NON_FINITE = ("NaN", "Infinity", "-Infinity")
#: A JSON string (skipped) or one of :data:`NON_FINITE`, in a text: where the first of them stands.
_STRING_OR_NON_FINITE = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN')


class NotFiniteLiteral(json.JSONDecodeError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a JSON text: no JSON (JavaScript's JSON.parse and
    other strict readers refuse it), which Python's json reads as a float. tinylens has written null for a number
    that is missing or not finite since its first JSON file (e27a5e8, ``results.tables._jsonable``),
    so such a literal in one of its files was put there by hand or by another program; raised as the
    malformed JSON it is, where it stands, saying to write null."""

    def __init__(self, literal: str, doc: str, pos: int) -> None:
        super().__init__(f"{literal} is not JSON (tinylens writes null for a number that is missing or not "
                         "finite): write null in its place", doc, pos)
        self.literal = literal

    def __reduce__(self):  # pickled (a survey's worker) as itself, not by JSONDecodeError's arguments
        return NotFiniteLiteral, (self.literal, self.doc, self.pos)


class _Literal(Exception):
    """A :data:`NON_FINITE` literal met while parsing (internal)."""


def _refuse_literal(name: str) -> Any:
    raise _Literal(name)


def parse_json(text: str, non_finite: bool = False) -> Any:
    """The JSON value of ``text``; :class:`NestedTooDeep` (a ValueError, as for any malformed
    JSON) where it is nested too deeply to read, where :func:`json.loads` raises RecursionError;
    :class:`NotFiniteLiteral` (a ValueError too) at a ``NaN``, ``Infinity`` or ``-Infinity``, unless
    ``non_finite`` (a reader that checks each value and names the key of one that is not finite:
    read as float NaN and infinities, as Python's json reads them)."""
    try:
        if non_finite:
            return json.loads(text)
        return json.loads(text, parse_constant=_refuse_literal)
    except RecursionError:
        raise NestedTooDeep(text) from None
    except _Literal as found:
        literal = str(found)
        at = next((m.start() for m in _STRING_OR_NON_FINITE.finditer(text) if m.group() == literal), 0)
        raise NotFiniteLiteral(literal, text, at) from None


def read_json_text(path: str | Path) -> str:
    """The text of the JSON file ``path`` (UTF-8, as tinylens writes it): an OSError where it cannot
    be read (IsADirectoryError for a folder, :class:`NotAFile` at once for a named pipe or another
    special file: opened without blocking, and told by its mode before any read), a
    UnicodeDecodeError (a ValueError) where it is not UTF-8. The file is opened once, and what is
    read is what was looked at: one open per file (each costs a round trip to a Lustre or NFS
    server), and no moment in which a named pipe put in its place could be opened again, blocking."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # none on Windows, which has no named pipes in folders
    try:
        fd = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))  # a named pipe's open would wait too
    except OSError as exc:  # a socket cannot be opened: ENXIO, 'No such device or address', which said nothing of it
        mode = _special_mode(path) if exc.errno == errno.ENXIO else None
        if mode is None:
            raise
        raise NotAFile(mode) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise NotAFile(mode)
        if nonblocking:
            os.set_blocking(fd, True)  # a regular file: read it as any other, whatever its file system makes of the flag
        file = os.fdopen(fd, encoding="utf-8")  # text as Path.read_text gives it (newlines translated)
    except BaseException:
        os.close(fd)
        raise
    with file:
        return file.read()


def _special_mode(path: str | Path) -> int | None:
    """The ``st_mode`` of ``path`` where it is neither a regular file nor a folder (a socket, a
    device), else None (also where it cannot be looked at)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else mode


def read_json_file(path: str | Path, non_finite: bool = False) -> Any:
    """The JSON value in the file ``path``, whatever it is (a mapping, a list, a number: the caller
    checks); an OSError where the file cannot be read, a ValueError where its text is not JSON
    that can be read (not UTF-8, malformed, nested too deeply, or holding a NaN or an Infinity
    unless ``non_finite``: :func:`parse_json`)."""
    return parse_json(read_json_text(path), non_finite)


def unreadable_reason(err: OSError | ValueError) -> str:
    """Why a JSON file could not be read (:func:`read_json_file`'s error ``err``), in words: what
    stands in its place (a named pipe, a folder), the system's reason, or what is wrong with its
    text (not UTF-8, nested too deeply, not JSON)."""
    if isinstance(err, NotAFile):
        return str(err)
    if isinstance(err, IsADirectoryError):
        return "it is a folder, not a file"
    if isinstance(err, OSError):
        return f"{type(err).__name__}: {err.strerror or err}"
    if isinstance(err, UnicodeDecodeError):
        return "it is not UTF-8 text: a damaged file"
    if isinstance(err, NestedTooDeep):
        return str(err)
    return f"not JSON: {err}"


def read_json_object(path: str | Path, non_finite: bool = False) -> dict[str, Any] | None:
    """The JSON object (a mapping) in the file ``path``; None where it is missing, cannot be read,
    is not JSON that can be read (:func:`read_json_file`, ``non_finite`` as there) or holds another
    value than a mapping: for the callers to whom such a file is as good as absent."""
    try:
        content = read_json_file(path, non_finite)
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


# A fit's result.json: one rule for every reader of it. Its number fields are checked where they
# are used (load_stored reads null as NaN and names a key of another kind), so a NaN or an Infinity
# written by another program (Python's json.dump of an edited result) is read as that number, by
# every reader alike, not taken for a damaged file by some and read by others.


def parse_result_json(text: str) -> Any:
    """The JSON value of a ``result.json``'s ``text`` (:func:`parse_json`, a NaN or an Infinity read
    as that number)."""
    return parse_json(text, non_finite=True)


def read_result_json(path: str | Path) -> Any:
    """The JSON value in the ``result.json`` at ``path`` (:func:`read_json_file`, a NaN or an
    Infinity read as that number): an OSError or a ValueError as there."""
    return read_json_file(path, non_finite=True)


def read_result_object(path: str | Path) -> dict[str, Any] | None:
    """The object in the ``result.json`` at ``path``; None where it is missing, cannot be read or
    holds no object (:func:`read_json_object`, a NaN or an Infinity read as that number)."""
    return read_json_object(path, non_finite=True)
