"""The format a table's file name says: a format suffix, and maybe a compression suffix after it.

Imports nothing of tinylens, pandas or astropy, so that the config schema can refuse a name
that no file could honestly be written under before any work (:func:`table_name_problem`),
and :func:`tinylens.results.tables.write_table` writes what the name says (:func:`table_format`).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import PurePath

#: Format suffixes (lower case) by the format they name; any other name is a CSV table.
FORMAT_SUFFIXES = {"parquet": (".parquet", ".pq"), "json": (".json",), "fits": (".fits", ".fit", ".fts"),
                   "ecsv": (".ecsv",)}
#: What pandas compresses a CSV file as by its name's end (pandas.io.common.extension_to_compression).
CSV_COMPRESSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar", ".gz", ".bz2", ".zip", ".xz", ".zst")
#: The compressions of a JSON, ECSV or FITS table (by Python's gzip, bz2 and lzma); a Parquet
#: file compresses its columns itself and takes none; a CSV table those pandas writes.
COMPRESSIONS = {"parquet": (), "json": (".gz", ".bz2", ".xz"), "fits": (".gz", ".bz2", ".xz"),
                "ecsv": (".gz", ".bz2", ".xz"), "csv": CSV_COMPRESSIONS}
#: Compressions that pandas writes only with a package of its own (by its import name), not
#: always installed: a name so compressed is refused where it is not, before any work.
NEEDS_PACKAGE = {".zst": "zstandard"}
#: How each format is named in a message.
FORMAT_NAMES = {"parquet": "Parquet", "json": "JSON", "fits": "FITS", "ecsv": "ECSV", "csv": "CSV"}


def a_format(kind: str) -> str:
    """``a FITS``, ``an ECSV``: the name of the table format ``kind`` (:data:`FORMAT_NAMES`) with
    its article, for a message ('an' before a vowel: each name is said as it is spelt)."""
    name = FORMAT_NAMES[kind]
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def _split(name: str) -> tuple[str, str]:
    """``name`` (lower case) without the compression suffix it ends in, and that suffix ('' if none)."""
    name = name.lower()
    ending = next((c for c in CSV_COMPRESSIONS if name.endswith(c) and len(name) > len(c)), "")
    return name.removesuffix(ending), ending


def table_format(name: str) -> tuple[str, str]:
    """The format (a key of :data:`FORMAT_SUFFIXES`, or ``csv``) and the compression suffix
    ('' for none, e.g. ``.gz``) that the table file name ``name`` says."""
    base, compression = _split(PurePath(name).name)
    kind = next((k for k, suffixes in FORMAT_SUFFIXES.items() if base.endswith(suffixes)), "csv")
    return kind, compression


def names_a_table(name: str) -> bool:
    """Whether the file name ``name`` says a table of rows as tinylens reads them: a CSV table,
    maybe compressed (``inspect.csv.gz``), a Parquet table (``.parquet``, ``.pq``), or a FITS or
    ECSV table, maybe compressed (:func:`table_format`); not another file (``ids.txt``, ``truth.json``)."""
    kind, compression = table_format(name)
    plain = PurePath(name).name.lower().removesuffix(compression)
    return kind in ("fits", "ecsv") or (kind == "parquet" and not compression) or plain.endswith(".csv")


def table_name_problem(name: str) -> str | None:
    """Why no table can be written under ``name`` in the format it says (a compression that format
    does not take: ``summary.parquet.gz``, ``summary.json.zip``; one whose package is not installed:
    ``summary.csv.zst`` without zstandard), or None when it can."""
    kind, compression = table_format(name)
    plain = PurePath(name).name[:-len(compression)] if compression else name
    package = NEEDS_PACKAGE.get(compression) if compression in COMPRESSIONS[kind] else None
    if package is not None and find_spec(package) is None:
        return (f"a table compressed as {compression} needs the {package} package, which is not installed here "
                f"(pip install {package}); name it {plain}.gz or {plain}")
    if not compression or compression in COMPRESSIONS[kind]:
        return None
    if not COMPRESSIONS[kind]:
        return (f"{a_format(kind)} table compresses its columns itself and is not compressed again as "
                f"{compression}; name it {plain}")
    allowed = ", ".join(COMPRESSIONS[kind][:-1]) + f" or {COMPRESSIONS[kind][-1]}"
    return (f"{a_format(kind)} table is compressed as {allowed} only, not as {compression}; "
            f"name it {plain}{COMPRESSIONS[kind][0]} or {plain}")
