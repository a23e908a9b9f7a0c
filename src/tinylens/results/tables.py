"""Tables and ``result.json``: weighted summaries, output folders.

Every file is written to a temporary name in its folder and then ``os.replace``-d into place,
so an interrupted fit never leaves a half-written file under a final name (:mod:`tinylens.atomic`,
whose functions are also imported from here).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import math
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tinylens.atomic import (UNFINISHED_NAME, atomic_path, errors_naming,  # noqa: F401 (also imported from here)
                              remove_all_unfinished, remove_unfinished, replace_together, temporary_beside,
                              write_atomic, write_together)
from tinylens.errors import OUTPUT_FOLDER_CHOICE, OutputError, plural
from tinylens.paths import reachable
from tinylens.results.table_formats import FORMAT_NAMES, table_format, table_name_problem

#: Percentiles of the 68 % and 99.7 % (3 sigma) central intervals.
INTERVALS = {"interval_68": (16.0, 84.0), "interval_997": (0.135, 99.865)}
SUMMARY_COLUMNS = ("parameter", "median", "percentile_16", "percentile_84", "percentile_0.135", "percentile_99.865")
#: Units of the parameters and derived quantities that have one, by the last part of their name
#: (``lens_mass.0.theta_E``: ``theta_E``); the rest (``e1``, ``q``, ``gamma``, shears...) have none.
UNITS = {"theta_E": "arcsec", "center_x": "arcsec", "center_y": "arcsec", "R_sersic": "arcsec", "sigma": "arcsec",
         "ra_0": "arcsec", "dec_0": "arcsec",  # the external shear's centre
         "phi_deg": "deg", "phi_ext_deg": "deg"}
#: What the columns of the samples and summary tables hold, written into an ECSV or FITS table.
COLUMN_DESCRIPTIONS = {
    "weight": "posterior weight of the sample (the weights sum to 1 but for the negligible samples left out)",
    "log_likelihood": "log-likelihood of the sample",
    "parameter": "free parameter, derived quantity or log_evidence",
    "median": "posterior median (log_evidence: its value)",
    "percentile_16": "16th posterior percentile, low end of the 68 % central interval",
    "percentile_84": "84th posterior percentile, high end of the 68 % central interval",
    "percentile_0.135": "0.135th posterior percentile, low end of the 99.7 % central interval",
    "percentile_99.865": "99.865th posterior percentile, high end of the 99.7 % central interval",
    "kind": "free (a sampled parameter), derived or evidence",
}


def column_unit(name: str) -> str | None:
    """The unit of the parameter column ``name`` (:data:`UNITS`; a free offset's, ``..._offset``,
    is its parameter's), or None: none, or not a parameter."""
    from tinylens.config.model_spec import OFFSET_SUFFIX

    if "." not in name:
        return None
    return UNITS.get(name.rsplit(".", 1)[1].removesuffix(OFFSET_SUFFIX))


def file_in_the_way(folder: str | Path) -> Path | None:
    """The file at ``folder``, or at one of its parents, that stops it being a folder (None: none;
    a name the system refuses to look at, too long for it, holds no file)."""
    folder = Path(folder)
    return next((p for p in (folder, *folder.parents) if reachable(p) and not p.is_dir()), None)


#: The name of the empty file :func:`ensure_writable` writes and deletes at once to test a folder,
#: ``.write-test-XXXXXXXX`` (the X's eight of ``tempfile``'s random characters): what a process
#: killed just then leaves, never an output.
WRITE_TEST_NAME = re.compile(r"\.write-test-[a-z0-9_]{8}")


def ensure_writable(folder: str | Path, choose: str = f"another {OUTPUT_FOLDER_CHOICE}",
                    what: str = "Output folder") -> Path:
    """Create ``folder`` if needed and check a file can be written there (:data:`WRITE_TEST_NAME`),
    else OutputError "``what`` FOLDER cannot be written (why). Choose ``choose``." (``choose``: what
    the caller's user sets to pick the folder), with the empty folders it made on the way removed
    again (:func:`remove_empty_folders`): a name too long for the system below new folders left them behind."""
    folder = Path(folder)
    made = missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        remove_empty_folders(made)
        blocked = file_in_the_way(folder)
        why = f"{blocked} is a file, not a folder" if blocked is not None else err.strerror or type(err).__name__
        raise OutputError(f"{what} {folder} cannot be written ({why}). Choose {choose}.") from None
    return folder


def written_owner(folder: str | Path) -> int | None:
    """The user id that the system shows as the owner of an empty file this process writes in
    ``folder`` (:data:`WRITE_TEST_NAME`, deleted at once): this process's own on a local disk, but
    another on a network file system that does not show the real owner (NFS with all_squash or
    root_squash; a broken NFSv4 id mapping, where every file shows as ``nobody``), where the owners
    shown there tell nothing of whose a file is. None where no file can be written there or looked at."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-") as probe:
            return os.stat(probe.name).st_uid
    except OSError:
        return None


def missing_folders(folder: str | Path) -> list[Path]:
    """The folders that :func:`ensure_writable` would create for ``folder``: ``folder`` and its
    parents up to the first that exists, deepest first (empty when ``folder`` exists), named as
    the system finds them once made (:func:`os.path.realpath`): in ``typo/../results``, where
    ``typo`` is not there, no name is found until ``typo`` is made, and then the folder is
    ``results``, which may hold the user's files (a folder ``typo``, made on the way, is left)."""
    real = Path(os.path.realpath(folder))
    missing = []
    for path in (real, *real.parents):
        if os.path.lexists(path):  # (a link, even to nothing, is there; a name the system refuses, too long, is not)
            break
        missing.append(path)
    return missing


def remove_made_folders(made: list[Path]) -> None:
    """Undo the making of the folders ``made`` (:func:`missing_folders`, taken before): remove the
    first, with what it holds, and each of its parents that is empty now (a parent that holds
    anything, the user's or another process's, is kept: :func:`remove_empty_folders`)."""
    if made:
        shutil.rmtree(made[0], ignore_errors=True)
        remove_empty_folders(made[1:])


def remove_empty_folders(made: list[Path]) -> None:
    """Remove the folders ``made`` (:func:`missing_folders`, deepest first) while each is empty:
    one that holds anything (another process's, made there meanwhile) is kept, and its parents."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            if os.path.lexists(folder):  # not empty, or not ours to remove
                return  # else never made: the system refused its name


def unwritable_file(path: str | Path) -> str | None:
    """Why a file could not be written at ``path`` (a folder there, or no folder for it), for a
    script to say before its work rather than fail after it; None when nothing stands in the way."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a folder; give a file name"
    if not path.parent.is_dir():
        return f"no folder {path.parent}"
    return None


def weighted_percentiles(values: np.ndarray, weights: np.ndarray | None, q: Any) -> np.ndarray:
    """Percentiles ``q`` (0-100) of ``values`` (along axis 0) under ``weights``; NaNs ignored."""
    values = np.asarray(values, dtype=float)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(values) & (w > 0)
    if not ok.any():
        return np.full(np.shape(q), np.nan)
    return np.percentile(values[ok], q, weights=w[ok], method="inverted_cdf")


def statistics(values: np.ndarray, weights: np.ndarray | None = None) -> dict[str, Any]:
    """Median and the 68 % / 99.7 % central intervals of one quantity."""
    p = weighted_percentiles(values, weights, [50.0, *INTERVALS["interval_68"], *INTERVALS["interval_997"]])
    return {
        "median": float(p[0]),
        "interval_68": [float(p[1]), float(p[2])],
        "interval_997": [float(p[3]), float(p[4])],
    }


def summarize(columns: Mapping[str, np.ndarray], weights: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """:func:`statistics` of each column, by name."""
    return {name: statistics(v, weights) for name, v in columns.items()}


def summary_frame(
    params: Mapping[str, dict[str, Any]], derived: Mapping[str, dict[str, Any]], log_evidence: float | None
) -> pd.DataFrame:
    """One row per free parameter, then per derived quantity, then ``log_evidence``.

    Columns: ``parameter, median, percentile_16, percentile_84, percentile_0.135, percentile_99.865,
    kind`` (free | derived | evidence): the median, the 68 % and the 99.7 % central intervals.
    """
    def values(s: Mapping[str, Any]) -> dict[str, Any]:
        (lo68, hi68), (lo997, hi997) = s["interval_68"], s["interval_997"]
        return {"median": s["median"], "percentile_16": lo68, "percentile_84": hi68, "percentile_0.135": lo997,
                "percentile_99.865": hi997}

    rows = [{"parameter": k, **values(s), "kind": "free"} for k, s in params.items()]
    rows += [{"parameter": k, **values(s), "kind": "derived"} for k, s in derived.items()]
    if log_evidence is not None:
        rows.append({"parameter": "log_evidence", "median": log_evidence, "kind": "evidence"})
    return pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, "kind"])


#: Samples lighter than this times the heaviest are left out of the samples table: together they
#: carry a negligible share of the posterior (a nested sampler's early points), and a survey keeps
#: one table per lens.
MIN_RELATIVE_WEIGHT = 1e-10


def samples_frame(param_names, samples: np.ndarray, weights: np.ndarray, log_likelihood: np.ndarray) -> pd.DataFrame:
    """Posterior samples: one column per parameter, then ``weight`` and ``log_likelihood``
    (samples of negligible weight, below :data:`MIN_RELATIVE_WEIGHT` x the largest, left out)."""
    weights = np.asarray(weights, dtype=float)
    keep = weights >= MIN_RELATIVE_WEIGHT * weights.max()
    df = pd.DataFrame(np.asarray(samples, dtype=float)[keep], columns=list(param_names))
    df["weight"] = weights[keep]
    df["log_likelihood"] = np.asarray(log_likelihood, dtype=float)[keep]
    return df


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """``frame`` as CSV, each float in full precision (as ``result.json`` and the Parquet copy),
    compressed as its name says (``.csv.gz``, ``.zip``, ``.tar.gz``...: :data:`CSV_METHODS`); a zip
    or tar archive holds one file, named as the table without the archive's suffix."""
    return write_atomic(path, csv_writer(Path(path).name, frame))


def csv_writer(name: str, frame: pd.DataFrame) -> Callable[[Path], Any]:
    """What writes ``frame`` to a (temporary) file as :func:`write_csv` writes it to a file ``name``."""
    ending = table_format(name)[1]
    method = CSV_METHODS.get(ending)
    if method == "tar":  # pandas takes a tar's compression from the temporary file's name (.GZ: none)
        text = frame.to_csv(index=False).encode("utf-8")
        return lambda tmp: _write_tar(tmp, name[: -len(ending)], text, ending)
    compression: dict[str, str] | None = None if method is None else {"method": method}
    if method == "zip":  # else named after the hidden temporary file, '.result_samples.csv.unfinished-...'
        compression["archive_name"] = name[: -len(ending)]
    return lambda tmp: frame.to_csv(tmp, index=False, compression=compression)


#: pandas's compression method by a CSV name's compression suffix (its ``extension_to_compression``).
CSV_METHODS = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd", ".tar": "tar",
               ".tar.gz": "tar", ".tar.bz2": "tar", ".tar.xz": "tar"}


def _write_tar(path: Path, member: str, content: bytes, ending: str) -> None:
    """A tar archive at ``path`` of one file ``member`` holding ``content``, compressed as the
    suffix ``ending`` says (``.tar``: not at all; ``.tar.gz``, ``.tar.bz2``, ``.tar.xz``)."""
    info = tarfile.TarInfo(member)
    info.size, info.mtime, info.mode = len(content), int(time.time()), 0o644
    with tarfile.open(path, "w:" + ending.removeprefix(".tar").removeprefix(".")) as archive:
        archive.addfile(info, io.BytesIO(content))


def write_table(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` in the format its name's suffix says: Parquet for ``.parquet`` (``.pq``),
    JSON for ``.json`` (:func:`write_json_records`), a FITS table for ``.fits`` (``.fit``,
    ``.fts``), ECSV for ``.ecsv``, else CSV (:func:`write_csv`); a JSON, FITS or ECSV name may
    end in ``.gz``, ``.bz2`` or ``.xz``, a CSV name in any compression pandas knows, and the file
    is compressed so. A name no file of its format can be written under (``summary.parquet.gz``:
    :func:`~tinylens.results.table_formats.table_name_problem`), or of a format that cannot hold
    ``frame`` (:func:`frame_problem`), is a ValueError, before any writing."""
    return write_atomic(path, table_writer(path, frame))


def write_tables(frames: Mapping[Path, pd.DataFrame]) -> list[Path]:
    """Write each frame of ``frames`` (path -> frame) as :func:`write_table` writes it, all or none
    (:func:`~tinylens.atomic.write_together`): a run stopped (Ctrl-C, a full disk) before the last
    is renamed into place leaves every file as it was, so that copies of one table in two formats
    (a survey's catalog.parquet and catalog.csv) never hold different runs. Every name and frame is
    checked (a ValueError, as :func:`write_table` says) before any writing."""
    writers = {Path(path): table_writer(path, frame) for path, frame in frames.items()}
    write_together(writers)
    return list(writers)


def table_writer(path: str | Path, frame: pd.DataFrame) -> Callable[[Path], Any]:
    """What writes ``frame`` to a (temporary) file as :func:`write_table` writes it to ``path``,
    once the name and frame are checked (a ValueError, as :func:`write_table` says)."""
    kind, compression = _table_checked(path, frame)
    if kind == "parquet":
        return lambda tmp: _write_parquet(tmp, frame)
    if kind == "json":
        text = _json_records_text(frame)
        return lambda tmp: tmp.write_bytes(_compressed(text, compression))
    if kind in ("fits", "ecsv"):
        return lambda tmp: tmp.write_bytes(_compressed(_astropy_bytes(frame, kind), compression))
    return csv_writer(Path(path).name, frame)


def _table_checked(path: str | Path, frame: pd.DataFrame) -> tuple[str, str]:
    """The format and compression of a table ``path`` (:func:`table_format`) that ``frame`` can be
    written as; a ValueError where it cannot (:func:`write_table`)."""
    problem = table_name_problem(Path(path).name)
    if problem is not None:
        raise ValueError(f"Table {path} cannot be written: {problem}.")
    kind, compression = table_format(Path(path).name)
    problem = frame_problem(frame, kind)
    if problem is not None:
        raise ValueError(f"Table {path} cannot be written as {FORMAT_NAMES[kind]}: {problem}.")
    return kind, compression


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as Parquet, as pandas writes it, with each text column's longest value (in
    characters, at least 1) recorded as astropy's ``table::len::NAME`` in the file's metadata.
    Without it astropy's ``Table.read`` measures every text value, with a warning per column, and
    on a table of no rows (a survey stopped before its first lens finished) fails with "max() arg
    is an empty sequence".

    A text column holding a missing value gets no length: astropy (8.0) reads a missing text as
    the text "None" cut to the length recorded ("N" where it is 1), whatever it is, and no length
    makes it refuse the file (TypeError) rather than give a value never written; tinylens's own
    tables write "" where a text has nothing to say, so this is for other frames."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    lengths = {}
    for field in table.schema:
        column = table.column(field.name)
        if (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)) and column.null_count == 0:
            values = column.to_pylist()
            lengths[f"table::len::{field.name}".encode()] = str(max([1, *map(len, values)])).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **lengths})
    pq.write_table(table, path)


def read_table_file(path: str | Path) -> pd.DataFrame:
    """The table at ``path``, read in the format and compression its name says
    (:func:`~tinylens.results.table_formats.table_format`), as :func:`write_table` wrote it: each
    float as written, a missing value as NaN. A file that cannot be read raises its reader's error
    (pandas', pyarrow's, astropy's, or an OSError)."""
    path = Path(path)
    kind, compression = table_format(path.name)
    if kind == "parquet":
        return pd.read_parquet(path)
    method = CSV_METHODS.get(compression)
    if kind == "json":
        return pd.read_json(path, precise_float=True, dtype=False, compression=method)
    if kind in ("fits", "ecsv"):
        from astropy.table import Table

        content = _DECOMPRESSORS[compression](path.read_bytes())
        source = io.BytesIO(content) if kind == "fits" else content.decode("utf-8")
        table = Table.read(source, format="fits" if kind == "fits" else "ascii.ecsv")
        table.convert_bytestring_to_unicode()  # a FITS table's text columns are bytes
        return table.to_pandas()
    return pd.read_csv(path, compression=None if method is None else {"method": method})


def frame_problem(frame: pd.DataFrame, kind: str) -> str | None:
    """Why ``frame`` cannot be a table of the format ``kind`` (:func:`table_format`), or None: a
    column name held twice, in any format but CSV (:func:`_repeated_name_problem`), then what FITS
    (:func:`fits_problem`) or Parquet (:func:`parquet_problem`) cannot hold."""
    problem = None if kind == "csv" else _repeated_name_problem(frame, FORMAT_NAMES[kind])
    if problem is None and kind == "fits":
        problem = fits_problem(frame)
    if problem is None and kind == "parquet":
        problem = parquet_problem(frame)
    return problem


def fits_problem(frame: pd.DataFrame) -> str | None:
    """Why ``frame`` cannot be a FITS table, or None: a true/false column with a missing value,
    which a FITS logical column cannot hold (astropy writes it as True, and reads the FITS null
    byte as False), so it would come back as a value that was never there, also as Python objects
    (``[True, None]``); or a column of Python objects other than text (:func:`_object_problem`),
    which astropy refuses with a message that names neither the file nor what to do."""
    for name, column in frame.items():  # by position: frame[name] of a name held twice is a frame
        if _missing_true_false(column):
            rows = np.flatnonzero(column.isna().to_numpy())
            shown = ", ".join(map(str, rows[:5])) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")
            return (f"its true/false column {name!r} is missing in {plural(len(rows), 'row')} {shown} (counting from 0), which a FITS "
                    "logical column cannot hold (it would read back as True or False); name it .ecsv or "
                    ".parquet, which keep a missing value missing")
        if (problem := _object_problem(name, column)) is not None:
            return problem
    return None


def _repeated_name_problem(frame: pd.DataFrame, kind: str) -> str | None:
    """Why ``frame`` cannot be a ``kind`` table (FITS, ECSV, JSON or Parquet), or None: a column
    name held more than once, which astropy's ``Table.from_pandas`` fails on with an AttributeError,
    which JSON's records (one object per row) cannot hold (pandas kept the last column of the name),
    and which pandas refuses for Parquet naming no file."""
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated) == 0:
        return None
    name = repeated[0]
    where = ", ".join(map(str, np.flatnonzero(frame.columns == name)))
    return (f"its column name {name!r} is held more than once (columns {where}, counting from 0), which a {kind} "
            "table cannot hold; give each column its own name")


def parquet_problem(frame: pd.DataFrame) -> str | None:
    """Why ``frame`` cannot be a Parquet table, or None: a column of Python objects of several
    types (``[1.0, 'a']``) or of none Arrow knows, which pyarrow refuses (ArrowInvalid,
    ArrowTypeError) with a message that names neither the file nor what to do."""
    import pyarrow as pa  # only where a Parquet table is written: pyarrow is slow to import

    for name, column in frame.items():  # by position: frame[name] of a name held twice is a frame
        if column.dtype != object:
            continue
        try:
            pa.array(column, from_pandas=True)
        except pa.ArrowException as err:
            types = ", ".join(sorted({type(v).__name__ for v in column}))
            return (f"its column {name!r} holds Python objects ({types}; pandas dtype object) that a Parquet column "
                    f"cannot hold ({err}); give it one type (frame[{name!r}].astype(float) for numbers, "
                    f".astype(str) for text) or name it .ecsv, which keeps them")
    return None


def _missing_true_false(column: pd.Series) -> bool:
    """Whether ``column`` holds true/false values, some missing: a nullable boolean column, or
    one of Python objects (``[True, None]``) whose values other than the missing are all bools."""
    missing = column.isna()
    if not missing.any():
        return False
    if pd.api.types.is_bool_dtype(column.dtype):
        return True
    given = column[~missing]
    return column.dtype == object and len(given) > 0 and all(isinstance(v, (bool, np.bool_)) for v in given)


def _object_problem(name: str, column: pd.Series) -> str | None:
    """Why ``column`` (named ``name``), of pandas dtype object, cannot be a FITS column, or None:
    values other than text and NaN (for a missing one), which astropy cannot write as Python
    objects (``[1.0, 'a']``, ``[1, 2]``, ``['a', None]``)."""
    def writable(value: Any) -> bool:
        return isinstance(value, (str, bytes)) or (isinstance(value, float) and math.isnan(value))

    if column.dtype != object or all(map(writable, column)):
        return None
    types = ", ".join(sorted({type(v).__name__ for v in column}))
    return (f"its column {name!r} holds Python objects ({types}; pandas dtype object), which a FITS column cannot "
            f"hold; give it one type (frame[{name!r}].astype(float) for numbers, .fillna('') for text) or name it "
            ".ecsv, which keeps them")


#: Compressors of a text table by its name's compression suffix (:data:`COMPRESSIONS`).
_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {"": bytes, ".gz": gzip.compress, ".bz2": bz2.compress,
                                                     ".xz": lzma.compress}


#: Decompressors of a JSON, FITS or ECSV table by its name's compression suffix (:data:`_COMPRESSORS`).
_DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {"": bytes, ".gz": gzip.decompress, ".bz2": bz2.decompress,
                                                       ".xz": lzma.decompress}


def _compressed(content: str | bytes, compression: str) -> bytes:
    """``content`` (text as UTF-8), compressed as the suffix ``compression`` ('' for none) says."""
    if compression not in _COMPRESSORS:
        raise ValueError(f"a JSON, FITS or ECSV table is compressed as .gz, .bz2 or .xz only, not as {compression}")
    return _COMPRESSORS[compression](content.encode("utf-8") if isinstance(content, str) else content)


def _astropy_bytes(frame: pd.DataFrame, kind: str) -> bytes:
    """``frame`` as astropy writes it: a FITS table (``kind`` ``fits``) or ECSV text (``ecsv``)."""
    if kind == "ecsv":
        text = io.StringIO()
        _astropy_table(frame).write(text, format="ascii.ecsv")
        return text.getvalue().encode("utf-8")
    data = io.BytesIO()
    _astropy_table(frame).write(data, format="fits")
    return data.getvalue()


def _astropy_table(frame: pd.DataFrame):
    """``frame`` as an astropy ``Table`` (a missing value masked), each column's unit
    (:func:`column_unit`) and description (:data:`COLUMN_DESCRIPTIONS`) set where known."""
    from astropy.table import Table

    table = Table.from_pandas(frame)
    for name in table.colnames:
        table[name].unit = column_unit(name)
        table[name].description = COLUMN_DESCRIPTIONS.get(name)
    return table


def write_json_records(path: str | Path, frame: pd.DataFrame) -> Path:
    """``frame`` as a JSON list of one object per row (``pandas.read_json(path, precise_float=True,
    dtype=False)`` reads it back; without ``dtype=False`` a float column of whole numbers comes
    back as integers), each float in full precision and a missing value as null; one row a line;
    compressed when ``path`` ends in ``.gz``, ``.bz2`` or ``.xz``."""
    text = _json_records_text(frame)
    compression = table_format(Path(path).name)[1]
    return write_atomic(path, lambda tmp: tmp.write_bytes(_compressed(text, compression)))


def _json_records_text(frame: pd.DataFrame) -> str:
    """``frame`` as :func:`write_json_records` writes it, uncompressed."""
    rows = json_records(frame)
    return "[\n" + ",\n".join(json.dumps(_jsonable(row)) for row in rows) + "\n]\n"


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame``'s rows as dicts of plain values, a missing value (NaN, ``pd.NA``) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _jsonable(obj: Any) -> Any:
    """numpy scalars/arrays and paths as plain JSON; non-finite floats as null."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, content: Mapping[str, Any]) -> Path:
    """``content`` as indented JSON (numpy values as plain ones, a non-finite float as null)."""
    return write_atomic(path, json_writer(content))


def json_writer(content: Mapping[str, Any]) -> Callable[[Path], Any]:
    """What writes ``content`` to a (temporary) file as :func:`write_json` writes it."""
    text = json.dumps(_jsonable(content), indent=2)
    return lambda tmp: tmp.write_text(text + "\n")
