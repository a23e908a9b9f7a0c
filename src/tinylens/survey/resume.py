"""Resuming a survey: what is kept of an earlier run on the same ``out`` and what is fitted again.
A lens's row is kept where its fit had the template's settings and precision (:func:`settings_of`,
:func:`same_settings`, :func:`same_precision`); a fit of the same settings whose row was not written
is adopted (:func:`adoptable_row`); a fit stopped by its budget is fitted further where the limit was
raised (:func:`stopped_by_budget`); rows of lenses whose inputs changed are set aside
(:func:`forget`, :func:`check_manifest`), and what a survey records of its restarts is named here.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.config.schema import Inference
from tinylens.errors import (ConfigValueError, ConfigWarning, OutputError, SURVEY_FOLDER_CHOICE, TinyLensError,
                             lens_count, listed)
from tinylens.filenames import CATALOG_CSV, CATALOG_PARQUET, LENSES_DIR
from tinylens.jsonfile import read_json_file, read_result_object
from tinylens.precision import get_precision
from tinylens.survey.attempts import attempted_digest, fit_digest
from tinylens.survey.catalog import write_catalog
from tinylens.survey.discovery import Lens
from tinylens.survey.provenance import (INPUT_KEYS, LENS_PATHS, LENS_PATH_STANDIN, MANIFEST_FILE, PRECISION_KEY,
                                        budget, changed_inputs, config_not_finite, fit_key, fits_read,
                                        fitted_precision, inputs_stamp, limit_raised, manifest_conflict,
                                        not_finite_values, read_manifest, read_stamp, recorded_config,
                                        stamps_conflict, unstamped_changes, with_not_finite)
from tinylens.survey.rows import is_done, recovered_row, row_of_result, write_row
from tinylens.survey.template import lens_config


def fitted_config(config: Mapping[str, Any], not_finite: bool = False) -> Any:
    """``config`` as a fit of it records it in its ``result.json`` (``config``); ``None`` where
    it cannot be read. With ``not_finite``, that and where it holds a number that is not finite,
    which it writes as null (``info``'s :data:`~tinylens.survey.provenance.CONFIG_NOT_FINITE_KEY`:
    :func:`~tinylens.survey.provenance.config_not_finite`), as a pair, validated once."""
    from tinylens.config import load_config
    from tinylens.fitting.outputs import config_dict
    from tinylens.results.tables import _jsonable

    try:
        with warnings.catch_warnings():  # the template's: shown by its check; the lens's: by its fit
            warnings.simplefilter("ignore")
            loaded = load_config(config)[0]
    except TinyLensError:
        return None
    written = json.loads(json.dumps(_jsonable(config_dict(loaded))))
    return (written, config_not_finite(loaded)) if not_finite else written


#: The most configs one cache of :func:`settings_of` holds: one survey's are a handful (its
#: template with a lens's files, with the lens's own mask or not, and the few its earlier fits
#: recorded), so that fits that each recorded a config of their own do not grow it with each lens.
SETTINGS_CACHE_SIZE = 64


def lens_free(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` (the template with a lens's files, or a fit's recorded config) with
    each lens file path (:data:`~tinylens.survey.provenance.INPUT_KEYS`) and ``output.path`` that
    is text the schema takes (:func:`path_text`)
    :data:`~tinylens.survey.provenance.LENS_PATH_STANDIN`: the schema takes any such text alike
    and :func:`fit_key` leaves them out, so that configs with the same copy are valid alike, with
    the same fit_key and budget."""
    out = dict(config)
    for section, keys in (("dataset", INPUT_KEYS), ("output", ("path",))):
        block = out.get(section)
        if type(block) is dict:
            out[section] = {k: LENS_PATH_STANDIN if k in keys and path_text(v) else v for k, v in block.items()}
    return out


def path_text(value: Any) -> bool:
    """Whether ``value`` is text that the config's schema takes as any other as a path: not empty,
    and UTF-8 (a file name of other bytes, ``lens_\xe9``, reads with a lone surrogate, ``\udce9``,
    which the schema refuses for ``data_path``: such a config is validated on its own)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def frozen(value: Any) -> Any:
    """``value`` (parsed YAML or JSON) as a hashable key equal to another's only where both are
    the same plain data, types included (``1``, ``1.0`` and ``true`` apart, ``-0.0`` not ``0.0``),
    a mapping's keys in any order (as ``==`` compares them: a template's in its YAML's order, a
    fit's recorded config in the schema's); TypeError where it holds anything else (a tuple, a
    numpy number: from Python)."""
    kind = type(value)
    if kind is dict:  # its keys are distinct: a set of its pairs loses nothing but their order
        return kind, frozenset((frozen(k), frozen(v)) for k, v in value.items())
    if kind is list:
        return kind, tuple(frozen(v) for v in value)
    if kind is float:
        return kind, repr(value)
    if kind in (str, int, bool, type(None)):
        return kind, value
    raise TypeError(f"not plain data: {kind.__name__}")


def settings_entry(config: Mapping[str, Any], cache: dict[Any, dict[str, Any]] | None) -> dict[str, Any]:
    """The entry of ``config`` in ``cache``, shared by the configs with its :func:`lens_free` copy,
    where :func:`settings_of` keeps what it works out of them; a new entry, kept nowhere, where
    there is no cache, the config is no plain data (a mapping from Python) or the cache is full."""
    if cache is None:
        return {}
    try:
        key = frozen(lens_free(config))
    except TypeError:
        return {}
    entry = cache.get(key)
    if entry is None:
        entry = {}
        if len(cache) < SETTINGS_CACHE_SIZE:
            cache[key] = entry
    return entry


def settings_of(config: Mapping[str, Any], what: str, cache: dict[Any, dict[str, Any]] | None = None) -> Any:
    """What a survey compares of ``config`` (the template with a lens's files, or a fit's recorded
    config), by ``what``: ``written``, its :func:`fit_key` as it is; ``fitted``, the fit_key of
    :func:`fitted_config` of it (as a fit reads it; None where it cannot be read); ``budget``,
    the :func:`budget` of that (all None where it cannot be read); ``not_finite``, where that
    fit_key holds a number that is not finite, which ``fitted`` holds as null (a frozenset of
    (path, literal): :func:`~tinylens.survey.provenance.not_finite_values`; None where it cannot
    be read). Given a ``cache`` (one
    survey's), each is worked out once for the configs alike but for their lens's paths
    (:func:`settings_entry`): the template with each lens's files, the configs its fits recorded.
    What it gives is shared: not to be changed."""
    entry = settings_entry(config, cache)
    if what not in entry:
        if what == "written":
            entry[what] = fit_key(config)
        else:
            if "read" not in entry:
                entry["read"] = fitted_config(config, not_finite=True)
            read = entry["read"]
            if what == "budget":
                entry[what] = budget(read[0] if read else {})
            elif what == "not_finite":
                entry[what] = None if read is None else not_finite_key(read[0], read[1])
            else:
                entry[what] = None if read is None else fit_key(read[0])
    return entry[what]


def not_finite_key(stored: dict[str, Any], found: list[list[Any]]) -> frozenset[tuple[Any, ...]] | None:
    """Where the :func:`fit_key` of a fit's ``stored`` config (as its ``result.json`` records it)
    holds a number that is not finite, with ``found`` (:func:`~tinylens.survey.provenance.config_not_finite`)
    put back: (path, literal) each; None where ``found`` is no such record."""
    restored = with_not_finite(stored, found)
    if not isinstance(restored, dict):
        return None
    return frozenset((tuple(path), literal) for path, literal in not_finite_values(fit_key(restored)))


def same_not_finite(result: Mapping[str, Any], config: Mapping[str, Any],
                    cache: dict[Any, dict[str, Any]] | None = None) -> bool:
    """Whether the fit ``result`` (a parsed ``result.json``) holds the numbers that are not finite
    where ``config`` (the template with the lens's files) does, and the same (``.inf``, ``-.inf``,
    ``.nan``), in what decides what it fits (:func:`fit_key`): its ``config`` writes each as null,
    as it writes a null, so that its ``info`` records them
    (:data:`~tinylens.survey.provenance.CONFIG_NOT_FINITE_KEY`, read back by
    :func:`~tinylens.survey.provenance.recorded_config`). A ``result.json`` that records none (an
    older tinylens's) is read as before: each of its nulls alike to any of them. The recorded
    config is validated again (:func:`settings_of`), as :func:`same_settings` does one of an older
    tinylens, so that a key the schema added since counts as its default."""
    restored = recorded_config(result)
    if restored is None:
        return True
    return settings_of(restored, "not_finite", cache) == settings_of(config, "not_finite", cache)


def adoptable_row(lens_id: str, folder: Path, config: Mapping[str, Any], precision: str) -> dict[str, Any] | None:
    """The row of the finished fit in ``folder`` (its ``result.json``) whose task did not live to
    write its row (its worker died; Dask runs the task again), where that fit is the one the task
    would make: of ``config`` (the template and this lens's files), in ``precision``, from the
    input files its ``inputs.json`` stamped, unchanged since. ``None`` otherwise: the lens is fitted."""
    result, recorded = read_result_object(folder / filenames.RESULT), read_stamp(folder / filenames.INPUTS)
    if result is None or recorded is None or recorded.get(PRECISION_KEY) != precision:
        return None
    row = row_of_result(lens_id, result)
    if row is None or (result.get("info") or {}).get("precision") != precision or changed_inputs(recorded, config):
        return None
    fitted = fitted_config(config)
    same = fitted is not None and result.get("config") == fitted and same_not_finite(result, config)
    return row if same else None


def finish_adopted(folder: Path, row: Mapping[str, Any]) -> None:
    """What the task of the fit adopted in ``folder`` (:func:`adoptable_row`) had left to do: remove
    the checkpoints where its ``result.json`` names none (the fit removes them once it is written),
    and write its ``row``. An ``info`` that is not an object (edited by hand) names none, nor does a
    ``checkpoint`` that is no file name (a NaN that another program wrote for the null, a number)."""
    info = (read_result_object(folder / filenames.RESULT) or {}).get("info")
    named = info.get("checkpoint") if isinstance(info, dict) else None
    if not (isinstance(named, str) and named):
        for name in filenames.checkpoint_names():
            (folder / name).unlink(missing_ok=True)
    write_row(folder, row)


def recoverable_rows(lenses: list[Lens], out: Path, rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows :func:`recover_rows` would add (reading only)."""
    found = {}
    for lens in lenses:
        if lens.lens_id not in rows:  # a failed row next to an old result.json stays failed
            row = recovered_row(lens, out)
            if row is not None:
                found[lens.lens_id] = row
    return found


def recover_rows(lenses: list[Lens], out: Path, rows: dict[str, dict[str, Any]]) -> None:
    """Add rows for lenses whose fit finished (``result.json``) but whose row was never written,
    and remove the checkpoints such a fit, stopped with its survey, had left to remove
    (:func:`finish_adopted`)."""
    for lens_id, row in recoverable_rows(lenses, out, rows).items():
        rows[lens_id] = row
        finish_adopted(out / LENSES_DIR / lens_id, row)


def plan(lenses: list[Lens], rows: Mapping[str, Mapping[str, Any]], out: Path, retry_failed: bool = False,
         template: Mapping[str, Any] | None = None) -> list[Lens]:
    """The lenses still to fit: not done, or (with the ``template``) done but stopped by a
    sampler budget the template raises or removes (:func:`stopped_by_another_budget`; only a row flagged
    ``unconverged`` has its ``result.json`` read; the template validated once, :func:`settings_of`)."""
    cache: dict[Any, dict[str, Any]] = {}
    return [lens for lens in lenses if not is_done(rows.get(lens.lens_id), lens.output(out), retry_failed)
            or (template is not None and fitted_further(lens, rows[lens.lens_id], template, out, cache))]


def fitted_further(lens: Lens, row: Mapping[str, Any], template: Mapping[str, Any], out: Path,
                   cache: dict[Any, dict[str, Any]] | None = None) -> bool:
    """Whether ``lens``, whose fit in ``out`` gave ``row``, is fitted further by a survey of
    ``template``: an ``ok`` row flagged ``unconverged`` (:func:`unconverged_row`, so that only
    such a row has its ``result.json`` read) of a fit :func:`stopped_by_another_budget` (``cache``:
    :func:`settings_of`'s, shared by the lenses of one survey)."""
    return unconverged_row(row) and stopped_by_another_budget(lens.output(out), lens_config(template, lens, out),
                                                              cache)


def unconverged_row(row: Mapping[str, Any]) -> bool:
    """Whether ``row`` is an ``ok`` row whose flags hold ``unconverged``."""
    return row.get("status") == "ok" and "unconverged" in str(row.get("flags") or "").split(",")


def stopped_by_budget(result: Mapping[str, Any]) -> bool:
    """Whether the fit ``result`` (a parsed ``result.json``) is a nautilus fit that its budget
    (:data:`~tinylens.survey.provenance.BUDGET_SETTINGS`: ``n_like_max``, ``timeout``) stopped
    before it converged: not converged, and in the pipeline its sampler itself not (a posterior at
    the box's edge alone is not the budget's doing). dynesty's budget, ``maxcall`` and ``maxiter``,
    is part of the template: a survey never fits a dynesty fit further."""
    info = result.get("info") if isinstance(result.get("info"), dict) else {}
    if result.get("converged") is not False or result.get("method") != "nautilus":
        return False
    pipeline = info.get("pipeline")
    return not isinstance(pipeline, dict) or pipeline.get("sampler_converged", True) is False


def budget_stopped(rows: Sequence[Mapping[str, Any]], out: Path, template: Mapping[str, Any] | None = None,
                   lens_dir: Path | None = None) -> dict[str, str | None]:
    """The lenses of ``rows`` (catalogue rows, with ``lens_id``) in the survey ``out`` that their
    sampler's budget stopped before they converged (:func:`stopped_by_budget`), by id: the limit
    that stopped each (:func:`tinylens.fitting.summary.stopping_limit`), None where that is not recorded. Only
    a row flagged ``unconverged`` (:func:`unconverged_row`) has its ``result.json`` read. Given the
    survey's ``template`` and ``lens_dir``, only those fitted with its settings (:func:`same_settings`)
    in its precision (:func:`same_precision`), which a rerun with a raised limit fits further: not
    one kept by ``reuse_finished`` from another template or precision. (:func:`stopped_results`
    then :func:`stopping_limits`.)"""
    return stopping_limits(stopped_results(rows, out, lens_dir), out, template)


def stopped_results(rows: Sequence[Mapping[str, Any]], out: Path,
                    lens_dir: Path | None = None) -> dict[str, tuple[Lens, dict[str, Any]]]:
    """The lenses of ``rows`` (catalogue rows, with ``lens_id``; their folders in ``lens_dir``) in
    the survey ``out`` that their sampler's budget stopped before they converged
    (:func:`stopped_by_budget`), by id: the lens and its parsed ``result.json``, read once. Only a
    row flagged ``unconverged`` (:func:`unconverged_row`) has it read."""
    stopped: dict[str, tuple[Lens, dict[str, Any]]] = {}
    for row in rows:
        if not unconverged_row(row):
            continue
        lens = Lens(str(row["lens_id"]), Path(lens_dir or ".") / str(row["lens_id"]))
        result = read_result_object(lens.output(out) / filenames.RESULT)
        if result is not None and stopped_by_budget(result):
            stopped[lens.lens_id] = (lens, result)
    return stopped


def stopping_limits(stopped: Mapping[str, tuple[Lens, Mapping[str, Any]]], out: Path,
                    template: Mapping[str, Any] | None = None) -> dict[str, str | None]:
    """Of the fits its budget ``stopped`` in the survey ``out`` (:func:`stopped_results`), the limit
    that stopped each (:func:`tinylens.fitting.summary.stopping_limit`; None where not recorded), by id; given
    the survey's ``template``, only those fitted with its settings (:func:`same_settings`, the
    template validated once: :func:`settings_of`) in its precision (:func:`resumable`)."""
    from tinylens.fitting.summary import stopping_limit

    cache: dict[Any, dict[str, Any]] = {}
    return {lens_id: stopping_limit(result) for lens_id, (lens, result) in stopped.items()
            if template is None or resumable(lens.output(out), result, lens_config(template, lens, out), cache)}


def resumable(folder: Path, result: Mapping[str, Any], config: Mapping[str, Any],
              cache: dict[Any, dict[str, Any]] | None = None) -> bool:
    """Whether the fit in the lens's output ``folder`` (``result``: its parsed ``result.json``)
    is one a survey of ``config`` (the template with the lens's files) resumes from its checkpoint:
    made in the survey's precision (:func:`same_precision`) with ``config``'s settings
    (:func:`same_settings`; ``cache``: :func:`settings_of`'s, shared by the lenses of one survey),
    not one kept by ``reuse_finished`` from another template or precision."""
    return same_precision(folder, result) and same_settings(result, config, cache)


def same_settings(result: Mapping[str, Any], config: Mapping[str, Any],
                  cache: dict[Any, dict[str, Any]] | None = None) -> bool:
    """Whether the fit ``result`` (a parsed ``result.json``) was made with the settings of
    ``config`` (the template with the lens's files), as far as they decide what it fits
    (:func:`~tinylens.survey.provenance.fit_key`: the budget, what changes only speed or output
    and the files' paths apart). A config that an older tinylens recorded without a key the schema
    has added since counts as that key's default, as a fit of it reads it now (validated again).
    Its nulls are told from ``.inf``, ``-.inf`` and ``.nan`` where it records them (:func:`same_not_finite`).
    ``cache``: :func:`settings_of`'s, shared by the lenses of one survey."""
    fitted, recorded = settings_of(config, "fitted", cache), result.get("config")
    if not isinstance(recorded, dict) or fitted is None:
        return False
    if settings_of(recorded, "written", cache) != fitted:
        again = settings_of(recorded, "fitted", cache)
        if again is None or again != fitted:
            return False
    return same_not_finite(result, config, cache)


def fit_precision(folder: Path, result: Mapping[str, Any]) -> str | None:
    """The precision the fit in the lens's output ``folder`` (``result``: its parsed
    ``result.json``) was made in: as its ``inputs.json`` records it (:data:`PRECISION_KEY`, written
    as the fit started), else as its ``info.precision`` does; None where neither does."""
    recorded = (read_stamp(folder / filenames.INPUTS) or {}).get(PRECISION_KEY)
    info = result.get("info")
    written = info.get("precision") if isinstance(info, dict) else None
    return recorded or (written if isinstance(written, str) and written else None)


def same_precision(folder: Path, result: Mapping[str, Any]) -> bool:
    """Whether the fit in the lens's output ``folder`` (``result``: its parsed ``result.json``) was
    made in this process's precision, the survey's (:func:`~tinylens.precision.get_precision`),
    as a fit must be to resume its checkpoint (whose fingerprint holds the number type); one that
    records none (:func:`fit_precision`) counts as made in it, as for a survey's reuse
    (:func:`~tinylens.survey.provenance.stamps_conflict`)."""
    found = fit_precision(folder, result)
    return found is None or found == get_precision()


def stopped_by_another_budget(folder: Path, config: Mapping[str, Any],
                              cache: dict[Any, dict[str, Any]] | None = None) -> bool:
    """Whether the fit in the lens's output ``folder`` was stopped by its sampler's budget
    (:func:`stopped_by_budget`) and ``config`` (the template with this lens's files) raises or
    removes that budget (:func:`~tinylens.survey.provenance.limit_raised`; a lowered limit gives it
    no more room, nautilus would stop at once): a survey continued with a raised ``n_like_max`` or
    ``timeout`` fits it further, resuming its checkpoint, as ``tinylens fit`` run again does. Only
    the limit that stopped it counts where that is known (:func:`tinylens.fitting.summary.stopping_limit`:
    nautilus counts ``n_like_max`` over all the runs of a fit, so one it stopped, fitted again with
    only another ``timeout``, stops at once), either where it is not. A fit of other settings than ``config``'s
    (:func:`~tinylens.survey.provenance.fit_key`; one a survey with ``reuse_finished`` kept) is
    not: fitted again, it would start afresh under them, where the survey keeps finished lenses;
    nor is a fit made in another precision than the survey's (:func:`same_precision`), whose
    checkpoint's fingerprint holds its number type. ``cache``: :func:`settings_of`'s, shared by
    the lenses of one survey."""
    from tinylens.fitting.summary import stopping_limit

    result = read_result_object(folder / filenames.RESULT)
    if result is None or not stopped_by_budget(result) or not resumable(folder, result, config, cache):
        return False
    old, new, limit = budget(result["config"]), settings_of(config, "budget", cache), stopping_limit(result)
    return any(limit_raised(old[name], new[name]) for name in ((limit,) if limit else old))


#: Set (True) on a KeyboardInterrupt out of :func:`run_survey` once the rows of the lenses it
#: fits again were deleted (:func:`forget`): a failed lens it retried and did not finish has no
#: row left, so a rerun without ``retry_failed`` fits it, and keeps the failures of this run.
FORGOTTEN_ATTR = "tinylens_rows_forgotten"

#: Set on a KeyboardInterrupt out of :func:`run_survey` once its template is read: why the lenses
#: it interrupted start again from the beginning when it is run again (:func:`restart_reason`),
#: or None where they resume from their checkpoints.
RESTART_ATTR = "tinylens_survey_restarts"
#: Set on a KeyboardInterrupt out of :func:`run_survey`: the ids of the lenses the run fits or keeps (those of
#: ``only`` where given), empty where it was stopped before it read the lens folders; a Ctrl-C's hint names
#: no other lens folder of ``out`` (one whose lens folder was since removed is not fitted again).
SURVEY_LENSES_ATTR = "tinylens_survey_lenses"

#: Set on a KeyboardInterrupt (a Ctrl-C, a SIGTERM) out of :func:`run_survey` while it fits lenses on an
#: external cluster (``scheduler``): that scheduler's address. Its workers outlive the survey's client and
#: go on fitting the lenses they had started (a local cluster's stop with it), which the hint says.
EXTERNAL_CLUSTER_ATTR = "tinylens_survey_external_cluster"
#: Set with :data:`EXTERNAL_CLUSTER_ATTR`: the lenses whose task on that cluster waits for the lock of
#: their output folder, held by another process (:func:`waiting_for_locks`): each fits its lens once
#: it gets the lock, unless that process finished it, which the hint says.
LOCK_WAITERS_ATTR = "tinylens_survey_lock_waiters"

#: Set on a KeyboardInterrupt out of :func:`run_survey`: a list holding the digest of its template
#: (:func:`fit_digest`) once the template is read (empty before, or where it cannot be made), so that
#: a Ctrl-C's hint tells a checkpoint of another template (:func:`other_checkpoint`) from one it resumes.
TEMPLATE_DIGEST_ATTR = "tinylens_survey_template_digest"

#: The checkpoint files a stopped fit resumes from: each sampler's checkpoint and the pipeline's
#: state, not a fingerprint (:func:`tinylens.filenames.fingerprint_name`), which a sampler writes
#: before its first checkpoint: one left alone resumes nothing (``prepare_checkpoint`` resumes only
#: where the checkpoint itself is there), and the fit starts again from the beginning.
RESUMED_FILES = (*filenames.CHECKPOINTS.values(), filenames.PIPELINE_STATE)


def resumed_names(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The checkpoint files (:data:`RESUMED_FILES`) whose presence in a lens's output folder makes
    the fit of the template ``config`` there resume, as the dry run counts them (``resume`` in
    :func:`survey_plan`); none where the template sets ``resume: false``."""
    from tinylens.inference.common import resumes

    inference = template_inference(config)
    return RESUMED_FILES if resumes(inference and inference.settings) else ()


def holds_checkpoint(folder: Path, names: Sequence[str] = RESUMED_FILES, digest: str | None = None) -> bool:
    """Whether ``folder`` holds any of the checkpoint files ``names`` (:func:`resumed_names`); with
    ``digest`` (:func:`fit_digest` of the template about to fit it), only one that is not of another
    template (:func:`other_checkpoint`)."""
    return any((folder / name).exists() for name in names) and not other_checkpoint(folder, digest, names)


def checkpoint_digest(folder: Path, name: str) -> str | None:
    """The digest (:func:`fit_digest`) of the template whose fit wrote the checkpoint file ``name``
    in the lens's output ``folder``, as the fit recorded it with the file
    (:data:`tinylens.inference.common.CHECKPOINT_TEMPLATE`: the pipeline state's ``template``, the file
    :func:`tinylens.filenames.template_name` beside the sampler's checkpoint), else as the last fit
    started there recorded it (:func:`attempted_digest`: a checkpoint of an older tinylens, or one
    written outside a survey); None where neither tells."""
    if name == filenames.PIPELINE_STATE:
        from tinylens.pipeline.run import TEMPLATE_KEY

        try:
            recorded = read_json_file(folder / name, non_finite=True).get(TEMPLATE_KEY)  # as the fit reads it (_read_state)
        except (OSError, ValueError, AttributeError):  # unreadable, or not a mapping
            recorded = None
    else:
        try:
            recorded = (folder / filenames.template_name(name)).read_text().strip() or None
        except (OSError, UnicodeDecodeError):
            recorded = None
    return recorded if isinstance(recorded, str) else attempted_digest(folder)


def other_checkpoint(folder: Path, digest: str | None, names: Sequence[str] = RESUMED_FILES) -> bool:
    """Whether every checkpoint file (of ``names``) in the lens's output ``folder`` was written by a
    fit of another template or precision than the one whose digest is ``digest`` (:func:`fit_digest`),
    as recorded with it (:func:`checkpoint_digest`; an earlier fit's checkpoint that a later fit,
    stopped before it replaced it, left there is still its writer's): a fit of ``digest`` resumes
    them only where its checkpoint's fingerprint is theirs all the same, and else starts from the
    beginning. False where either digest is not known (a fit by an older tinylens: the fit decides, unsaid)."""
    if digest is None:
        return False
    present = [name for name in names if (folder / name).exists()]
    recorded = [checkpoint_digest(folder, name) for name in present]
    return bool(present) and all(one is not None and one != digest for one in recorded)


def other_checkpoints(folders: Mapping[str, Path], names: Sequence[str], digest: str | None) -> list[str]:
    """The ids of the lenses of ``folders`` (id -> output folder) holding a checkpoint (of ``names``)
    of another template than ``digest``'s (:func:`other_checkpoint`)."""
    return [lens_id for lens_id, folder in folders.items() if other_checkpoint(folder, digest, names)]


def resuming_lenses(todo: Sequence[Lens], rows: Mapping[str, Mapping[str, Any]], changed: Collection[str],
                    out: Path, config: Mapping[str, Any]) -> list[str]:
    """The ids of the lenses of ``todo`` that the dry run lists as resuming from a checkpoint
    (:func:`survey_plan`'s ``resume``): neither ``changed`` nor failed in ``rows`` (fitted again,
    counted so), their output folder in ``out`` holding a checkpoint (:func:`resumed_names`)."""
    names, digest = resumed_names(config), fit_digest(config)
    return [lens.lens_id for lens in todo if names and lens.lens_id not in changed
            and (rows.get(lens.lens_id) or {}).get("status") != "failed"
            and holds_checkpoint(lens.output(out), names, digest)]


def template_inference(config: Mapping[str, Any]) -> Inference | None:
    """The template ``config``'s ``inference`` section as its fits read it (``type: Optimizer`` in
    any case, TinyLensGpu's older ``sampling`` section; :func:`tinylens.config.loader.legacy_sampling`);
    None where it is not valid (the template check refuses it)."""
    from pydantic import ValidationError

    from tinylens.config.loader import legacy_sampling

    section = legacy_sampling(config)[0].get("inference")
    try:
        return Inference.model_validate(section)
    except ValidationError:
        return None


def restart_reason(config: Mapping[str, Any]) -> str | None:
    """Why the fits of the template ``config`` keep no checkpoint to resume, so that a lens whose
    fit was interrupted starts again from the beginning (``the template sets resume: false``, or
    it runs an optimiser); None where they resume (a sampler's default)."""
    from tinylens.inference.common import resumes

    inference = template_inference(config)
    if inference is None:
        return None
    if inference.type == "optimizer":
        return "the template runs an optimiser, which keeps no checkpoint"
    if not resumes(inference.settings):
        return "the template sets resume: false"
    return None


def forget(todo: list[Lens], rows: dict[str, dict[str, Any]], out: Path) -> None:
    """Drop the old rows of lenses about to be fitted (a retried failure, an ``ok`` row whose
    result is gone), from ``rows`` and from disk, the catalogue's included, so that no stale row
    outlives an interrupted fit (one stopped before the first lens of this run finished too)."""
    dropped = [lens for lens in todo if rows.pop(lens.lens_id, None) is not None]
    for lens in dropped:
        (lens.output(out) / filenames.ROW).unlink(missing_ok=True)
    if dropped and (out / CATALOG_PARQUET).exists():
        write_catalog(rows, out)


def check_out_name_fits(out: Path, lenses: Sequence[Lens]) -> None:
    """An :class:`~tinylens.errors.OutputError` where the survey output folder ``out`` (resolved)
    is too long for the system (ENAMETOOLONG), before anything reads it: a name in its path
    longer than the disk there takes (:func:`~tinylens.paths.name_max_said`: the nearest folder's
    where it is not made yet), or a path of the survey's own files in it (its catalogue, and the
    row, stamp and result of each of ``lenses`` in its lens folder, each under its hidden
    temporary name first) of :data:`~tinylens.paths.PATH_MAX` bytes or more. Every lens folder is
    ``out/lenses/<id>``, so only the lens of the longest id is made paths of (a few, not three
    per lens: a survey of thousands of lenses starts no slower)."""
    from tinylens.atomic import hidden_name
    from tinylens.paths import PATH_MAX, limit_text, name_max_said, name_too_long

    reason = os.strerror(errno.ENAMETOOLONG)
    limit, said = name_max_said(out)
    part = name_too_long(out.parts, limit)
    if part is not None:
        which = "its name" if part == out.name else f"the name of a folder on its way ({part})"
        raise OutputError(f"The survey output folder {out} cannot be written: {which} is "
                          f"{len(os.fsencode(part))} bytes, a name longer than the system allows ({reason}; "
                          f"{limit_text(limit, said)}). Choose a shorter {SURVEY_FOLDER_CHOICE}.")
    files = [hidden_name(out / name) for name in (MANIFEST_FILE, CATALOG_PARQUET, CATALOG_CSV)]
    if lenses:
        folder = max(lenses, key=lambda lens: len(os.fsencode(lens.lens_id))).output(out)
        files += [hidden_name(folder / name) for name in (filenames.ROW, filenames.INPUTS, filenames.RESULT)]
    longest = max(files, key=lambda path: len(os.fsencode(path)))
    if len(os.fsencode(longest)) >= PATH_MAX:
        raise OutputError(f"The survey output folder {out} cannot be written: its path is {len(os.fsencode(out))} "
                          f"bytes, and the survey's files in it (as {longest.relative_to(out)}, written under a "
                          f"hidden temporary name first) would have paths of {len(os.fsencode(longest))} bytes, longer "
                          f"than the system allows ({reason}; {PATH_MAX} bytes on Linux). Choose a shorter "
                          f"{SURVEY_FOLDER_CHOICE}.")


def check_manifest(out: Path, current: Mapping[str, Any], template: str | Path,
                   config: Mapping[str, Any] | None = None) -> None:
    """Refuse to reuse ``out`` when its finished fits were made from another lens folder or
    template, or in another precision (``survey.json``, and each lens's ``inputs.json``): a
    ConfigValueError, as ``out`` (``--out``) is a value this run cannot take, naming the folder; a folder
    without finished fits may be reused freely. Where it is refused and the ``template`` (parsed:
    ``config``) is not a valid config, its mistakes are said instead: compared as written with
    one recorded as its fits read it (:func:`~tinylens.survey.provenance.template_key`), it would
    differ in keys it never changed."""
    recorded, unreadable = read_manifest(out / MANIFEST_FILE)
    results = list((out / LENSES_DIR).glob(f"*/{filenames.RESULT}"))
    if not results or (recorded is None and unreadable is None):  # no finished fit, or no record (deleted)
        return
    if recorded is None:  # the finished fits' template, lens folder and precision unknown: not reused unchecked
        # a folder in its place is not replaced by the record --reuse-finished writes (a file is, a named pipe too)
        keep = ("move the folder out of the way (the survey writes its record there) and keep them with --reuse-finished"
                if (out / MANIFEST_FILE).is_dir() else "keep them with --reuse-finished")
        raise ConfigValueError(
            f"The survey output folder {out} holds finished fits, but its record {out / MANIFEST_FILE} cannot be read "
            f"({unreadable}), so the template, lens folder and precision they were made with are unknown; they would "
            f"be reused as if made by this run. Give a new {SURVEY_FOLDER_CHOICE} for template {template}, or {keep} "
            "(run_survey: reuse_finished=True) if they were made with this template and lens "
            f"folder ({MANIFEST_FILE} is then written afresh), or delete {out} to fit everything again."
        )
    if not recorded.get("precision"):  # an older survey.json: its fits say what they computed in
        recorded = {**recorded, "precision": fitted_precision(results)}
    stamps = {path.parent.name: read_stamp(path.parent / filenames.INPUTS) or {} for path in results}
    why = manifest_conflict(recorded, current, config) or stamps_conflict(stamps, current)
    if why is not None:
        if config is not None:  # its ConfigError names the template's mistakes
            fits_read({k: v for k, v in config.items() if k != "output"}, f"template {template}")
        raise ConfigValueError(
            f"The survey output folder {out} holds finished fits that {why}; they would be reused as if made "
            f"by this run. Give a new {SURVEY_FOLDER_CHOICE} for template {template}, or delete {out} to fit "
            "everything again, or keep them with --reuse-finished (run_survey: reuse_finished=True), e.g. where "
            "the lens folder only moved, or the new template is for the lenses that failed, with --retry-failed "
            "(retry_failed=True)."
        )


def changed_lenses(lenses: list[Lens], template: Mapping[str, Any], out: Path) -> dict[str, list[str]]:
    """The lenses whose input files differ from those their last fit started from, with the
    files that changed (lenses never started are not listed; one fitted before stamps were kept,
    or whose stamp cannot be read, only for its mask, then read the other way round:
    :func:`unstamped_changes`)."""
    changed = {}
    for lens in lenses:
        folder = lens.output(out)
        recorded = read_stamp(folder / filenames.INPUTS)
        if recorded is not None:
            keys = changed_inputs(recorded, lens_config(template, lens, out))
        elif (folder / filenames.ROW).exists() or (folder / filenames.RESULT).exists():
            keys = unstamped_changes(lens_config(template, lens, out))
        else:
            keys = []
        if keys:
            changed[lens.lens_id] = keys
    return changed


def set_aside(lens_ids: list[str], out: Path, template: Mapping[str, Any] | None = None) -> None:
    """Make changed lenses (or retried ones) be fitted again: remove their row and rename their ``result.json``
    to ``result.previous.json`` (kept, but no longer taken for this lens's result), and so the
    fit's tables and figures (named by the ``template``'s ``output``): ``result_summary.csv`` to
    ``result_summary.previous.csv``, so that a new fit that fails leaves none beside its row."""
    names = fit_output_names(template)
    for lens_id in lens_ids:
        folder = Path(out) / LENSES_DIR / lens_id
        (folder / filenames.ROW).unlink(missing_ok=True)
        for name in names:
            if (folder / name).exists():
                (folder / name).replace(folder / filenames.previous_name(name))


def fit_output_names(config: Mapping[str, Any] | None) -> list[str]:
    """The files of a fit of ``config`` (a template, or a lens's config; ``None``: the defaults)
    that make its result: ``result.json``, then its tables and figures as its ``output`` names them.
    A template's lens files that it leaves out or gives as a placeholder are read as a lens's
    (:func:`lens_paths_given`)."""
    from tinylens.config import load_config
    from tinylens.fitting.outputs import file_names

    with warnings.catch_warnings():  # the template's own warnings: shown once, by its check
        warnings.simplefilter("ignore", ConfigWarning)
        return [filenames.RESULT, *file_names(load_config(lens_paths_given(config))[0]
                                              if config is not None else None).values()]


def lens_paths_given(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` (a template, or a lens's config) with each lens file a survey sets for
    each lens (:data:`~tinylens.survey.provenance.LENS_PATHS`) that it does not give as text (left
    out, ``null``, empty: a template's placeholder)
    :data:`~tinylens.survey.provenance.LENS_PATH_STANDIN`, as a lens's config gives it; a lens's
    config, which gives them all, as it is."""
    dataset = config.get("dataset")
    if not isinstance(dataset, Mapping):
        return dict(config)
    missing = [key for key in LENS_PATHS if not (isinstance(dataset.get(key), str) and dataset.get(key))]
    return {**config, "dataset": {**dataset, **dict.fromkeys(missing, LENS_PATH_STANDIN)}} if missing else dict(config)


def remove_orphan_outputs(folder: Path, config: Mapping[str, Any]) -> None:
    """Delete the tables and figures in ``folder`` of a fit of ``config`` that wrote no ``result.json``
    (killed while writing them, or failed): they are not a result, and must not look like one
    beside a failed row or an interrupted fit. Nothing is deleted where ``result.json`` is there,
    or where ``config`` cannot be read (its fit fails before writing anything)."""
    if (folder / filenames.RESULT).exists():
        return
    try:
        names = fit_output_names(config)[1:]
    except TinyLensError:
        return
    for name in names:
        with contextlib.suppress(OSError):  # (in a finally: must not hide the fit's own error)
            (folder / name).unlink(missing_ok=True)


def adopt_stamps(lenses: list[Lens], template: Mapping[str, Any], out: Path) -> None:
    """Stamp the inputs of lenses fitted by a survey that kept no stamps (before they existed),
    or whose ``inputs.json`` cannot be read (:func:`read_stamp`: not JSON, edited by hand), so
    that later changes to their files are noticed; not those whose unstamped fit counts as
    changed (:func:`unstamped_changes`: a mask, then read the other way round), which a stamp
    would keep for good where this run does not fit them again (``--only`` other lenses)."""
    from tinylens.results.tables import write_json

    for lens in lenses:
        folder = lens.output(out)
        if read_stamp(folder / filenames.INPUTS) is None and ((folder / filenames.ROW).exists()
                                                              or (folder / filenames.RESULT).exists()):
            config = lens_config(template, lens, out)
            if not unstamped_changes(config):
                write_json(folder / filenames.INPUTS, inputs_stamp(config))


def _changed_text(changed: Mapping[str, list[str]]) -> str:
    names = {"data_path": "image", "noise_path": "noise", "psf_path": "PSF", "mask_path": "mask"}
    return listed([f"{k} ({', '.join(names.get(x, x) for x in v)})" for k, v in sorted(changed.items())])


def changed_warning_text(changed: Mapping[str, list[str]]) -> str:
    """What a survey says of the lenses ``changed`` since their fit started (id: what changed)."""
    one = len(changed) == 1
    return (f"{lens_count(len(changed))} changed since {'its' if one else 'their'} fit started: {_changed_text(changed)}. "
            f"{'It is' if one else 'They are'} fitted again (an earlier result is kept as result.previous.json, its "
            "tables and figures as *.previous.*).")
