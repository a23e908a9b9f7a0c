"""True parameter values of a simulated lens, keyed like the fitted parameters.

``tinylens demo`` and ``tinylens simulate-population`` write a ``truth.json`` beside each lens
whose ``params`` maps every parameter (``lens_mass.0.theta_E``, ``source_light.0.e1``...) to its
true value. ``tinylens fit --truth truth.json`` (``tinylens.fit(..., truth=...)``) marks those
values on the corner plot and prints the fit beside them.
"""

from __future__ import annotations

import errno
import json
import math
import numbers
import warnings

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tinylens.errors import DataError, DataWarning, counted, cut_value, listed, ls_command, outside_stacklevel
from tinylens.jsonfile import parse_json, read_json_text, special_kind

#: A simulated lens's true values, in its folder beside its images.
TRUTH_FILE = "truth.json"
#: What :func:`tinylens.fit` does with true values it cannot use (``truth_errors=``): raise the
#: error, or warn (a :class:`~tinylens.errors.DataWarning`) and fit without them.
TRUTH_ERRORS = ("raise", "warn")


def flat_params(components: Mapping[str, Sequence[Mapping[str, float]]]) -> dict[str, float]:
    """``{'lens_mass.0.theta_E': ..., ...}`` from ``{'lens_mass': [{'theta_E': ...}, ...], ...}``."""
    return {f"{kind}.{i}.{name}": float(value)
            for kind, comps in components.items() for i, comp in enumerate(comps) for name, value in comp.items()}


def _scalar(value: object) -> object:
    """``value``, or the number a 0-d array of integers or floats holds (``np.array(1.2)``, a JAX
    scalar such as ``jnp.median(draws)``, which are no :class:`numbers.Real`), as a Python number;
    an array of booleans, of complex numbers or of more than one value is left as it is, and so is
    a masked value (``np.ma.masked``: an astropy table row's empty cell), whose ``item()`` is the
    number hidden under the mask (0.0), no true value."""
    if getattr(value, "shape", None) == () and getattr(getattr(value, "dtype", None), "kind", None) in ("i", "u", "f"):
        if np.ma.is_masked(value):
            return value
        try:
            return value.item()  # type: ignore[attr-defined]
        except (AttributeError, TypeError, ValueError):
            return value
    return value


def _is_number(value: object) -> bool:
    value = _scalar(value)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float's range
        return False


#: The most characters of a value that a message shows (a 400-digit integer is cut).
SHOWN_VALUE_CHARS = 40


def shown_value(value: object, limit: int = SHOWN_VALUE_CHARS) -> str:
    """``value``'s type and repr, cut to about ``limit`` characters: ``str '1.2'``, ``bool True``."""
    return f"{type(value).__name__} {cut_value(repr(value), limit, value)}"


def _numbers(values: Mapping, source: str) -> dict[str, float]:
    """``values`` as ``{str: float}``; a value that is not a finite number is a DataError naming
    ``source``, the key and the value given."""
    bad = {str(key): value for key, value in values.items() if not _is_number(value)}
    if bad:
        got = listed([f"{key} = {shown_value(value)}" for key, value in bad.items()])
        raise DataError(f"{source}: the true value of {listed(list(bad))} is not a finite number (got {got}).")
    return {str(key): float(_scalar(value)) for key, value in values.items()}


def read_truth(path: str | Path) -> dict[str, float]:
    """The true values in the JSON file ``path``: its ``params`` mapping (the ``truth.json`` of
    ``tinylens demo`` or ``simulate-population``), else the file's own mapping of names to numbers.

    A file that is not such JSON, or a value that is not a finite number, raises
    :class:`~tinylens.errors.DataError` naming the file (and the key), as does one that cannot be
    read (this user may not read it or enter its folder: :func:`unreadable_text`).
    """
    try:
        return _read_truth(Path(path))
    except OSError as exc:  # PermissionError above all: Path.read_text's, or Path.exists' in a folder not entered
        raise DataError(unreadable_text(str(path), exc)) from None


def unreadable_text(source: str, exc: OSError) -> str:
    """What is said of the truth file ``source`` that ``exc`` stopped from being read: its name,
    the system's reason, and what to check (that it is a file this user may read, in folders this
    user may enter, on a disk that is there), or to give another."""
    reason = exc.strerror or type(exc).__name__
    ls = ls_command(source, option="-l")
    return (f"{source}: could not be read ({reason}). Check that it is a file this user may read, in folders this user "
            f"may enter ({ls}), on a disk that is mounted; or give another truth file (the truth.json of tinylens "
            "demo or simulate-population).")


def _read_truth(path: Path) -> dict[str, float]:
    """:func:`read_truth` of ``path``, its OSErrors left to it."""
    if str(path).lstrip().startswith("{") and not _exists(path):  # --truth '{"lens_mass.0.theta_E": 1.2}'
        raise DataError(f"The truth file {str(path)!r} does not exist: it looks like the JSON text itself, but the "
                        "truth is read from a file. Write that JSON object to a file (e.g. truth.json) and give its "
                        "path (in Python, the values may be given as a dict).")
    if path.is_dir() and (path / TRUTH_FILE).is_file():  # a lens's folder: its truth.json is meant
        raise DataError(f"The truth file {path} is a folder: give the {TRUTH_FILE} in it, {path / TRUTH_FILE}.")
    if not path.is_file():
        what = ("is a folder" if path.is_dir() else "does not exist" if not path.exists() else
                f"is {special_kind(path.stat().st_mode)}, not a file")
        raise DataError(f"The truth file {path} {what}: give the truth.json of tinylens demo or simulate-population.")
    text = None
    try:
        text = read_json_text(path)
        content = parse_json(text, non_finite=True)  # a NaN is refused below, naming its key
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if text is not None and not text.strip():
            raise DataError(f"The truth file {path} is empty ({'0 bytes' if not text else 'white space only'}): give "
                            "the truth.json of tinylens demo or simulate-population.") from None
        raise DataError(f"{path}: not a JSON file of true parameter values ({exc}).{_table_hint(path, text)}") from None
    values = content.get("params", content) if isinstance(content, dict) else None
    if not isinstance(values, dict) or not values:
        raise DataError(f"{path}: expected a JSON object of true values, e.g. "
                        '{"lens_mass.0.theta_E": 1.2}, or one with such a "params" object (as the truth.json '
                        "that tinylens demo and simulate-population write).")
    return _numbers(values, str(path))


def _exists(path: Path) -> bool:
    """Whether something is at ``path``; False for a name too long for the system (a JSON text of
    many values given as a path: Path.exists raises ENAMETOOLONG); other OSErrors raised."""
    try:
        return path.exists()
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        return False


#: Suffixes of the tables of many lenses' true values that simulate-population writes (truth.csv, truth.parquet).
POPULATION_SUFFIXES = (".csv", ".parquet")


def _table_hint(path: Path, text: str | None = None) -> str:
    """For a table of many lenses' true values given as one lens's (``truth.csv``, or any table
    name :func:`~tinylens.results.table_formats.names_a_table` knows: ``truth.fits``,
    ``truth.ecsv``, ``truth.csv.gz``), what to give instead, with its leading space; empty for
    another file. ``text``: the file's, where read as text; a CSV or ECSV file of a header line
    alone (no row below it, ``#`` comment lines not counted) is said to be a table with no rows."""
    from tinylens.results.table_formats import a_format, names_a_table, table_format

    if not names_a_table(path.name):
        return ""
    try:
        first = next((p / TRUTH_FILE for p in sorted(path.parent.iterdir()) if (p / TRUTH_FILE).is_file()), None)
    except OSError:
        first = None
    suffix, (kind, compression) = path.suffix.lower(), table_format(path.name)
    table = (f"simulate-population's truth{suffix}" if suffix in POPULATION_SUFFIXES
             else f"{a_format(kind)} table")
    lines = [line for line in (text or "").splitlines() if line.strip() and not line.lstrip().startswith("#")]
    header_only = text is not None and kind in ("csv", "ecsv") and not compression and len(lines) <= 1  # not FITS's
    what = ("a table with no rows (a header line only)" if header_only
            else f"a table of many lenses ({table}, which 'tinylens report --truth' reads)")
    return (f" It is {what}; a fit takes its lens's own {TRUTH_FILE}, in the lens's folder"
            + (f" (e.g. {first})." if first is not None else "."))


def check_truth(truth: Mapping[str, float], param_names: Sequence[str], source: str = "truth") -> dict[str, float]:
    """The values of ``truth`` (name -> true value) for the free parameters ``param_names``, in
    their order (the rest, e.g. fixed parameters, are dropped), each component's values those of
    the model's component they describe (:func:`in_model_order`: a truth of ``[SIE, SHEAR]`` for a
    model of ``[SHEAR, SIE]``). None of them free, or a value that
    is not a finite number, raises :class:`~tinylens.errors.DataError` naming ``source``; so does a
    ``truth`` that is no mapping (a pandas Series, whose ``items`` are name and value, is one, and so
    is an astropy table's ``Row``, whose ``keys`` are the names), and
    a table of them (a pandas DataFrame, whose items are columns: :func:`_refuse_table`). A
    value that is no number under a name of no component (a truth table's row: its ``lens_id``) is
    dropped, as a number there is."""
    if not callable(getattr(truth, "items", None)) and callable(getattr(truth, "keys", None)) and hasattr(truth, "__getitem__"):
        truth = {key: truth[key] for key in truth.keys()}  # an astropy table's Row: keys and values, no items
    if not callable(getattr(truth, "items", None)):
        from tinylens.config.loader import not_a_path

        raise DataError(f"{source}: expected a mapping of parameter name to true value, e.g. "
                        f"{{'lens_mass.0.theta_E': 1.2}}, or the path of a truth.json; "
                        f"{not_a_path(truth, _of_result(truth))}")
    _refuse_table(truth, source)
    given = list(truth.keys())
    truth = _numbers({key: value for key, value in truth.items()
                      if _is_number(value) or _component(str(key)) is not None}, source)
    matched = in_model_order(truth, param_names)
    kept = {name: matched[name] for name in param_names if name in matched}
    if not kept:
        raise DataError(f"{source}: none of its parameters ({listed(list(map(str, given)))}) is a free parameter of "
                        f"the model ({listed(list(param_names))}); the names are like lens_mass.0.theta_E.")
    return kept


def _of_result(result: object) -> str:
    """What of a :class:`~tinylens.fit.FitResult` given as a truth to give instead: its ``truth``, the
    true values its own fit was given (a result's repr, cut, named no truth and said nothing of it),
    or a truth.json's path, said where that fit was given none."""
    none = getattr(result, "truth", None) is None
    return ("result.truth, the true values its fit was given" + (" (this one's is None: its fit was given no truth)"
                                                                  if none else "") + f", or the path of a {TRUTH_FILE}")


def _refuse_table(truth: Mapping, source: str) -> None:
    """A :class:`~tinylens.errors.DataError` naming ``source`` where ``truth`` is a table (a pandas
    DataFrame or an astropy Table, such as ``truth[truth.lens_id == "lens_00000"]`` of simulate-population's
    ``truth.csv``), whose items are its columns: each parameter's value a column of values, which
    was said to be 'not a finite number', every column's rows shown. It says to give one row."""
    columns = [value for key, value in truth.items() if _component(str(key)) is not None]
    if not columns or not all(isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) == 1 for value in columns):
        return
    rows = len(columns[0])
    raise DataError(f"{source}: got a table ({type(truth).__name__} of {counted(rows, 'row')}, a column of values per "
                    "parameter); give the true values of one lens, one row of it: table.iloc[0], or for "
                    "simulate-population's truth.csv table.set_index('lens_id').loc['lens_00000'] (a pandas Series; "
                    "of an astropy Table, table[0]).")


def _component(name: str) -> tuple[str, int, str] | None:
    """``('lens_mass', 1, 'theta_E')`` of ``lens_mass.1.theta_E``; None for a name of no component."""
    kind, index, param = (name.split(".", 2) + ["", ""])[:3]
    return (kind, int(index), param) if index.isdigit() and param else None


def _by_component(names: Sequence[str]) -> dict[tuple[str, int], set[str]]:
    """The parameter names of each ``(kind, index)`` component among ``names``."""
    out: dict[tuple[str, int], set[str]] = {}
    for parts in filter(None, map(_component, names)):
        out.setdefault(parts[:2], set()).add(parts[2])
    return out


def component_matches(truth_names: Sequence[str], param_names: Sequence[str]) -> dict[tuple[str, int], int]:
    """For each component of the truth, ``(kind, index)``, the index of the model's component of
    that kind it describes: the pairing that shares the most parameter names, the same index
    where two pairings share as many. A truth listing ``[SIE, SHEAR]`` (simulate-population's)
    for a model listing ``[SHEAR, SIE]`` is thus read crosswise; one that shares no name with
    any component of the model is left out."""
    from scipy.optimize import linear_sum_assignment

    truth_parts, model_parts = _by_component(truth_names), _by_component(param_names)
    out: dict[tuple[str, int], int] = {}
    for kind in {k for k, _ in truth_parts}:
        ours = sorted(i for k, i in truth_parts if k == kind)
        theirs = sorted(i for k, i in model_parts if k == kind)
        shared = np.array([[len(truth_parts[kind, t] & model_parts[kind, m]) for m in theirs] for t in ours])
        if not shared.size:
            continue
        score = shared * (len(ours) + len(theirs) + 1) + np.equal.outer(ours, theirs)  # a tie keeps the index
        for t, m in zip(*linear_sum_assignment(score, maximize=True)):
            if shared[t, m]:
                out[kind, ours[t]] = theirs[m]
    return out


def in_model_order(truth: Mapping[str, float], param_names: Sequence[str]) -> dict[str, float]:
    """``truth`` with each component's values named for the model's component they describe
    (:func:`component_matches`); a truth component that describes none is dropped, names of no
    component are kept as they are."""
    matches = component_matches(list(truth), param_names)
    out: dict[str, float] = {}
    for name, value in truth.items():
        parts = _component(name)
        if parts is None:
            out[name] = value
        elif parts[:2] in matches:
            out[f"{parts[0]}.{matches[parts[:2]]}.{parts[2]}"] = value
    return out


def truth_step(step: Callable[[], dict[str, float]], source: str, errors: str = "raise") -> dict[str, float] | None:
    """``step()`` (:func:`read_truth` or :func:`check_truth`). With ``errors="warn"`` a DataError
    or OSError out of it is a :class:`~tinylens.errors.DataWarning` naming ``source``, and ``None``."""
    if errors == "raise":
        return step()
    try:
        return step()
    except (DataError, OSError) as exc:
        text = str(exc) if isinstance(exc, DataError) else unreadable_text(source, exc)
        warnings.warn(f"{text} The truth is not marked on the corner plot.",
                      DataWarning, stacklevel=outside_stacklevel())
        return None
