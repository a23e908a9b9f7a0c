"""An earlier fit's files in a fit's output folder: the tables and figures its ``result.json``
names that the new fit does not write again (deleted before the search, so that none lies beside
the new result as if it were its own), those it writes again, and the system's refusals to let it
replace or delete them (another user's file in a folder with the sticky bit), each said before the
search where it can be, or as an OutputError naming the file where it comes after.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

from tinylens import filenames
from tinylens.errors import OUTPUT_FOLDER_CHOICE, OutputError, ls_command, outside_stacklevel
from tinylens.fitting.folder import afresh_text
from tinylens.jsonfile import read_result_json


def replaced_files(out: Path, written: Collection[str], inputs: Iterable[str | Path] = ()) -> list[Path]:
    """The tables and figures of the earlier fit whose ``result.json`` is in ``out`` (named by its
    ``files``) that a fit writing the files ``written`` there does not overwrite: left, they lie
    beside the new result.json as if they were its own (``result_samples.csv`` of the earlier fit
    beside a new one's ``samples.csv``). Only files tinylens wrote: a plain name that is not one
    of its own (:func:`tinylens.filenames.is_reserved`), a file (no link, no folder) not modified
    since that result.json was written (not one of the user's saved under the name since), and
    none of ``inputs`` (the new fit's data and config files). None where result.json cannot be read
    or is not tinylens's (no ``versions.tinylens``: another tool's, whose files are the user's)."""
    import stat

    record = out / filenames.RESULT
    try:
        stored = read_result_json(record)
        written_ns = record.stat().st_mtime_ns
    except (OSError, ValueError):
        return []
    ours = isinstance(stored, dict) and isinstance(stored.get("versions"), dict) and "tinylens" in stored["versions"]
    files = stored.get("files") if ours else None
    names = [n for n in files.values() if isinstance(n, str)] if isinstance(files, dict) else []
    found = []
    for name in dict.fromkeys(names):
        if name in written or name in ("", ".", "..") or Path(name).name != name or filenames.is_reserved(name):
            continue
        path = out / name
        try:
            info = path.lstat()
        except (OSError, ValueError):  # a name with a NUL character (an edited record) is no file
            continue
        if (stat.S_ISREG(info.st_mode) and info.st_mtime_ns <= written_ns
                and not any(_same_file(path, Path(p).expanduser()) for p in inputs)):
            found.append(path)
    return found


def remove_replaced(out: Path, paths: Iterable[Path]) -> None:
    """Delete ``paths``, the earlier fit's files in ``out`` (:func:`~tinylens.fitting.replaced.replaced_files`); those the
    system refuses to delete (someone else's in a folder with the sticky bit) are left, with a
    DataWarning naming them: an earlier fit's leftovers must not stop the new fit."""
    from tinylens.errors import DataWarning

    kept = []
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            kept.append(f"{path.name} ({exc.strerror or type(exc).__name__})")
    if kept:
        warnings.warn(undeleted_text(out, kept), DataWarning, stacklevel=outside_stacklevel())


def _remove_rewritten(out: Path, path: Path) -> None:
    """Delete ``path``, an earlier fit's file in ``out`` that this fit writes again (a table or
    figure of the same name, result.json), before the search. One the system refuses to delete
    (someone else's in a folder with the sticky bit) it would refuse to replace too, after the
    search: an :class:`~tinylens.errors.OutputError` naming it now, before anything is sampled.
    Only a PermissionError is that refusal: another error (a disk that refuses every write,
    :data:`~tinylens.errors.UNWRITABLE`, for :func:`~tinylens.fitting.folder.disk_full_reported`; a network file system's
    EIO or ESTALE, which a retry may not meet) says nothing of the replacement, and is raised as it
    is where ``path`` is result.json, passed over for a table or figure (whose replacement is tried
    when the outputs are written)."""
    try:
        path.unlink(missing_ok=True)
    except PermissionError as exc:
        raise OutputError(f"Output folder {out}: {path.name}, an earlier fit's, cannot be deleted "
                          f"({exc.strerror or type(exc).__name__}), and the system would refuse this fit's own "
                          f"{path.name} in its place too, after the search. Delete it (or ask its owner to: "
                          f"{ls_command(path, option='-l')} shows who), or choose another {OUTPUT_FOLDER_CHOICE}.") from None
    except OSError:
        if path.name == filenames.RESULT:
            raise


def undeleted_text(out: Path, kept: Sequence[str]) -> str:
    """What :func:`~tinylens.fitting.replaced.remove_replaced` says of the earlier fit's files in ``out`` that it cannot
    delete (``kept``: each name with the system's reason), for one file or for several."""
    from tinylens.errors import counted, listed

    one = len(kept) == 1
    return (f"{counted(len(kept), 'file')} of the earlier fit in {out} cannot be deleted, and "
            f"{'is' if one else 'are'} left beside this fit's results, which do not name "
            f"{'it' if one else 'them'}: {listed(kept)}. Delete {'it' if one else 'them'} (or ask "
            f"{'its' if one else 'their'} owner to).")


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (through links, or by a name that a case-insensitive file
    system takes for the other's); False where either cannot be looked at."""
    try:
        return a.samefile(b)
    except OSError:
        return False


def _check_replaceable(out: Path, paths: Iterable[tuple[Path, str]]) -> None:
    """An :class:`~tinylens.errors.OutputError` before the search where any of ``paths``, files in
    the output folder ``out``, each with when the fit replaces it (:data:`~tinylens.fitting.resume.AFTER_WHEN`: a table, a
    figure, result.json; :data:`~tinylens.fitting.resume.UNRESUMED_WHEN`, :data:`~tinylens.fitting.resume.AFRESH_WHEN`: a checkpoint), is one the system
    would refuse to replace (:func:`~tinylens.fitting.replaced._refused_replacement`). Every such file is named in the one
    error, with its owner, so that the user does not meet them one run at a time; one file is said
    as before. Any other file there is replaced as ever. A folder the user may not write is said
    before (:func:`tinylens.results.tables.ensure_writable`). The owners shown are trusted only where
    a file this process writes there shows as its own (:func:`~tinylens.results.tables.written_owner`):
    on a network file system that shows files as ``nobody`` or as a squashed id, no file is refused
    here, and a refusal of the system's, if any, is said when the file is written (:func:`~tinylens.fitting.replaced.refused_reported`)."""
    refused: dict[Path, tuple[str, int, str]] = {}
    for path, when in paths:
        found = _refused_replacement(out, path)
        if found is not None and path not in refused:
            refused[path] = (*found, when)
    if not refused:
        return
    from tinylens.results.tables import written_owner

    if written_owner(out) not in (os.geteuid(), os.getuid()):  # this process's own files show as another's there
        return
    if len(refused) == 1:
        [(path, (thing, owner, when))] = refused.items()
        raise OutputError(f"Output folder {out}: {path.name} there is another user's {thing} (user id {owner}), in "
                          f"a folder with the sticky bit, so the system would refuse this fit's own {path.name} in its "
                          f"place, {when}. Delete it (or ask its owner to: {ls_command(path, option='-l')} shows "
                          f"who), or choose another {OUTPUT_FOLDER_CHOICE}.")
    from tinylens.errors import listed

    groups = []
    for when in dict.fromkeys(when for _, _, when in refused.values()):  # in the order met
        named = [f"{path.name} ({'a link, ' if thing == 'link' else ''}user id {owner})"
                 for path, (thing, owner, said) in refused.items() if said == when]
        groups.append(f"{listed(named, limit=8)}, {when}")
    one_owner = len({owner for _, owner, _ in refused.values()}) == 1
    whose, owners = ("another user", "owner") if one_owner else ("other users", "owners")
    raise OutputError(f"Output folder {out}: {len(refused)} files there belong to {whose}, in a folder with the "
                      "sticky bit, so the system would refuse this fit's own in their place: "
                      f"{'; '.join(groups)}. Delete them (or ask their {owners} to: {ls_command(out, option='-l')} "
                      f"shows who), or choose another {OUTPUT_FOLDER_CHOICE}.")


def _refused_replacement(out: Path, path: Path) -> tuple[str, int] | None:
    """What ``path``, a file in the output folder ``out``, is ("file" or "link") and its owner's
    user id where the system would refuse to replace it: someone else's in a folder with the
    sticky bit (``chmod +t``, as /tmp and shared scratch folders are) that is not this user's
    either, where only the file's or the folder's owner (or root) may replace or delete it; a link
    too, which the fit replaces, not the file it points to (the sticky bit guards a folder's every
    name). None for any other (one not there, a folder at the name: :func:`~tinylens.fitting.checks._check_no_folder_at_files`)."""
    import stat

    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return None
    try:
        folder, info = out.stat(), path.lstat()
    except OSError:  # not there (or not to be looked at: said when it is written)
        return None
    user = os.geteuid()
    if not (folder.st_mode & stat.S_ISVTX and not stat.S_ISDIR(info.st_mode) and user not in (info.st_uid, folder.st_uid)):
        return None
    return ("link" if stat.S_ISLNK(info.st_mode) else "file"), info.st_uid


@contextlib.contextmanager
def refused_reported(out: Path, sampler: bool = True, resumed: bool = True,
                     section: str = "inference.settings") -> Iterator[None]:
    """Raise a PermissionError inside that names a file in the output folder ``out`` (the system
    refused to replace a table, figure or result.json there after the search: someone else's file
    in a folder with the sticky bit, one marked immutable) as an :class:`~tinylens.errors.OutputError`
    naming it and saying what is kept: a sampler's checkpoint (``sampler``), which the fit run
    again resumes; an optimizer keeps none, and run again starts afresh, as does a sampler's whose
    settings say ``resume: false`` (``resumed`` false: :func:`~tinylens.fitting.folder.afresh_text`, its settings named
    as ``section``)."""
    try:
        yield
    except PermissionError as exc:
        name = exc.filename
        if not isinstance(name, (str, os.PathLike)) or Path(os.path.abspath(name)).parent != Path(os.path.abspath(out)):
            raise
        path = Path(name)
        afresh = afresh_text(sampler, section)
        kept = ("The search's checkpoint is kept: once that file can be replaced, run the fit again to resume "
                "it (its search is not done again)." if sampler and resumed else f"{afresh[0].upper()}{afresh[1:]}: "
                "once that file can be replaced, run the fit again (it starts afresh).")
        raise OutputError(f"Output folder {out}: the system refused to write {path.name} there "
                          f"({exc.strerror or type(exc).__name__}; {ls_command(path, option='-l')} shows its owner), so "
                          f"the fit's {filenames.RESULT} is not written. Delete that file (or ask its owner to). "
                          f"{kept}") from None


def undeletable_text(out: Path, path: Path, exc: OSError, what: str, why: str) -> str:
    """The error of a file in the output folder ``out`` that the fit deletes before its search
    and that the system refuses to delete (``exc``: someone else's in a folder with the sticky
    bit): ``path``, ``what`` it is and ``why`` the fit deletes it, and what to do."""
    return (f"Output folder {out}: {path.name}, {what}, cannot be deleted ({exc.strerror or type(exc).__name__}), "
            f"which {why}: the fit stops before sampling anything. Delete it (or ask its owner to: "
            f"{ls_command(path, option='-l')} shows who), or choose another {OUTPUT_FOLDER_CHOICE}.")
