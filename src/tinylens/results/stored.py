"""A fit stored as ``result.json``, loaded back: its content, its problem and its best fit."""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylens.errors import (ConfigError, ConfigTypeError, ConfigValueError, DataError, DataWarning, OutputError, counted, cut_value, listed, ls_command,
                             outside_stacklevel, retold)
from tinylens.filenames import RESULT
from tinylens.jsonfile import parse_result_json, read_json_file, read_json_text, read_result_json

if TYPE_CHECKING:  # tinylens.fitting.summary imports this module: FitResult imported lazily
    from tinylens.fitting.summary import FitResult


def result_files(folders) -> list[Path]:
    """``result.json`` files in ``folders``: a survey's ``lenses/*/``, the folders themselves, or
    each one that is itself a ``result.json``. Each file comes once, as first reached, however
    often it is named (a survey and one of its lens folders, ``run`` and ``./run/``)."""
    out, seen = [], set()
    for folder in map(Path, folders):
        if folder.name == RESULT and folder.is_file():
            found = [folder]
        else:
            found = sorted(folder.glob(f"lenses/*/{RESULT}")) or sorted(folder.glob(RESULT))
        for path in found:
            if (key := path.resolve()) not in seen:
                seen.add(key)
                out.append(path)
    return out


def without_results(folders) -> list[str]:
    """The entries of ``folders`` that hold no ``result.json`` (see :func:`result_files`)."""
    return [str(folder) for folder in folders if not result_files([folder])]


def with_config_not_finite(stored: dict[str, Any]) -> dict[str, Any]:
    """The result ``stored`` (a parsed ``result.json``) with its ``config``'s numbers that are not
    finite (``.inf``, ``-.inf``, ``.nan``), which it writes as null, put back where its ``info``
    records them (:func:`~tinylens.survey.provenance.recorded_config`), so that the config reads as
    the fit read it (dynesty's ``enlarge: .inf`` is not its ``null``); as it is where it records none
    (a result.json of an older tinylens: its nulls stay null)."""
    from tinylens.survey.provenance import recorded_config

    restored = recorded_config(stored)
    return stored if restored is None else {**stored, "config": restored}


def stored_dtype(stored: dict[str, Any]) -> Any:
    """The dtype the fit of ``stored`` computed in (its ``info.precision``), to rebuild its problem
    in: float64 turns JAX's x64 on, as :func:`tinylens.set_precision` does. ``None`` (the current
    precision) for results that do not record it."""
    import jax
    import jax.numpy as jnp

    info = stored.get("info")
    precision = info.get("precision") if isinstance(info, dict) else None
    if precision == "float64":
        jax.config.update("jax_enable_x64", True)
        return jnp.float64
    return jnp.float32 if precision == "float32" else None


def stored_base_dir(stored: dict[str, Any], base_dir: str | Path | None) -> tuple[str | Path, str]:
    """The folder a result's relative paths start from, and what it is (for messages):
    ``base_dir`` if given, else the result's ``config_dir``, else (older results) the current folder."""
    if base_dir is not None:
        return base_dir, "the base_dir given to load_stored"
    if stored.get("config_dir") is not None:
        return stored["config_dir"], "the folder of the fit's config, as its result.json's config_dir records"
    return Path.cwd(), "the current folder: the result.json records no config_dir"


#: How :func:`load_stored` takes the folder that moved data are in now, for its messages.
BASE_DIR_OPTION = "load_stored(path, base_dir=...)"


def data_paths(config: Any) -> list[str]:
    """The file paths (``*_path``) of a stored config's ``dataset`` section."""
    dataset = config.get("dataset") if isinstance(config, dict) else None
    if not isinstance(dataset, dict):
        return []
    return [value for key, value in dataset.items() if key.endswith("_path") and isinstance(value, str)]


def moved_data_hint(stored: dict[str, Any], path: Path, base_dir_option: str | None = BASE_DIR_OPTION) -> str:
    """What to do when the data of the result at ``path`` moved: ``base_dir`` (which the caller
    takes as ``base_dir_option``; None: it takes none) moves relative paths only; a survey's lens
    configs name their files by absolute paths."""
    paths = data_paths(stored["config"])
    if paths and all(Path(p).expanduser().is_absolute() for p in paths):
        return (f"Its config names the files by absolute paths: if they moved since the fit, put them back, or "
                f"edit the paths of config.dataset in {path}.")
    if base_dir_option is None:
        return (f"If they moved since the fit, set config_dir in {path} to the folder that the config's relative "
                "paths start from now.")
    return f"If they moved since the fit, give {base_dir_option} the folder that the config's relative paths start from now."


def _result_in(folder: Path) -> str:
    """Where the ``result.json`` of ``folder`` is, for a message: in it (a fit's output folder),
    or one per lens under ``lenses/`` (a survey's output folder)."""
    from tinylens.filenames import LENSES_DIR

    if (folder / RESULT).is_file() or not (folder / LENSES_DIR).is_dir():
        return f"give the result.json inside it ({folder / RESULT})."
    return (f"it holds a survey, whose fits each have a result.json in {folder / LENSES_DIR}/<lens_id>/: "
            f"give one of those (e.g. {folder / LENSES_DIR / '<lens_id>' / RESULT}).")


def load_stored(path: str | Path, base_dir: str | Path | None = None, *,
                base_dir_option: str | None = BASE_DIR_OPTION) -> tuple[dict[str, Any], Any, np.ndarray]:
    """``(content, problem, best)`` of the ``result.json`` at ``path``: the problem from its config
    (relative paths against ``base_dir`` if given, else its ``config_dir``; older results, without
    it, against the current directory; in the precision the fit computed in, :func:`stored_dtype`)
    and the maximum-likelihood vector in the problem's parameter order. A file that is missing, unreadable or not a result,
    or behind a folder this user may not enter, is an :class:`~tinylens.errors.OutputError` naming it; data that cannot be loaded (moved since the
    fit: give ``base_dir``, the folder they are in now, for relative paths) a
    :class:`~tinylens.errors.DataError` naming it, and ``base_dir_option``: how the caller takes
    ``base_dir`` (a script's option; None: it takes none, and the message says to edit config_dir).
    Input files other than those the fit records it was made from are a
    :class:`~tinylens.errors.DataWarning` naming them (:func:`changed_files_notes`).
    A ``base_dir`` that is no folder's path (empty, of no known user's home) is a ConfigError naming it, a ``path``
    that is no path (None, a number) a :class:`~tinylens.errors.ConfigTypeError` and an empty one a
    :class:`~tinylens.errors.ConfigValueError`, as read_result's are. A result that records no
    precision, loaded while ``TINYLENS_PRECISION`` holds a value tinylens does not know, is a
    ConfigValueError naming the variable and the values it takes (:func:`check_session_precision`)."""
    from tinylens.config.loader import home_expanded, not_a_path
    from tinylens.problem import check_folder_argument, load_from

    if not isinstance(path, (str, os.PathLike)):  # Path(None)'s bare 'expected str, bytes or os.PathLike object'
        raise ConfigTypeError(f"load_stored takes the path of a fit's result.json (a str or pathlib.Path); "
                              f"{not_a_path(path, 'result.output_dir / ' + repr(RESULT))}")
    if isinstance(path, str) and not path.strip():
        raise ConfigValueError(f"load_stored takes the path of a fit's result.json; got an empty path ({path!r}: an "
                               "unset variable?), which would be the current folder: give the fit's result.json.")
    path = home_expanded(path)
    if base_dir is not None:  # the caller's own argument: its errors are not the recorded config's
        check_folder_argument("base_dir", base_dir)
        base_dir = home_expanded(base_dir)
    try:  # Path.is_dir raises PermissionError bare where a folder on the way may not be entered
        is_folder = path.is_dir()
    except PermissionError as exc:
        raise OutputError(_not_entered(path, exc, folder=False)) from None
    if is_folder:
        try:
            where = _result_in(path)
        except PermissionError as exc:  # a folder this user may see but not enter
            raise OutputError(_not_entered(path, exc, folder=True)) from None
        raise OutputError(f"{path} is a folder; {where}")
    try:
        stored = read_result_json(path)  # a NaN, as the null read as NaN: its key named below
    except FileNotFoundError:
        raise OutputError(f"{path}: no such file (a fit's result.json is in its output folder)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OutputError(f"{path}: not a readable result.json ({type(err).__name__}: {err}).{read_advice(path, err)}") from None
    missing = [key for key in ("config", "max_likelihood") if not isinstance(stored, dict) or key not in stored]
    if missing:
        raise OutputError(f"{path}: not a tinylens result.json (it lacks {', '.join(missing)})")
    check_stored_types(stored, path, check_config_dir=base_dir is None)
    stored = with_config_not_finite(stored)
    dtype = stored_dtype(stored)
    if dtype is None:  # rebuilt in the session's precision: a TINYLENS_PRECISION typo is the environment's, not the file's
        check_session_precision(path)
    try:
        problem = load_from(stored["config"], *stored_base_dir(stored, base_dir), dtype=dtype)
    except DataError as err:
        if base_dir is not None:
            raise
        hint = moved_data_hint(stored, path, base_dir_option)
        raise DataError(f"{path}: the data of this fit cannot be loaded: {err} {hint}") from None
    except ConfigError as err:  # of the same class: a ConfigValueError stays one, a MethodNotInstalledError keeps .name
        raise retold(err, f"{path}: the config this fit records cannot be loaded by this tinylens (written by another "
                          f"version, or edited?): {err}") from None
    best = stored_best(stored["max_likelihood"], problem.param_names, path)
    for note in mask_notes(stored, problem.dataset, path) + changed_files_notes(stored, problem.dataset, path):
        warnings.warn(note, DataWarning, stacklevel=outside_stacklevel())
    return stored, problem, best


def check_session_precision(path: Path) -> None:
    """Raise a ConfigValueError naming ``path`` and the environment variable where the result at
    ``path`` records no precision (so that it is rebuilt in the session's) and ``TINYLENS_PRECISION``
    holds a value tinylens does not know (``flaot32``): the recorded config is not at fault, and a
    message that it was 'written by another version, or edited?' sent the user to the file."""
    from tinylens.precision import ENV_VARIABLE, check_environment

    try:
        check_environment()
    except ConfigValueError as err:
        raise ConfigValueError(
            f"{path} records no precision (a result from before tinylens recorded it), so its fit is rebuilt in the "
            f"precision that the environment variable {ENV_VARIABLE} asks for, and this value of it is not one "
            f"tinylens knows: {err} Correct it, or unset it (unset {ENV_VARIABLE}) for float32.") from None


def json_text(value: Any, limit: int = 60) -> str:
    """``value`` as result.json writes it (``null``, ``"text"``), cut to about ``limit`` characters."""
    return cut_value(json.dumps(value, default=repr), limit, value)


def check_stored_types(stored: dict[str, Any], path: Path, check_config_dir: bool = True) -> None:
    """An :class:`~tinylens.errors.OutputError` naming ``path`` and the key where the result
    ``stored`` holds no mapping for ``config`` or ``max_likelihood`` (a config given as a file's
    path would be read from the current folder), or, where ``check_config_dir``, a ``config_dir``
    that is neither null nor a folder's path (an empty or blank text is none)."""
    for key in ("config", "max_likelihood"):
        if not isinstance(stored[key], dict):
            what = ("the fit's config, a mapping of its sections (dataset, model_components, ...)" if key == "config"
                    else "a mapping of each free parameter to its value")
            path_given = key == "config" and isinstance(stored[key], str)
            read = "; a result.json records the config itself, not its file's path" if path_given else ""
            raise OutputError(f"{path}: its {key} should be {what}; got {json_text(stored[key])}{read} (edited?)")
    folder = stored.get("config_dir")
    if check_config_dir and folder is not None and not (isinstance(folder, str) and folder.strip()):
        raise OutputError(f"{path}: its config_dir should be the folder of the fit's config (a path), or null; got "
                          f"{json_text(folder)} (edited?)")


def stored_best(values: dict[str, Any], names, path: Path) -> np.ndarray:
    """The vector of ``values`` (a result's ``max_likelihood``) in the order of ``names``; an
    :class:`~tinylens.errors.OutputError` naming ``path`` where one is missing or not a finite number."""
    absent = [name for name in names if name not in values]
    if absent:
        raise OutputError(f"{path}: its max_likelihood lacks {listed(absent)}, free parameters of its own config "
                          "(written by another version of tinylens, or edited?)")
    bad = [name for name in names if not finite_number(values[name])]
    if bad:
        given = ", ".join(f"{name}: {json_text(values[name])}" for name in bad)
        raise OutputError(f"{path}: its max_likelihood should give a finite number for each free parameter; got "
                          f"{given} (edited?)")
    return np.array([values[name] for name in names], float)


def finite_number(value: Any) -> bool:
    """Whether ``value`` (from JSON) is a finite int or float (not a bool, a string or null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float's range
        return False


def mask_notes(stored: dict[str, Any], dataset: Any, path: Path) -> list[str]:
    """What a user should know of how the fit of ``stored`` (at ``path``) read its mask, against
    ``dataset`` as loaded now: a mask file of a fit that records not how it was read (``info``'s
    ``mask_read_as``: before it was recorded, a fit may have read it as non-zero = used), and a
    count of fitted pixels (``n_pixels_fitted``) other than the loaded data's."""
    from tinylens.data.dataset import MASK_READ_AS

    info = stored.get("info") if isinstance(stored.get("info"), dict) else {}
    notes = []
    if dataset.mask_path is not None and "mask_read_as" not in info:
        notes.append(f"{path}: this fit does not record how its mask file {dataset.mask_path} was read: it is from "
                     f"an earlier tinylens, which may have read it as non-zero = used and so have fitted the pixels "
                     f"the mask leaves out. It is loaded as read now, {MASK_READ_AS} ({dataset.n_used} of "
                     f"{dataset.mask.size} pixels used); fit it again to be sure of the result.")
    fitted = info.get("n_pixels_fitted")
    if isinstance(fitted, int) and fitted != dataset.n_used:
        notes.append(f"{path}: its fit used {fitted} pixels, but its data, noise and mask as loaded now give "
                     f"{dataset.n_used} (changed since the fit?): its best fit is shown against other pixels "
                     "than it was fitted to.")
    return notes


def changed_files_notes(stored: dict[str, Any], dataset: Any, path: Path) -> list[str]:
    """What a user should know of the input files of the fit of ``stored`` (at ``path``) that
    differ from the stamp its ``info.inputs`` records
    (:func:`~tinylens.survey.provenance.changed_inputs`, against ``dataset``'s files as loaded
    now: the same size and modification time, or the same content, is the same file): each named
    with its ``dataset`` key. None for a fit that records no stamp (from before it did)."""
    from tinylens.survey.provenance import changed_inputs, dataset_files, recorded_fit_inputs

    recorded = recorded_fit_inputs(stored)
    changed = [] if recorded is None else changed_inputs(recorded, dataset_files(dataset))
    if not changed:
        return []
    files = dataset_files(dataset)["dataset"]
    shown = [f"{files[key]} ({key})" if key in files else f"dataset.{key} (no file now)" for key in changed]
    return [f"{path}: {listed(shown)} {'is' if len(shown) == 1 else 'are'} not the file{'s' * (len(shown) > 1)} "
            f"this fit was made from (other content than its info.inputs records: changed since the fit?): its best "
            "fit is shown against other data than it was fitted to."]


#: A ``"mask_path"`` key whose value is not ``null``, in JSON text (where a fit had a mask file).
MASK_PATH_SET = re.compile(r'"mask_path"\s*:(?!\s*null\b)')


def mask_reading_unknown(folder: Path) -> bool:
    """Whether the fit in ``folder`` (a fit's output folder, or a survey's lens folder) read a mask
    file (its config's ``dataset.mask_path``) and records nowhere how: neither its ``result.json``
    (``info.mask_read_as``) nor a survey's ``inputs.json`` stamp of the mask (``read_as``), as for
    fits from before mask files were read as 0 = used, which may have read it as non-zero = used.
    False without a readable ``result.json``. Cheap for a survey's thousands of lenses: a
    ``result.json`` (~25 kB) is parsed only where its text sets a ``mask_path`` and the small
    ``inputs.json`` does not record the mask's reading."""
    try:
        text = read_json_text(folder / RESULT)
    except (OSError, ValueError):
        return False
    if not MASK_PATH_SET.search(text):  # no mask file (its mask_path null), read without parsing it
        return False
    from tinylens.data.dataset import MASK_READ_AS  # here: tinylens report of a survey without mask files imports no astropy
    from tinylens.filenames import INPUTS
    from tinylens.survey.provenance import read_json

    stamp = (read_json(folder / INPUTS) or {}).get("mask_path")
    if isinstance(stamp, dict) and stamp.get("read_as") == MASK_READ_AS:
        return False
    try:
        stored = parse_result_json(text)
    except ValueError:
        return False
    stored = stored if isinstance(stored, dict) else {}
    config, info = stored.get("config"), stored.get("info")
    dataset = config.get("dataset") if isinstance(config, dict) else None
    if not isinstance(dataset, dict) or not dataset.get("mask_path"):
        return False
    return not (isinstance(info, dict) and "mask_read_as" in info)


def load_stage_state(path: str | Path, param_names) -> tuple[dict[str, Any], np.ndarray]:
    """``(state, best)`` of a file of stages 1-3 (``examples/stages_only.py --states``), checked
    against ``param_names`` (older states keep no names, only their length); a file that is
    missing, unreadable or not such a state (its ``best`` no list), a mismatch, or a ``best`` that
    gives a parameter no finite number (a text, a boolean, null or NaN) is an
    :class:`~tinylens.errors.OutputError` naming the file (and the parameters)."""
    try:
        state = read_json_file(path, non_finite=True)  # a NaN in best is refused below, naming its parameter
    except FileNotFoundError:
        raise OutputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OutputError(f"{path}: not a readable state of stages_only.py ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or "best" not in state:
        raise OutputError(f"{path}: not a state of stages_only.py --states (it has no 'best')")
    best = state["best"]
    if not isinstance(best, list):
        raise OutputError(f"{path}: its best should be a list of numbers, one for each free parameter; got "
                          f"{json_text(best)} (not a state of stages_only.py --states?)")
    names = state.get("param_names") or [None] * len(best)
    if not isinstance(names, list) or len(names) != len(param_names) or len(best) != len(param_names) \
            or any(n not in (None, m) for n, m in zip(names, param_names)):
        raise OutputError(f"{path}: its parameters are not those of the template")
    bad = [f"{name}: {json_text(value)}" for name, value in zip(param_names, best) if not finite_number(value)]
    if bad:
        raise OutputError(f"{path}: its best should give a finite number for each free parameter; got "
                          f"{', '.join(bad)} (edited, or not finite when kept?)")
    return state, np.array(best, float)


#: The fields of a :class:`~tinylens.fit.FitResult` by parameter (or derived quantity) whose
#: numbers ``result.json`` writes as null where they are not finite, read back as NaN.
NUMBER_FIELDS = ("median", "max_likelihood", "max_log_likelihood", "interval_68", "interval_997", "derived")


def read_result(folder: str | Path) -> FitResult:
    """The :class:`~tinylens.fit.FitResult` of the finished fit whose output ``folder`` (or its
    ``result.json``) is given: ``result.json``'s content, the samples, weights and log-likelihoods
    of its samples table and its summary table (found by its ``files``, in the format they were
    written in), ``output_dir`` the folder given, absolute (``~`` expanded). The samples table
    leaves out the samples of negligible weight (:data:`~tinylens.results.tables.MIN_RELATIVE_WEIGHT`),
    so the result holds those the table does; ``truth``, not written, is None; the numbers of
    :data:`NUMBER_FIELDS` written as null (not finite) are NaN again (other nulls stay None). A
    folder that is missing or holds no finished fit, a result.json that cannot be read, is not
    tinylens's or holds a field of the wrong kind (:func:`check_record_types`), and a table that is missing or cannot be read are an
    :class:`~tinylens.errors.OutputError` naming the folder or file; a ``folder`` that is no path
    (None, an empty text) is a :class:`~tinylens.errors.ConfigError`."""
    from dataclasses import MISSING, fields

    from tinylens.fitting.summary import ARRAY_FIELDS, FitResult

    folder = _fit_folder(folder)
    record = folder / RESULT
    stored = _fit_record(record)
    missing = [f.name for f in fields(FitResult)
               if f.default is MISSING and f.name not in (*ARRAY_FIELDS, "summary", "output_dir", *stored)]
    files = stored.get("files")
    missing += [f"files.{role}" for role in ("samples", "summary")
                if "files" not in missing and not (isinstance(files, dict) and isinstance(files.get(role), str))]
    if missing:
        raise OutputError(f"{record}: it lacks {listed(missing)}, which a finished fit's result.json holds (written by "
                          "another version of tinylens, or edited?)")
    check_record_types(stored, record)
    stored = with_config_not_finite(stored)
    kept = {f.name for f in fields(FitResult)} - {*ARRAY_FIELDS, "summary", "truth", "output_dir", "param_names"}
    content = {key: value for key, value in stored.items() if key in kept}
    content.update({key: _nan_for_null(content[key]) for key in NUMBER_FIELDS})
    names = [str(name) for name in stored["param_names"]]
    samples = _stored_table(folder, record, files, "samples")
    table = folder / files["samples"]
    absent = [name for name in (*names, "weight", "log_likelihood") if name not in samples.columns]
    if absent:
        raise OutputError(f"{table}: the samples table lacks {counted(len(absent), 'column')} ({listed(absent)}) of "
                          f"the fit in {record} (replaced or edited since the fit?)")
    return FitResult(**content, param_names=tuple(names), output_dir=folder,
                     samples=_number_columns(table, samples, names),
                     weights=_number_columns(table, samples, ["weight"])[:, 0],
                     log_likelihood=_number_columns(table, samples, ["log_likelihood"])[:, 0],
                     summary=_stored_table(folder, record, files, "summary"))


def _is_json_number(value: Any) -> bool:
    """Whether ``value`` (from JSON) is an int or float (not a bool, a text or null)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_texts(value: Any) -> bool:
    """Whether ``value`` (from JSON) is a list of texts."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


#: What each field of a finished fit's ``result.json`` holds, as :func:`check_record_types` checks
#: it: a test of its value and what a message says it should be.
RECORD_TYPES: dict[str, tuple[Any, str]] = {
    "method": (lambda v: isinstance(v, str), "the search's name, a text (nautilus, dynesty, ...)"),
    "param_names": (_is_texts, "a list of the free parameters' names"),
    "max_log_likelihood": (lambda v: v is None or _is_json_number(v), "a number, or null"),
    "log_evidence": (lambda v: v is None or _is_json_number(v), "a number, or null"),
    "n_likelihood_evals": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "wall_time_s": (_is_json_number, "a number of seconds"),
    "total_time_s": (lambda v: v is None or _is_json_number(v), "a number of seconds, or null"),
    "converged": (lambda v: isinstance(v, bool), "true or false"),
    "derived": (lambda v: isinstance(v, dict), "a mapping of each derived quantity to its median and intervals"),
    "quality": (lambda v: isinstance(v, dict), "a mapping (trusted, flags, checks, ...)"),
    "versions": (lambda v: isinstance(v, dict), "a mapping of each package to its version"),
    "config": (lambda v: isinstance(v, dict), "the fit's config, a mapping of its sections (dataset, ...)"),
    "config_dir": (lambda v: v is None or isinstance(v, str), "the folder of the fit's config (a path), or null"),
    "files": (lambda v: isinstance(v, dict), "a mapping of each table's and figure's role to its file name"),
    "info": (lambda v: isinstance(v, dict), "a mapping of the sampler's and the pipeline's details"),
}


def check_record_types(stored: dict[str, Any], record: Path) -> None:
    """An :class:`~tinylens.errors.OutputError` naming ``record`` (a finished fit's ``result.json``,
    holding every field :func:`read_result` needs), the key and its value where a field of
    ``stored`` is not of its kind (:data:`RECORD_TYPES`), where ``median``, ``max_likelihood``,
    ``interval_68`` or ``interval_997`` lacks a free parameter or holds for one no number (or null)
    or no pair of them, where an entry of ``derived`` is no mapping or one of ``files`` no file name,
    or where ``quality``'s ``flags`` or ``critical`` is no list of texts: a
    result.json edited by hand or written by another program, whose FitResult would otherwise fail
    later, when shown or used, with a TypeError naming neither."""
    def wrong(key: str, what: str, value: Any) -> OutputError:
        return OutputError(f"{record}: its {key} should be {what}; got {json_text(value)} (edited?)")

    for key, (test, what) in RECORD_TYPES.items():
        if key in stored and not test(stored[key]):
            raise wrong(key, what, stored[key])
    for key, kind, what in (("derived", dict, "a mapping of its median and intervals"), ("files", str, "a file name")):
        for entry, value in stored[key].items():
            if not isinstance(value, kind):
                raise wrong(f'{key}["{entry}"]', what, value)
    names = stored["param_names"]
    for key, pair in (("median", False), ("max_likelihood", False), ("interval_68", True), ("interval_997", True)):
        what = "a pair [low, high] of numbers (or nulls)" if pair else "a number (or null)"
        values = stored[key]
        if not isinstance(values, dict):
            raise wrong(key, f"a mapping of each free parameter to {what}", values)
        absent = [name for name in names if name not in values]
        if absent:
            raise OutputError(f"{record}: its {key} lacks {listed(absent)}, free parameters of the fit (its "
                              "param_names) (edited?)")
        for name in names:
            value = values[name]
            items = value if pair and isinstance(value, list) and len(value) == 2 else None if pair else [value]
            if items is None or not all(v is None or _is_json_number(v) for v in items):
                raise wrong(f'{key}["{name}"]', what, value)
    quality = stored["quality"]
    for key in ("flags", "critical"):
        if quality.get(key) is not None and not _is_texts(quality[key]):
            raise wrong(f"quality.{key}", "a list of the flags' names", quality[key])


def _number_columns(table: Path, frame: Any, columns: list[str]) -> np.ndarray:
    """The ``columns`` of the samples table ``frame`` (read from ``table``) as floats, one row a
    sample; an :class:`~tinylens.errors.OutputError` naming the table, the column and the sample
    where one holds no number (a text, edited in)."""
    for name in columns:
        try:
            frame[name].to_numpy(dtype=float)
        except (TypeError, ValueError):
            row, value = next((i, v) for i, v in enumerate(frame[name]) if not _is_number(v))
            raise OutputError(f"{table}: the samples table's column {name} should hold numbers; its sample {row} "
                              f"(counting from 0) holds {value!r} (edited since the fit?)") from None
    return frame[columns].to_numpy(dtype=float)


def _is_number(value: Any) -> bool:
    """Whether ``value`` (a table's cell) converts to a float, a null (a JSON table's) to NaN."""
    if value is None:
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _fit_folder(folder: str | Path) -> Path:
    """The fit's output folder that ``folder`` names (a fit's ``result.json`` given: its folder),
    absolute; a ConfigError where it is no path or an empty text, an OutputError where it is no
    folder (:func:`_no_result`), holds no ``result.json``, or it or a folder on its way may not be
    entered (:func:`_not_entered`)."""
    from tinylens.config.loader import home_expanded, not_a_path

    if not isinstance(folder, (str, os.PathLike)):
        raise ConfigTypeError("read_result takes the output folder of a fit (a str or pathlib.Path); "
                              f"{not_a_path(folder, 'result.output_dir to read it again from its folder')}")
    if isinstance(folder, str) and not folder.strip():  # a str, so 'a str ...; got str' said nothing
        raise ConfigValueError(f"read_result takes the output folder of a fit; got an empty path ({folder!r}: an unset "
                               "variable?), which would be the current folder: give the folder that holds its result.json.")
    path = home_expanded(folder).absolute()
    try:
        if path.name == RESULT and path.exists() and not path.is_dir():  # a named pipe too: _fit_record says what it is
            return path.parent
        if not path.is_dir():
            what = "is a file, not" if path.exists() else "does not exist; give"
            raise OutputError(f"{path} {what} the output folder of a fit (the output.path of its config, or the output "
                              "given to tinylens fit), which holds its result.json.")
        if not (path / RESULT).exists() or (path / RESULT).is_dir():  # a named pipe there: _fit_record names it
            raise OutputError(_no_result(path))
    except PermissionError as exc:  # Path.is_file and is_dir raise it bare where a folder on the way may not be entered
        raise OutputError(_not_entered(path, exc)) from None
    return path


def _not_entered(path: Path, exc: PermissionError, folder: bool | None = None) -> str:
    """Why the fit's folder or ``result.json`` ``path`` cannot be looked at (``exc``: the system
    refused to enter the folder or one on its way), and the ``ls`` that shows their permissions.
    ``folder``: whether ``path`` is a folder (None: a folder unless it is named ``result.json``)."""
    folder = path.name != RESULT if folder is None else folder
    what, which = ("cannot be looked into", "it or a folder") if folder else ("cannot be reached", "a folder")
    return (f"{path} {what} ({exc.strerror or 'permission denied'} on {exc.filename or path}): this user may not "
            f"enter {which} on its way. Check their permissions ({ls_command(path, path.parent)} and the folders "
            "above), or ask their owner to.")


def _no_result(folder: Path) -> str:
    """Why ``folder``, which holds no ``result.json``, holds no finished fit: a survey's folder
    (its fits are in ``lenses/<lens_id>/``), a fit not finished (stopped, or still running: its
    checkpoint or lock is there), or no fit's output folder."""
    from tinylens.filenames import FIT_LOCK, checkpoint_names
    from tinylens.filenames import LENSES_DIR

    if (folder / LENSES_DIR).is_dir():
        return (f"{folder} holds a survey, not a single fit: give the folder of one of its lenses "
                f"({folder / LENSES_DIR / '<lens_id>'}).")
    left = [name for name in (*checkpoint_names(), FIT_LOCK) if (folder / name).is_file()]
    if left:
        return (f"{folder} holds no {RESULT}: the fit there has not finished (its {listed(left)} is there: it was "
                "stopped, or is still running). Run the fit again to finish it; its result.json is written last.")
    return (f"{folder} holds no {RESULT}, so it holds no finished fit: it is not a fit's output folder (the "
            "output.path of its config), or its fit stopped before it began (result.json is written last).")


def _fit_record(record: Path) -> dict[str, Any]:
    """The content of the ``result.json`` at ``record``; an OutputError naming it where it cannot be
    read or is not tinylens's (no ``versions.tinylens``: another program's). A ``NaN`` or an
    ``Infinity`` (Python's json.dump of an edited result) is read as that number, as
    :func:`load_stored` reads it: a number field reads null as NaN, and :func:`check_record_types`
    names a key whose value is of another kind."""
    try:
        stored = read_result_json(record)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OutputError(f"{record}: not a readable result.json ({type(err).__name__}: {err}).{read_advice(record, err)}") from None
    versions = stored.get("versions") if isinstance(stored, dict) else None
    if not (isinstance(versions, dict) and "tinylens" in versions):
        raise OutputError(f"{record}: not a tinylens result.json (it records no versions.tinylens): written by "
                          "another program, so this folder holds no tinylens fit.")
    return stored


def _stored_table(folder: Path, record: Path, files: dict[str, str], role: str) -> Any:
    """The ``role`` table (``samples``, ``summary``) that the fit in ``folder`` wrote, named by
    ``files`` (its result.json's, at ``record``); an OutputError naming it where it is missing or
    cannot be read."""
    from tinylens.results.tables import read_table_file

    path = folder / files[role]
    if not path.is_file():
        raise OutputError(f"{path}: no such file; it is the {role} table of the fit in {folder} (files.{role} in "
                          f"{record}), deleted or moved since the fit.")
    try:
        return read_table_file(path)
    except Exception as err:  # noqa: BLE001 - pandas, pyarrow and astropy raise many types for a bad file
        detail = " ".join(str(err).split())[:200]
        raise OutputError(f"{path}: the {role} table of the fit in {folder} cannot be read ({type(err).__name__}: "
                          f"{detail}).{read_advice(path, err)}") from None


def read_advice(path: Path, err: BaseException) -> str:
    """What to check where the system would not read the file ``path`` (``err`` an OSError with an
    errno: this user may not read it or enter its folder, a disk gone), with the ``ls`` that shows
    them; "" for another error (a garbled file: pyarrow's OSErrors carry no errno)."""
    if not isinstance(err, OSError) or err.errno is None:
        return ""
    return (f" Check that it is a file this user may read, in folders this user may enter ({ls_command(path, path.parent)}), "
            "on a disk that is mounted.")


def _nan_for_null(value: Any) -> Any:
    """``value`` (from result.json) with each null, where a number was not finite, as NaN, in
    its mappings and lists."""
    if value is None:
        return math.nan
    if isinstance(value, dict):
        return {key: _nan_for_null(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_nan_for_null(v) for v in value]
    return value
