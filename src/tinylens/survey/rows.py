"""A survey's rows: the one flat row each lens's task returns (:func:`flat_row` of a fit's result,
:func:`failed_row` of a lens that could not be fitted, its reason one line cut to
:data:`MAX_REASON` characters), written as ``row.json`` beside the fit's ``result.json``
(:func:`write_row`) and read back when the survey is started again (:func:`read_rows`,
:func:`result_row` of a fit whose row was not written).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.errors import DataWarning, TinyLensError, listed
from tinylens.filenames import LENSES_DIR
from tinylens.jsonfile import read_json_file, read_result_json
from tinylens.survey.discovery import Lens

#: Longest failure reason kept in a row.
MAX_REASON = 500

#: Row suffix -> (statistic, index) in a ``result.json`` entry; ``None``: the value itself.
STATISTICS: dict[str, tuple[str, int | None]] = {
    "median": ("median", None),
    "lo68": ("interval_68", 0),
    "hi68": ("interval_68", 1),
    "lo997": ("interval_997", 0),
    "hi997": ("interval_997", 1),
}
SCALARS = ("log_evidence", "n_likelihood_evals", "wall_time_s", "total_time_s")
ID_COLUMNS = ("lens_id", "status", "reason")
#: From the fit's quality assessment (tinylens.results.quality): filter a catalogue on ``trusted``;
#: ``critical_flags`` are the raised flags that made a lens untrusted (the template's ``quality.critical``).
QUALITY_COLUMNS = ("trusted", "flags", "critical_flags")


# -- rows -------------------------------------------------------------------------------------
def flat_row(lens_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """One catalogue row from a fit's ``result.json`` content (or ``FitResult.to_json()``).

    ``trusted``, ``flags`` and ``critical_flags`` (comma-separated: the raised flags, and those
    of them that the fit's ``quality.critical`` holds) of the quality assessment; for every free
    parameter and derived quantity ``<name>``: ``<name>_median``, ``_lo68``, ``_hi68``,
    ``_lo997``, ``_hi997``; then ``log_evidence``, ``n_likelihood_evals``, ``wall_time_s``,
    ``total_time_s``.
    """
    from tinylens.results.quality import raised_critical

    stats = {
        name: {"median": result["median"][name], "interval_68": result["interval_68"][name],
               "interval_997": result["interval_997"][name]}
        for name in result["median"]
    }
    stats.update(result.get("derived") or {})
    row: dict[str, Any] = {"lens_id": lens_id, "status": "ok", "reason": ""}
    quality = result.get("quality") or {}
    row["trusted"] = quality.get("trusted")
    row["flags"] = ",".join(quality.get("flags", []))
    row["critical_flags"] = ",".join(raised_critical(quality))
    for name, entry in stats.items():
        for suffix, (key, index) in STATISTICS.items():
            value = entry.get(key)
            if index is not None:
                value = value[index] if value is not None else None
            row[f"{name}_{suffix}"] = _number(value)
    for key in SCALARS:
        row[key] = _number(result.get(key))
    return row


def _number(value: Any) -> float | int | None:
    """A JSON number (``None`` for a missing value)."""
    if value is None:
        return None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else float(value)


def failed_row(lens_id: str, reason: str) -> dict[str, Any]:
    """The row of a lens that could not be fitted."""
    return {"lens_id": lens_id, "status": "failed", "reason": reason}


def describe_exception(exc: BaseException) -> str:
    """A one-line reason: the message of a user error, ``Type: message`` otherwise."""
    return one_line(str(exc) if isinstance(exc, TinyLensError) else f"{type(exc).__name__}: {exc}",
                    type(exc).__name__)


def one_line(text: str, empty: str = "") -> str:
    """``text`` as a row's reason: on one line, cut to :data:`MAX_REASON` (:func:`row_text`);
    ``empty`` if it is blank."""
    return row_text(" ".join(text.split()) or empty)


def row_text(text: str) -> str:
    """``text`` whole where it has at most :data:`MAX_REASON` characters; else its start and its
    end, where a message says what to do, about half each, with what was cut from the middle said
    between them (``'Output folder ... [349 of 812 characters cut] ... run the fit again to resume it.'``),
    the whole within :data:`MAX_REASON`, so that a reader of the catalogue sees that it was cut, by
    how much, and the advice that ends it. Each part is cut at a space where one is near."""
    if len(text) <= MAX_REASON:
        return text
    width = len(str(len(text)))  # the count cut has no more digits than the length
    room = MAX_REASON - len(f" ... [{'9' * width} of {len(text)} characters cut] ... ")
    head, tail = _word_cut(text[: (room + 1) // 2], end=True), _word_cut(text[len(text) - room // 2:], end=False)
    return f"{head} ... [{len(text) - len(head) - len(tail)} of {len(text)} characters cut] ... {tail}"


#: How far back :func:`_word_cut` looks for a space to cut at.
WORD_CUT_REACH = 20


def _word_cut(part: str, end: bool) -> str:
    """``part`` of a text cut at a space within :data:`WORD_CUT_REACH` characters of its ``end``
    (else of its start), where there is one, so that no word is cut in two; stripped of spaces."""
    at = part.rfind(" ", len(part) - WORD_CUT_REACH) if end else part.find(" ", 0, WORD_CUT_REACH)
    if at > 0 or (at == 0 and not end):
        part = part[:at] if end else part[at:]
    return part.strip()


def write_row(folder: str | Path, row: Mapping[str, Any]) -> Path:
    """Write ``row`` as ``folder/row.json`` atomically."""
    from tinylens.results.tables import write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return write_json(folder / filenames.ROW, row)


def read_row(path: Path, lens_id: str | None = None) -> dict[str, Any] | None:
    """The row in ``path`` (``None`` if missing, unreadable, not a row, or the row of another
    lens than ``lens_id`` when that is given)."""
    try:
        row = read_json_file(path)
    except (OSError, ValueError):
        return None
    if not (isinstance(row, dict) and row.get("status") in ("ok", "failed")):
        return None
    return row if lens_id is None or row.get("lens_id") == lens_id else None


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    """Distinct warning messages as one line, cut to :data:`MAX_REASON` (:func:`row_text`)."""
    texts = dict.fromkeys(" ".join(str(w.message).split()) for w in caught)
    return row_text("; ".join(texts))


def read_rows(out: str | Path) -> dict[str, dict[str, Any]]:
    """The rows in ``out/lenses/*/row.json``, by lens id (unreadable files are skipped); an ok
    row written before ``critical_flags`` existed gets it from its fit's ``result.json``."""
    rows, foreign = {}, {}
    for path in sorted((Path(out) / LENSES_DIR).glob(f"*/{filenames.ROW}")):
        row = read_row(path)
        if row is None:
            continue
        if row.get("lens_id") != path.parent.name:
            foreign[path.parent.name] = str(row.get("lens_id"))
            continue
        if row["status"] == "ok" and "critical_flags" not in row:
            from tinylens.results.quality import raised_critical  # JAX: only for such a row

            try:
                quality = read_result_json(path.parent / filenames.RESULT).get("quality") or {}
                row["critical_flags"] = ",".join(raised_critical(quality))
            except (OSError, ValueError, AttributeError, TypeError):  # TypeError: flags or critical no list (NaN, 5)
                pass  # no readable result.json, or no quality it can be told from: the column stays empty
        rows[path.parent.name] = row
    if foreign:
        warnings.warn(foreign_rows_text(Path(out) / LENSES_DIR, foreign), DataWarning, stacklevel=2)
    return rows


def foreign_rows_text(folder: Path, foreign: Mapping[str, str]) -> str:
    """What :func:`read_rows` says of the row.json files in ``folder`` that hold another lens's row
    (``foreign``: the lens whose folder it is, and the lens of its row), for one file or for more."""
    held = listed([f"{k} holds {v}" for k, v in sorted(foreign.items())])
    if len(foreign) == 1:
        return (f"1 row.json file in {folder} holds another lens's row (copied between lens folders?): {held}. It is "
                "not taken for this lens's result, which is fitted again.")
    return (f"{len(foreign)} row.json files in {folder} hold another lens's row (copied between lens folders?): "
            f"{held}. They are not taken for these lenses' results, which are fitted again.")


def is_done(row: Mapping[str, Any] | None, lens_out: Path, retry_failed: bool = False) -> bool:
    """Whether a lens needs no fit: ``ok`` with its ``result.json``, or ``failed`` (unless retried)."""
    if row is None:
        return False
    if row.get("status") == "ok":
        return (lens_out / filenames.RESULT).exists()
    return row.get("status") == "failed" and not retry_failed


def recovered_row(lens: Lens, out: Path) -> dict[str, Any] | None:
    """The row of ``lens`` rebuilt from its ``result.json`` (``None``: there is none, it cannot
    be read, or it is another lens's, copied here; the lens is then fitted again)."""
    return result_row(lens.lens_id, lens.output(out) / filenames.RESULT)


def result_row(lens_id: str, result_path: Path) -> dict[str, Any] | None:
    """The row of lens ``lens_id`` from the ``result.json`` at ``result_path`` (``None``: there is
    none, it cannot be read, or it is another lens's, copied there)."""
    if not result_path.exists():
        return None
    try:
        result = read_result_json(result_path)
    except (OSError, ValueError):
        return None
    return row_of_result(lens_id, result)


def row_of_result(lens_id: str, result: Any) -> dict[str, Any] | None:
    """The row of lens ``lens_id`` from the parsed ``result.json`` ``result`` (``None``: not a
    result this row can be made of, or another lens's, copied there)."""
    try:
        row = flat_row(lens_id, result)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    written_in = result.get("output_dir")
    if isinstance(written_in, str) and Path(written_in).name != lens_id:
        return None
    return row
