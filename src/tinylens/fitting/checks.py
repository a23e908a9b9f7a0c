"""What a fit checks before it touches its output folder or samples: its arguments' flags, the
inference settings (from the config alone first, before JAX and the data are loaded), that no
file it writes (a table, a figure, result.json, dynesty's history, the hidden temporaries) lands
on one of its inputs, is a folder there or has a name too long for the system, and that the
likelihood is finite somewhere in the prior.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tinylens import filenames
from tinylens.errors import (OUTPUT_FOLDER_CHOICE, ConfigError, ConfigTypeError, ConfigValueError, OutputError, in_config_file,
                             ls_command, retold)
from tinylens.fitting.outputs import FIGURE_KEYS, OUTPUT_SECTIONS, corner_names, figure_keys, file_names
from tinylens.fitting.replaced import _same_file
from tinylens.paths import PATH_MAX, limit_text, name_max_said, name_too_long


def without_pipeline(problem: Any) -> Any:
    """``problem`` with its config's ``pipeline.enabled`` false: the sampler alone over the full
    priors (``fit(..., pipeline=False)``, ``tinylens fit --no-pipeline``); the data, model and
    everything else as they are."""
    config = problem.config
    return replace(problem, config=config.model_copy(update={"pipeline": config.pipeline.model_copy(
        update={"enabled": False})}))


def check_flag(name: str, value: Any) -> None:
    """A ConfigError naming the argument ``name`` when its ``value`` is not True or False (numpy's
    bools too) nor the integer 1 or 0, as a config's true/false keys take them: a text such as
    ``"false"`` is true to Python, and ``fresh="false"`` deleted the checkpoints of a stopped fit.
    A value of another type (``"false"``, None, 1.0) is a :class:`~tinylens.errors.ConfigTypeError`,
    an integer other than 1 or 0 a :class:`~tinylens.errors.ConfigValueError`, as the rest of the API's are."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return
    error = ConfigValueError if isinstance(value, (int, np.integer)) else ConfigTypeError
    raise error(f"{name} must be True or False (or 1 or 0); got {type(value).__name__} {value!r}.")


def check_settings(problem: Any, folder: Path | None = None, config: str | Path | None = None) -> None:
    """What a fit checks of a loaded problem before it touches its output folder or samples
    (raises ConfigError): the inference method and its settings, and
    ``output.corner_parameters``. ``tinylens validate`` and a survey's template check run it too.
    With the output ``folder`` (a fit's), also that dynesty's evaluation history is not one of
    tinylens's own files there. With ``config``, the config file's path, the error names it."""
    from tinylens.inference import _named_as_written, check_inference, search_of

    with _config_file_named(config), _named_as_written(problem.config):  # dynesty's history: its key as written too
        check_inference(problem.config, problem.ndim)
        corner_names(list(problem.param_names), problem.config.output.corner_parameters)
        if folder is not None:
            module, _, settings, _ = search_of(problem)
            if hasattr(module, "check_history_folder"):  # dynesty's
                module.check_history_folder(settings, folder)


def check_settings_first(config_model: Any, config: str | Path | None = None) -> None:
    """What :func:`~tinylens.fitting.checks.check_settings` refuses that the loaded config ``config_model`` alone tells
    (:func:`tinylens.inference.check_inference_first`: an unknown method, a sampler setting that
    does not exist, a value of the wrong kind), with its message, before JAX, the data and the
    sampler's library are loaded: a misspelt ``nlvie`` took 13-15 s to be said. With ``config``,
    the config file's path, the error names it."""
    from tinylens.inference import check_inference_first

    with _config_file_named(config):
        check_inference_first(config_model)


@contextlib.contextmanager
def _config_file_named(config: str | Path | None) -> Iterator[None]:
    """A ConfigError raised within the block begins with the config file ``config``'s path
    (:func:`~tinylens.errors.in_config_file`), of the same class (:func:`~tinylens.errors.retold`:
    a ConfigValueError stays one; a MethodNotInstalledError keeps its ``name``);
    as it was where ``config`` is None."""
    try:
        yield
    except ConfigError as exc:
        if config is None:
            raise
        raise retold(exc, f"{in_config_file(config)}{exc}") from None


def check_inputs_kept(problem: Any, folder: Path, config: str | Path | None = None,
                      truth: str | Path | None = None) -> None:
    """An :class:`~tinylens.errors.OutputError` where a file the fit writes into its output
    ``folder`` (a table or figure named in ``output``, or one of tinylens's own, such as
    ``result.json``) or dynesty's evaluation history (``history_filename``) is one of its input
    files (the dataset's, or the ``config`` file): with ``output.path: .`` and
    ``output.tables.summary: psf.fits`` the fit overwrote the PSF it fitted (a dataset path's
    ``[HDU]`` suffix left out: ``image.fits[0]`` is the file ``image.fits``). An output ``folder``
    this user may not look into (it, or a folder on its way, may not be entered) is an
    OutputError naming it and what to check, not a bare PermissionError, as is one the system
    refuses to look at (a name too long for it), or where the hidden temporary name a file is
    written under first would be too long for it (:func:`~tinylens.fitting.checks._check_temporaries_fit`). ``truth``: the
    ``--truth`` file, an input too where given."""
    try:
        _check_inputs_kept(problem, folder, config, truth)
    except PermissionError as exc:
        ls = ls_command(folder, folder.parent)
        raise OutputError(f"Output folder {folder} cannot be looked into ({exc.strerror or 'permission denied'} on "
                          f"{exc.filename or folder}): this user may not enter it or a folder on its way. Check their "
                          f"permissions ({ls} and the folders above), or choose another {OUTPUT_FOLDER_CHOICE}.") from None
    except OSError as exc:  # a name too long for the system (ENAMETOOLONG), a failing disk (EIO)
        raise OutputError(f"Output folder {folder}: {exc.filename or folder} cannot be looked at ({exc.strerror or exc}). "
                          f"Choose another {OUTPUT_FOLDER_CHOICE}, or check the output file names in the "
                          "config.") from None


def _check_inputs_kept(problem: Any, folder: Path, config: str | Path | None = None,
                       truth: str | Path | None = None) -> None:
    """:func:`~tinylens.fitting.checks.check_inputs_kept`, whose OSError (an output folder that may not be entered) it
    leaves to it."""
    inputs = fit_inputs(problem, config, truth)
    keys = {name: f"output.{OUTPUT_SECTIONS[role]}.{role}" for role, name in file_names(problem.config).items()}
    for name in (*keys, *(own for own in filenames.RESERVED if own not in keys)):
        target = landing(folder / name)  # output.path: new/.. is the config's folder, before new/ is made
        found = _input_at(target, inputs) if target.is_file() else None
        if found is not None:
            what, path = found
            key = keys.get(name)
            writes = f"{key}: the fit would write {name}" if key else f"output.path: the fit writes its own {name}"
            rename = f"another name for {key} or " if key else ""
            raise OutputError(f"{writes} into its output folder {folder}, and that file is {what} ({path}), which it "
                              f"would overwrite. Choose {rename}another {OUTPUT_FOLDER_CHOICE}.")
    _check_temporaries_fit(problem, folder, keys)
    _check_no_folder_at_files(problem, folder, keys)
    _check_history_kept(problem, folder, inputs)


def _check_no_folder_at_files(problem: Any, folder: Path, keys: Mapping[str, str]) -> None:
    """An :class:`~tinylens.errors.OutputError` where a file the fit writes into its output
    ``folder`` (:func:`~tinylens.fitting.checks.atomic_names`; its figures only where it may draw them, a corner plot a
    sampler's only) is a folder there, which the system would refuse to replace (IsADirectoryError):
    found before the search, not when its table is written after it. ``keys``: the config key of each file name the config chose."""
    names, drawn = file_names(problem.config), figure_keys(problem)
    undrawn = {names[key] for key in FIGURE_KEYS if key not in drawn}
    for name in atomic_names(problem):
        if name not in undrawn and landing(folder / name).is_dir():  # output.path: new/.. before new/ is made
            key = keys.get(name)
            what = f"its {name} ({key})" if key else f"its own {name}"
            rename = f"another name for {key} or " if key else ""
            raise OutputError(f"Output folder {folder}: {name} there is a folder, where the fit writes {what}, which "
                              f"the system would refuse after the search. Move or rename that folder, or choose "
                              f"{rename}another {OUTPUT_FOLDER_CHOICE}.")


def atomic_names(problem: Any) -> list[str]:
    """The files a fit of ``problem`` writes into its output folder under a hidden temporary name
    first (:mod:`tinylens.atomic`): its tables and figures, ``result.json``, and a sampler's
    checkpoint, the checkpoint's fingerprint and (with the pipeline) the pipeline's state."""
    from tinylens.inference import sampler_method, search_of

    module, _, _, pipeline = search_of(problem)
    names = [*file_names(problem.config).values(), filenames.RESULT]
    if hasattr(module, "checkpoint_stamp"):  # a sampler's; an optimiser keeps no checkpoint
        checkpoint = filenames.CHECKPOINTS[sampler_method(problem)]
        names += [checkpoint, filenames.fingerprint_name(checkpoint)]
        names += [filenames.PIPELINE_STATE] if pipeline is not None else []
    return names


def _check_temporaries_fit(problem: Any, folder: Path, keys: Mapping[str, str]) -> None:
    """An :class:`~tinylens.errors.OutputError` where the hidden temporary name that a file of the
    fit (:func:`~tinylens.fitting.checks.atomic_names`) is written under first is longer than the system allows in the
    output ``folder`` (ENAMETOOLONG: a path of :data:`~tinylens.paths.PATH_MAX` bytes or more, or,
    said so, a name the config chose that fits but whose temporary passes the disk's
    :data:`~tinylens.paths.NAME_MAX` bytes a name), though the files' own names fit: found before
    the fit runs, not at its first file. The longest is tested (each is its file's name and the
    same number of bytes more). Where ``folder`` is not made yet the system
    says "not found" before it looks at a name's length, so the longest file name and its temporary
    are held against the limit of the nearest folder there (:func:`~tinylens.paths.name_max_said`), which
    a refusal in a folder made names too. ``keys``: the config key of each file name the config chose."""
    from tinylens.atomic import hidden_name

    name = max(atomic_names(problem), key=lambda n: len(os.fsencode(n)))
    temporary = hidden_name(folder / name)
    key = keys.get(name)
    reason = os.strerror(errno.ENAMETOOLONG)
    try:
        os.stat(temporary)
    except (FileNotFoundError, NotADirectoryError):  # no folder there yet: the system never saw the name
        limit, said = name_max_said(folder)
        if limit is not None and len(os.fsencode(name)) > limit:
            shorter = f"a shorter name for {key}" if key else "shorter names for the output files"
            raise OutputError(f"Output folder {folder}: {name} is {len(os.fsencode(name))} bytes, a name longer than "
                              f"the system allows ({reason}; {limit_text(limit, said)}). Choose {shorter} in the "
                              "config.") from None
        if limit is not None and len(os.fsencode(temporary.name)) > limit:
            raise OutputError(_temporary_too_long(folder, name, temporary, key, reason, limit, said)) from None
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        raise OutputError(_temporary_too_long(folder, name, temporary, key, exc.strerror or reason,
                                              *name_max_said(folder))) from None


def _temporary_too_long(folder: Path, name: str, temporary: Path, key: str | None, reason: str,
                        limit: int | None, said: bool) -> str:
    """What :func:`~tinylens.fitting.checks._check_temporaries_fit` says of the hidden ``temporary`` name of the file
    ``name`` (the config's ``key`` where it chose it) too long for the system (its ``reason``): a
    name too long, where the path fits (:data:`~tinylens.paths.PATH_MAX`) and the config chose it,
    or a path. ``limit``, ``said``: the longest name in bytes the temporary was held against and
    whether the system said it (:func:`~tinylens.paths.name_max_said`; where not, most disks'
    :data:`~tinylens.paths.NAME_MAX` is said, :func:`~tinylens.paths.limit_text`)."""
    first = (f"Output folder {folder}: the fit writes each file there under a hidden temporary name first, and "
             f"that of {name} ({temporary.name})")
    if len(os.fsencode(temporary)) < PATH_MAX and key:  # the path fits: the name itself is refused
        allowed = limit_text(limit, said)
        return (f"{first} is {len(os.fsencode(temporary.name))} bytes, a name longer than the system allows "
                f"({reason}; {allowed}). Choose a shorter name for {key} in the config.")
    shorter = f"a shorter name for {key} or " if key else ""
    return (f"{first} makes a path of {len(os.fsencode(temporary))} bytes, longer than the system allows "
            f"({reason}; {PATH_MAX} bytes on Linux). Choose {shorter}a shorter {OUTPUT_FOLDER_CHOICE}.")


def _check_history_kept(problem: Any, folder: Path, inputs: dict[str, Any]) -> None:
    """An :class:`~tinylens.errors.OutputError` where dynesty's evaluation history
    (``inference.settings.history_filename``, in the output ``folder`` unless absolute) is one of
    the fit's ``inputs`` (what each is -> its path), which dynesty would overwrite, or where its
    name, the name of a folder on its way, or its path (or a later sampling run's history's), is
    too long for the system (:func:`~tinylens.fitting.checks._check_history_name_fits`)."""
    from tinylens.config.loader import key_as_written
    from tinylens.inference import search_of

    module, _, settings, pipeline = search_of(problem)
    history = module.history_file(settings, folder) if hasattr(module, "history_file") else None  # dynesty's
    key = key_as_written(problem.config, "inference.settings.history_filename")  # sampling.history_filename
    if history is None:
        return
    runs = pipeline.max_widen + 1 if pipeline is not None and pipeline.bounded else 1
    _check_history_name_fits(history, runs, folder, key)
    found = history_over_input(history, runs, inputs)
    if found is not None:
        raise OutputError(f"{key}: {found}. Choose another history_filename in the config.")


def history_over_input(history: Path, runs: int, inputs: Mapping[str, str | Path]) -> str | None:
    """What to say where dynesty's evaluation ``history`` of a fit's first sampling run, or that
    of one of its later ``runs`` (:func:`tinylens.filenames.run_name`), lands on one of the fit's
    ``inputs`` (what each is -> its path), taken where it lands (:func:`~tinylens.fitting.checks.landing`:
    ``output/../image.fits`` is ``image.fits`` though ``output`` is not made yet); None where none does."""
    later = [Path(filenames.run_name(str(history), run)) for run in range(2, runs + 1)]
    for written in (history, *later):
        target = landing(written)
        found = _input_at(target, inputs) if target.is_file() else None
        if found is not None:
            what, path = found
            run = "" if written == history else f" of its sampling run {later.index(written) + 2}"
            to = f"{written}" if target == written else f"{written} ({target})"
            return (f"dynesty would write its evaluation history{run} to {to}, and that file is {what} ({path}), "
                    "which it would overwrite")
    return None


def _check_history_name_fits(history: Path, runs: int, folder: Path,
                             key: str = "inference.settings.history_filename") -> None:
    """An :class:`~tinylens.errors.OutputError` where dynesty's evaluation history ``history``, or
    that of the last of the fit's ``runs`` sampling runs (the longest,
    :func:`tinylens.filenames.run_name`), is too long for the system, so that the fit refuses it
    before it runs, not when dynesty first writes the history (or makes its folder): its name, or
    that of a folder ``history_filename`` puts it in (not the output ``folder``'s own, which the
    checks of the output folder see to), longer than the disk there takes
    (:func:`~tinylens.paths.name_max_said`: the nearest folder's there where it is not made yet), or its
    path :data:`~tinylens.paths.PATH_MAX` bytes or more. ``key``: history_filename's key as the
    config wrote it (:func:`~tinylens.config.loader.key_as_written`), which the message begins with."""
    limit, said = name_max_said(history.parent)
    last = Path(filenames.run_name(str(history), runs)) if runs > 1 else history
    reason = os.strerror(errno.ENAMETOOLONG)
    start = (f"{key}: dynesty would write its evaluation history in {history.parent}, "
             "and ")
    too_long = [path for path in (history, last) if limit is not None and len(os.fsencode(path.name)) > limit]
    if too_long:
        path = too_long[0]
        which = "its name" if path == history else f"the name of its sampling run {runs}'s history ({path.name})"
        raise OutputError(f"{start}{which} is {len(os.fsencode(path.name))} bytes, a name longer than the system "
                          f"allows ({reason}; {limit_text(limit, said)}). Choose a shorter history_filename in the config.")
    own = history.parent.relative_to(folder).parts if history.parent.is_relative_to(folder) else history.parent.parts
    part = name_too_long(own, limit)
    if part is not None:
        raise OutputError(f"{start}the name of a folder on its way ({part}) is {len(os.fsencode(part))} bytes, a "
                          f"name longer than the system allows ({reason}; {limit_text(limit, said)}). Choose a shorter "
                          "history_filename in the config.")
    too_long = [path for path in (history, last) if len(os.fsencode(path)) >= PATH_MAX]
    if too_long:
        path = too_long[0]
        which = "its path" if path == history else f"the path of its sampling run {runs}'s history ({path.name})"
        output = " (or output.path, or --output; tinylens.fit: output=)" if history.is_relative_to(folder) else ""
        raise OutputError(f"{start}{which} is {len(os.fsencode(path))} bytes, longer than the system allows "
                          f"({reason}; {PATH_MAX} bytes on Linux). Choose a shorter history_filename in the "
                          f"config{output}.")


def fit_inputs(problem: Any, config: str | Path | None = None,
               truth: str | Path | None = None) -> dict[str, str | Path]:
    """The fit's input files, by what each is: the dataset's (``the dataset's psf_path file``, its
    ``[HDU]`` suffix left out) and, where given, the ``config`` file (``this fit's config file``)
    and the ``truth`` file (``the --truth file``)."""
    from tinylens.survey.provenance import dataset_files, input_files

    inputs: dict[str, str | Path] = {f"the dataset's {key} file": path
                                     for key, path in input_files(dataset_files(problem.dataset)).items()}
    if config is not None:
        inputs["this fit's config file"] = config
    if truth is not None:
        inputs["the --truth file"] = truth
    return inputs


def landing(path: str | Path) -> Path:
    """Where a file the fit writes at ``path`` lands: absolute, ``~`` expanded, the links of the
    folders that exist followed and a ``..`` after a folder that does not yet taken off with it
    (:meth:`pathlib.Path.resolve`, not strict): the system cannot look at ``output/../image.fits``
    while ``output`` is not made (``is_file()`` is False there), yet once the fit has made it that
    is ``image.fits``. Where the links cannot be followed (a loop) or the system refuses to look at
    the path (a NUL character in a name) the path is only normalised."""
    path = Path(path).expanduser()
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symbolic link loop; ValueError: an embedded NUL character
        return Path(os.path.normpath(path.absolute()))


def _input_at(target: Path, inputs: Mapping[str, str | Path]) -> tuple[str, str | Path] | None:
    """The first of the fit's ``inputs`` (:func:`~tinylens.fitting.checks.fit_inputs`: what -> path) that is the file
    ``target`` (:func:`~tinylens.fitting.replaced._same_file`), as (what, path); None where none is."""
    return next(((what, path) for what, path in inputs.items() if _same_file(target, Path(path).expanduser())), None)


#: Random draws from the prior that :func:`~tinylens.fitting.checks.check_likelihood` tries after the prior median.
LIKELIHOOD_DRAWS = 64


def check_likelihood(problem: Any, config: str | Path | None = None, draws: int = LIKELIHOOD_DRAWS) -> float:
    """The log-likelihood at the prior median (``u = 0.5``), after making sure that it is finite
    somewhere: if it is not finite there nor at ``draws`` random draws from the prior, no sampler
    or optimiser can fit the problem (nautilus would search forever), so raise ConfigError.

    Draws are evaluated ``problem.min_chunk`` at a time, the batch shape a fit compiles anyway,
    and only until one is finite.
    """
    median = float(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))
    if np.isfinite(median):
        return median
    u = np.random.default_rng(0).uniform(size=(draws, problem.ndim))
    for start in range(0, draws, problem.min_chunk):
        if np.isfinite(problem.log_likelihood(problem.prior_transform(u[start : start + problem.min_chunk]))).any():
            return median
    where = in_config_file(config)
    raise ConfigValueError(
        f"{where}the log-likelihood is not finite at the prior median nor at any of {draws} random draws "
        f"from the priors, so nothing can be fitted. {_unfittable_causes(float(problem.dataset.pixel_scale))}"
    )


def _unfittable_causes(pixel_scale: float) -> str:
    """The likely causes of a likelihood finite nowhere: first ``dataset.pixel_scale``, where it
    is outside :data:`~tinylens.data.dataset.PLAUSIBLE_PIXEL_SCALE` (the grid's coordinates, in
    arcsec, may then overflow), else the usual ones."""
    from tinylens.data.dataset import PLAUSIBLE_PIXEL_SCALE

    usual = ("a fixed ellipticity so close to 1 that the axis ratio is nearly 0, priors that allow only such "
             "values, or data (image, noise, mask) that leave no usable pixel.")
    low, high = PLAUSIBLE_PIXEL_SCALE
    if low <= pixel_scale <= high:
        return f"Usual causes: {usual}"
    return (f"Likely cause: dataset.pixel_scale is {pixel_scale:g}\"/pixel, far outside the {low:g}\" to {high:g}\" "
            "of any imager that resolves a lens: it is in arcsec per pixel, and the pixels' coordinates it gives "
            f"are too large (or small) to compute with; correct it. Other causes: {usual}")
