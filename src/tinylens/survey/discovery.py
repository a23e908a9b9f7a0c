"""Finding a survey's lenses: the folders directly under its lens folder (:func:`find_lenses`), each one
lens (:class:`Lens`, its id the folder's name), and a lens's files within its folder (``image.fits``,
``noise.fits``, ``psf.fits`` and optionally ``mask.fits``, each also gzipped or tile-compressed:
``image.fits.gz``, ``image.fits.fz``), found alike on case-sensitive and case-insensitive disks.
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tinylens.errors import DataWarning, TinyLensError, counted, listed
from tinylens.filenames import LENSES_DIR
from tinylens.survey.lens_files import (FITS_SUFFIXES, LENS_FILES, MASK_FILE, lens_file_names, survey_names_text,
                                        unsurveyed_names)


@dataclass(frozen=True)
class Lens:
    """A lens folder: its id (the folder name) and path."""

    lens_id: str
    folder: Path

    def output(self, out: Path) -> Path:
        """This lens's output folder under the survey's ``out``."""
        return Path(out) / LENSES_DIR / self.lens_id


# -- lenses and configs ---------------------------------------------------------------------
def resolved(path: str | Path) -> Path:
    """``path`` absolute, with ``~`` expanded and its ``..`` and symlinks resolved: how the survey
    names its lens folder, template and output folder, in its records and its messages alike."""
    return Path(path).expanduser().resolve()


def held_names(folder: Path) -> set[str] | None:
    """The names of what ``folder`` holds, as it holds them, listed once so that a lens file's
    names are looked up only where the folder holds them: one stat of each of its several names
    in every lens folder made a survey's start-up many times slower (on a cluster's shared disk
    most of all). None where the folder cannot be listed (one that can be searched but not read,
    ``chmod 711``): its names are then each looked up in the cases of :func:`case_variants`, as a
    lookup says what the folder holds (or fails) as before."""
    try:
        return set(os.listdir(folder))
    except OSError:
        return None


def names_held(names: list[str], held: set[str]) -> list[str]:
    """The names of ``held`` that are one of ``names`` in any case (``IMAGE.FITS`` for
    ``image.fits``: old archives write upper-case names), so that a folder's files are found
    alike on a case-sensitive disk (Linux) and a case-insensitive one (macOS); in the order of
    ``names``, each exact name before those that differ from it in case only."""
    folded = [name.casefold() for name in names]
    matching = sorted(h for h in held if h.casefold() in folded)
    return [h for name, fold in zip(names, folded) for h in sorted(
        (h for h in matching if h.casefold() == fold), key=lambda h: h != name)]


#: The parts of :data:`FITS_SUFFIXES` (``fits``, ``gz``, ``fz``): a name's trailing parts that
#: :func:`case_variants` varies one by one, at most as many as the longest suffix has (2).
SUFFIX_PARTS = frozenset(part for suffix in FITS_SUFFIXES for part in suffix.split(".") if part)
MOST_SUFFIX_PARTS = max(suffix.count(".") for suffix in FITS_SUFFIXES)


def three_cases(text: str) -> list[str]:
    """``text`` as written, in upper case and with a capital first letter, each once."""
    return list(dict.fromkeys((text, text.upper(), text.capitalize())))


def case_variants(name: str) -> list[str]:
    """``name`` with its stem (all before its trailing ``fits``/``gz``/``fz`` parts) and each of
    those parts as written, in upper case or with a capital first letter (``image.fits``,
    ``IMAGE.FITS``, ``Psf.FITS``, ``Image.Fits.GZ``), as written first, each once: the cases a
    lens file is looked up in where its folder cannot be listed, as no lookup can find a name in
    any case. At most 27 names (``cutout.F814W.sci.v2.fits.gz`` too), as the stem's own
    dot-separated parts are varied together, not each on its own (729 lookups there)."""
    parts = name.split(".")
    split = len(parts)
    while split > max(1, len(parts) - MOST_SUFFIX_PARTS) and parts[split - 1].casefold() in SUFFIX_PARTS:
        split -= 1
    stem, suffixes = ".".join(parts[:split]), parts[split:]
    return [".".join(chosen) for chosen in itertools.product(three_cases(stem), *map(three_cases, suffixes))]


def distinct_files(paths: list[Path]) -> list[Path]:
    """``paths`` less each that is the same entry as an earlier one (``IMAGE.FITS`` after
    ``image.fits`` on a case-insensitive disk, where both names are one file), or that is gone."""
    seen, kept = set(), []
    for path in paths:
        try:
            entry = path.lstat()
        except FileNotFoundError:
            continue
        if (entry.st_dev, entry.st_ino) not in seen:
            seen.add((entry.st_dev, entry.st_ino))
            kept.append(path)
    return kept


def present_files(folder: Path, name: str, held: set[str] | None = None) -> list[Path]:
    """The files of ``folder`` that are the lens file ``name`` (:func:`lens_file_names`, in any
    case: :func:`names_held`), in that order: those that exist, then links to nothing (a purged
    scratch disk's, an unmounted archive's), whose lens is still a lens, and fails saying the file
    is not found. ``held``: the folder's :func:`held_names`, where the caller has them (else they
    are listed here); where the folder cannot be listed, each name is looked up in the cases of
    :func:`case_variants`, one file found under several of them (a case-insensitive disk) once."""
    held = held_names(folder) if held is None else held
    names = lens_file_names(name)
    if held is None:
        paths = [folder / v for n in names for v in case_variants(n)]
    else:
        paths = [folder / n for n in names_held(names, held)]
    existing = [p for p in paths if p.exists()]
    found = existing + [p for p in paths if p not in existing and p.is_symlink()]
    return distinct_files(found) if held is None else found


def lens_file(folder: Path, name: str, held: set[str] | None = None) -> Path:
    """The file of ``folder`` that is the lens file ``name``: the first of :func:`present_files`,
    else ``folder / name`` (whose absence the lens's fit reports)."""
    found = present_files(folder, name, held)
    return found[0] if found else folder / name


def unsurveyed_files(folder: Path, names: Sequence[str], held: set[str] | None = None) -> list[str]:
    """The files of ``folder`` that are one of the lens files ``names`` under a name ``tinylens
    fit`` reads but the survey does not look for (``image.fit``, ``psf.fits.bz2``:
    :func:`~tinylens.survey.lens_files.unsurveyed_names`), in any case, as the folder holds them.
    ``held``: the folder's :func:`held_names`; where it cannot be listed (None), only the names as
    written are looked up (a handful of stats, for such a folder alone)."""
    misses, folded = _unsurveyed(tuple(names))
    if held is None:
        return [n for n in misses if (folder / n).exists() or (folder / n).is_symlink()]
    if not any(h.casefold() in folded for h in held):  # as in nearly every folder: no need to sort them out
        return []
    return names_held(list(misses), held)


@functools.cache
def _unsurveyed(names: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The :func:`~tinylens.survey.lens_files.unsurveyed_names` of ``names``, and the same
    casefolded, made once (:func:`find_lenses` asks of every lens folder)."""
    misses = tuple(n for name in names for n in unsurveyed_names(name))
    return misses, frozenset(n.casefold() for n in misses)


def left_out_files(path: Path) -> list[str]:
    """The files that would make ``path``, no lens folder (:func:`is_lens_folder`), one had they
    the survey's names: its :func:`own_unsurveyed_files`. OSError where it cannot be looked into."""
    if path.name.startswith(".") or not path.is_dir():
        return []
    return own_unsurveyed_files(path, held_names(path))


def own_unsurveyed_files(folder: Path, held: set[str] | None) -> list[str]:
    """The :func:`unsurveyed_files` of ``folder`` (``held``: its :func:`held_names`) that are a
    lens's own, its mask's with them, where one is an image, noise or PSF; else none: those of a
    folder left out (:func:`left_out_files`), or of the folder given where it is one lens's."""
    files = unsurveyed_files(folder, list(LENS_FILES.values()), held)
    return files + unsurveyed_files(folder, [MASK_FILE], held) if files else []


def _warn_of_several(lenses: list[Lens], root: Path) -> None:
    """A DataWarning naming the lens folders that hold a file under several names (``image.fits``
    and ``image.fits.gz``), and which one is fitted; another naming those whose file is there only
    under a name the survey does not look for (``mask.fit``: :func:`unsurveyed_files`)."""
    several, unsurveyed = [], []
    for lens in lenses:
        held = held_names(lens.folder)
        for name in (*LENS_FILES.values(), MASK_FILE):
            found = present_files(lens.folder, name, held)
            if len(found) > 1:
                several.append(f"{lens.lens_id} ({' and '.join(p.name for p in found)}: {found[0].name} is used)")
            elif not found and (files := unsurveyed_files(lens.folder, [name], held)):
                unsurveyed.append(f"{lens.lens_id} ({' and '.join(files)})")
    if several:
        warnings.warn(several_names_text(several), DataWarning, stacklevel=3)
    if unsurveyed:
        warnings.warn(unsurveyed_files_text(root, unsurveyed), DataWarning, stacklevel=3)


def several_names_text(several: Sequence[str]) -> str:
    """What :func:`_warn_of_several` says of the lens files ``several`` (each ``lens_id (a and b:
    a is used)``) that are there under several names, for one file or for more."""
    return (f"{counted(len(several), 'lens file')} {'is' if len(several) == 1 else 'are'} there under several "
            f"names: {listed(several)}. Delete the ones not meant.")


def closed_folders_text(root: Path, closed: Sequence[str]) -> str:
    """What :func:`find_lenses` says of the folders ``closed`` in ``root`` (each ``name (reason)``)
    that it cannot look into, for one folder or for more."""
    if len(closed) == 1:
        return (f"1 folder in {root} cannot be looked into, and is left out: {closed[0]}. If it is a lens folder, "
                "make it readable (chmod) and run the survey again.")
    return (f"{len(closed)} folders in {root} cannot be looked into, and are left out: {listed(closed)}. If they "
            "are lens folders, make them readable (chmod) and run the survey again.")


#: What to do with a lens file named as :func:`unsurveyed_files` finds it, for the survey's warnings.
RENAME_TEXT = ("Rename each such file to its .fits name (image.fit or image.fts to image.fits), or recompress it "
               "as .fits.gz (bunzip2, unzip or unxz it, then gzip it), and run the survey again.")


def unsurveyed_folders_text(root: Path, left_out: Sequence[str]) -> str:
    """What :func:`find_lenses` says of the folders ``left_out`` of ``root`` (each ``name (files)``)
    that hold a lens's files only under names the survey does not look for."""
    one = len(left_out) == 1
    return (f"{counted(len(left_out), 'folder')} in {root} {'holds' if one else 'hold'} a lens's files under names "
            f"the survey does not look for, and {'is' if one else 'are'} left out: {listed(left_out)}. The survey "
            f"looks for {', '.join(LENS_FILES.values())} and {MASK_FILE}, each also gzipped or tile-compressed "
            f"({survey_names_text()}). "
            + RENAME_TEXT)


def unsurveyed_files_text(root: Path, files: Sequence[str]) -> str:
    """What :func:`find_lenses` says of the lens files ``files`` (each ``lens_id (name)``) of the
    lens folders in ``root`` that are there only under a name the survey does not look for."""
    one = len(files) == 1
    return (f"{counted(len(files), 'lens file')} in {root} {'is' if one else 'are'} there only under a name the "
            f"survey does not look for, and {'is' if one else 'are'} not used: {listed(files)}. A lens without its "
            f"{' or '.join(LENS_FILES.values())} fails saying it is not found; one without its {MASK_FILE} is "
            "fitted with the template's mask, if any. " + RENAME_TEXT)


def is_lens_folder(path: Path) -> bool:
    """Whether ``path`` is a lens folder: a folder, not hidden, holding one of :data:`LENS_FILES`
    (under any of its :func:`lens_file_names`). OSError where it cannot be looked into."""
    if path.name.startswith(".") or not path.is_dir():
        return False
    held = held_names(path)
    return any(present_files(path, n, held) for n in LENS_FILES.values())


def is_closed(path: Path) -> bool:
    """Whether ``path`` is a folder that cannot be looked into (:func:`is_lens_folder` raises),
    which :func:`find_lenses` leaves out with a warning of its own."""
    try:
        is_lens_folder(path)
    except OSError:
        return True
    return False


def find_lenses(lens_dir: str | Path) -> list[Lens]:
    """The lens folders directly under ``lens_dir`` (:func:`is_lens_folder`), by name; a folder
    that cannot be looked into (another user's, ``lost+found``) is left out with a DataWarning, and
    so is one holding a lens's files only under names ``tinylens fit`` reads but the survey does
    not look for (``image.fit``, ``image.fits.bz2``: :func:`left_out_files`), which the error of no
    lens folders found names too."""
    root = resolved(lens_dir)
    if not root.exists():
        raise TinyLensError(f"Lens folder {root} does not exist. Give the folder that holds one sub-folder per lens.")
    if not root.is_dir():
        raise TinyLensError(f"{root} is a file; give the folder that holds one sub-folder per lens.")
    names = LENS_FILES.values()
    lenses, closed, left_out = [], [], []
    for path in sorted(root.iterdir()):
        try:
            if is_lens_folder(path):
                lenses.append(Lens(path.name, path.resolve()))
            elif files := left_out_files(path):  # image.fit: tinylens fit reads it, the survey does not look for it
                left_out.append(f"{path.name} ({', '.join(files)})")
        except OSError as exc:  # one folder that cannot be read must not stop the survey of the others
            closed.append(f"{path.name} ({exc.strerror or type(exc).__name__})")
    if closed:
        warnings.warn(closed_folders_text(root, closed), DataWarning, stacklevel=2)
    if not lenses:
        held = held_names(root)
        itself = [p.name for n in names for p in present_files(root, n, held)]
        # image.fit, image.fits.bz2: a lens's files that tinylens fit reads but the survey does not look for
        own = own_unsurveyed_files(root, held)
        hint = (f" {root} itself holds {', '.join([*sorted(itself), *own])}, as one lens's folder does: give the "
                "folder above it, or fit this lens alone with tinylens fit." if itself or own else "")
        if own:
            hint += (f" Of them, {listed(own)} {'is' if len(own) == 1 else 'are'} under "
                     f"{'a name' if len(own) == 1 else 'names'} the survey does not look for (a survey of the folder "
                     "above would leave the lens out). " + RENAME_TEXT)
        if left_out:
            hint += (f" {counted(len(left_out), 'folder')} {'holds' if len(left_out) == 1 else 'hold'} a lens's "
                     f"files under names the survey does not look for: {listed(left_out)}. " + RENAME_TEXT)
        raise TinyLensError(
            f"No lens folders found in {root}: each lens needs its own sub-folder holding "
            f"{', '.join(names)} (and optionally {MASK_FILE}; each may also be gzipped or tile-compressed: "
            f"{survey_names_text()}).{hint}"
        )
    if left_out:
        warnings.warn(unsurveyed_folders_text(root, left_out), DataWarning, stacklevel=2)
    _warn_of_several(lenses, root)
    return lenses
