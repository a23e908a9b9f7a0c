"""A survey's template: loading it (:func:`load_template`), making each lens's config from it
(:func:`lens_config`), and checking it before any lens is fitted (:func:`check_template`): that it
loads with the lenses' own files, that its mask fits their images, and that the settings a fit
would refuse are refused once, for the whole survey, rather than once per lens.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tinylens.errors import ConfigError, ConfigTypeError, ConfigValueError, ConfigWarning, DataError, lens_count, retold
from tinylens.results.truth import TRUTH_FILE
from tinylens.survey.discovery import Lens, held_names, lens_file, present_files
from tinylens.survey.lens_files import LENS_FILES, MASK_FILE
from tinylens.survey.provenance import fits_read


def load_template(path: str | Path, pipeline: bool = True) -> dict[str, Any]:
    """The template YAML as a dict, its relative ``dataset.mask_path`` made absolute; without
    ``pipeline`` (``tinylens survey --no-pipeline``) its ``pipeline`` section is ``{enabled:
    false}`` (:func:`without_pipeline`). A top level that is no mapping is a ConfigTypeError, as a
    config's is; a file that cannot be read a ConfigFileError (:func:`~tinylens.config.loader.read_text`).
    A key YAML read as no text (``on:`` read as true) is refused at once by the schema's check of
    the template (:func:`~tinylens.survey.provenance.fits_read`), which names it as written."""
    from tinylens.config.loader import home_expanded, parse_yaml_keys, read_text

    path = home_expanded(path)
    data, key_words = parse_yaml_keys(read_text(path), path)
    if not isinstance(data, dict):
        raise ConfigTypeError(f"The top level of template {path} must be a mapping with 'dataset', 'model_components', ...")
    if key_words:  # a key YAML read as no text (on: as true), which no key of a config is: named as written
        fits_read(data, f"template {path}", key_words)
    data = copy.deepcopy(data)
    dataset = data.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("mask_path"), str):
        mask = home_expanded(dataset["mask_path"])
        dataset["mask_path"] = str(mask if mask.is_absolute() else path.resolve().parent / mask)
    return data if pipeline else without_pipeline(data)


def without_pipeline(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` (parsed) fitted with the sampler alone, as ``tinylens fit --no-pipeline`` fits
    a config: its ``pipeline`` section ``{enabled: false}``, the keys that then go unread left out,
    so that no lens's fit warns of them. Part of the template as survey.json records it: a survey
    resumed with the flag changed is one of another template. A ``pipeline`` that is no mapping, or
    one the schema refuses (a key mistyped, a value of the wrong kind), is left for the config's
    check to refuse, as ``tinylens fit --no-pipeline`` and ``tinylens validate --no-pipeline``
    refuse such a file, and one already off (``enabled: false``, as the schema reads it) as it is:
    its fits are the same with the flag or without, and so is its record, so that a survey of it
    begun without the flag is continued with it (and its unused keys are warned of as the file
    gives them, as ``tinylens fit --no-pipeline`` warns)."""
    section = template.get("pipeline")
    if section is None or (isinstance(section, Mapping) and pipeline_enabled(section) is True):
        template["pipeline"] = {"enabled": False}
    return template


def pipeline_enabled(section: Mapping[str, Any]) -> bool | None:
    """Whether a template's ``pipeline`` section turns the pipeline on, as the config's schema
    reads it (``enabled: false``, ``0``, ``"no"``: off); None where the schema refuses it (its fits
    refuse it, with or without ``--no-pipeline``)."""
    from tinylens.config.schema import Pipeline

    try:
        return bool(Pipeline.model_validate(dict(section)).enabled)
    except ValueError:  # pydantic's ValidationError
        return None


def lens_dataset(template: Mapping[str, Any], lens: Lens) -> dict[str, Any]:
    """``template``'s ``dataset`` (a shallow copy) with ``lens``'s file paths filled in (absolute):
    each of :data:`LENS_FILES`, and ``mask_path`` where the lens folder holds a :data:`MASK_FILE`
    (else the template's, if any)."""
    dataset = template.get("dataset")
    dataset = dict(dataset) if isinstance(dataset, Mapping) else {}
    held = held_names(lens.folder)
    dataset.update({key: str(lens_file(lens.folder, name, held)) for key, name in LENS_FILES.items()})
    if mask := present_files(lens.folder, MASK_FILE, held):
        dataset["mask_path"] = str(mask[0])
    return dataset


def lens_config(template: Mapping[str, Any], lens: Lens, out: str | Path) -> dict[str, Any]:
    """``template`` with ``lens``'s file paths and its output folder filled in (all absolute)."""
    config = copy.deepcopy(dict(template))
    config["dataset"] = lens_dataset(config, lens)
    output = config.get("output")
    output = dict(output) if isinstance(output, Mapping) else {}
    output["path"] = str(lens.output(Path(out).resolve()))
    config["output"] = output
    return config


def refused_files(lenses: Sequence[Lens], template: Mapping[str, Any]) -> dict[str, str]:
    """Each of ``lenses`` whose files its fit with ``template`` would refuse, with the DataError
    that names the file and says why, as far as the files' FITS headers tell, no pixel read
    (:func:`tinylens.data.dataset.check_file_shapes`: a file missing, unreadable or not FITS, no
    2-D image, a noise map or mask of another shape than the image, a PSF of an even size)."""
    from tinylens.data.dataset import check_file_shapes

    refused = {}
    for lens in lenses:
        dataset = lens_dataset(template, lens)  # as lens_config fills it in, without copying the template for each lens
        mask = dataset.get("mask_path")  # the template's absolute (load_template) where the lens has none
        paths: dict[str, Path | None] = {key: Path(dataset[key]) for key in LENS_FILES}
        paths["mask_path"] = Path(mask) if isinstance(mask, str) and mask else None
        try:
            check_file_shapes(paths)
        except DataError as exc:
            refused[lens.lens_id] = str(exc)
    return refused


#: At most this many lenses' headers are read to find those a template is checked with
#: (:func:`template_lenses`): where every lens's files are refused (a template's mask of another
#: shape than every image) reading all of them cost ~10 ms a lens, ~2 minutes for 10,000 lenses,
#: before the survey started.
TEMPLATE_LENS_SEARCH = 50


def template_lenses(template: Mapping[str, Any], lenses: Sequence[Lens], tries: int,
                    refused: Mapping[str, str] | None = None) -> Iterator[Lens]:
    """At most ``tries`` of ``lenses`` to check ``template`` with, in their order: first those
    whose files :func:`refused_files` passes, each lens's headers read only as it is reached, and
    only those of the first :data:`TEMPLATE_LENS_SEARCH` lenses (``refused``: its refusals where
    already known, for every lens); where fewer pass, then the first refused."""
    given, skipped = 0, []
    for number, lens in enumerate(lenses):
        if given == tries or (refused is None and number == max(TEMPLATE_LENS_SEARCH, tries)):
            break
        why = (refused if refused is not None else refused_files([lens], template)).get(lens.lens_id)
        if why is None:
            given += 1
            yield lens
        elif len(skipped) < tries:
            skipped.append(lens)
    yield from skipped[:tries - given]


def read_from_yaml(check: Any) -> Any:
    """``check`` (:func:`check_template`) with the lens configs it validates taken as parsed from YAML
    (:func:`~tinylens.config.loader.mapping_from_yaml`): a survey's template is a YAML file
    (:func:`load_template`), so a mistake in it says what YAML read (``zeropoint: yes``: 'YAML reads an
    unquoted yes, on or true as true'), as ``tinylens validate`` of it would, though each lens's config
    is the template filled in as a mapping."""
    @functools.wraps(check)
    def checked(*args: Any, **kwargs: Any) -> Any:
        from tinylens.config.loader import mapping_from_yaml

        with mapping_from_yaml():
            return check(*args, **kwargs)
    return checked


@read_from_yaml
def check_template(template: Mapping[str, Any], lenses: list[Lens], out: str | Path, tries: int = 3,
                   name: str = "template", broken: dict[str, str] | None = None,
                   refused: Mapping[str, str] | None = None, every: Sequence[Lens] | None = None) -> str | None:
    """Load ``template`` against the first lenses and check it as ``tinylens validate`` does
    (:func:`tinylens.fitting.checks.check_settings` with the lens's output folder, dynesty's history with
    every lens's (:func:`check_histories`: those of ``every``, the survey's lens folders, where
    given, as a lens done, not in ``lenses``, has its files there too; else of ``lenses``), then
    :func:`tinylens.fitting.checks.check_likelihood`); return
    the id of the lens it was checked with (``None``: every lens tried has broken data; each
    such lens's id and message are added to ``broken`` when given). The lenses whose files
    their FITS headers refuse are tried last (:func:`template_lenses`, among the first
    :data:`TEMPLATE_LENS_SEARCH`; ``refused``: those refusals where already known, among all), so
    that broken first lenses do not leave it unchecked.

    A :class:`ConfigError` from loading or the settings is the template's and is raised at once,
    but one the config alone gives (:func:`tinylens.fitting.checks.check_settings_first`, read before any
    data) waits while the lens tried has files its FITS headers refuse, and is raised, naming no
    such lens, with the next lens whose files pass or once every lens tried has broken data; so is
    the template's own mask where it fits no image of the lenses that use it
    (:func:`check_template_mask`), though a lens with a mask of its own works.
    A :class:`DataError` is one lens's (that lens will fail alone), so the next lens is tried. A
    likelihood finite nowhere may also be one lens's doing (its data): the next is tried too, and
    the template is blamed only when no lens tried gives a finite likelihood. Where every lens
    tried has broken data, what can be told without one is still checked: the template's mask
    file (:func:`check_template_mask`), its ``dataset.mask`` against the images' shapes
    (:func:`check_shape_mask`), the sampler's settings and ``output.corner_parameters``
    (:func:`check_unloaded_settings`) and dynesty's history from the settings alone (:func:`check_histories`).
    """
    from tinylens.config.loader import read_config_first
    from tinylens.fitting.checks import check_likelihood, check_settings, check_settings_first

    nowhere: ConfigError | None = None
    early: ConfigError | None = None  # the config's refusal, told before the data of a lens whose files are refused
    shown: set[str] = set()  # the template's warnings, each shown once whichever lenses are tried
    tried: list[str] = []
    for lens in template_lenses(template, lenses, tries, refused):
        tried.append(lens.lens_id)
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                config = lens_config(template, lens, out)
                try:
                    read = read_config_first(config, None, None)  # tinylens.load's first part: no JAX, no data
                    check_settings_first(read[0])  # a sampler setting's mistake, before JAX and the data load
                except ConfigError as exc:
                    # said before the lens's data are read: where its files' headers refuse them, its
                    # fit never reads its config either, so the lens is broken, not the one checked with
                    why = (refused if refused is not None else refused_files([lens], template)).get(lens.lens_id)
                    if why is None:
                        raise
                    if broken is not None:
                        broken[lens.lens_id] = why
                    early = early or exc
                    continue
                from tinylens.problem import LOAD_ORIGIN, load_from

                problem = load_from(config, None, LOAD_ORIGIN, read=read)  # as tinylens.load(config)
                check_settings(problem, lens.output(Path(out).resolve()))  # with its output folder, as its fit checks
        except DataError as exc:
            if broken is not None:
                broken[lens.lens_id] = str(exc)
            continue
        except ConfigError as exc:
            raise retold(exc, f"The {name} does not work (checked with lens {lens.lens_id}): {exc}") from None
        finally:  # also of a lens whose data are broken: the config's warnings came before its data were read
            _warn_of_template(caught, name, shown)
        if nowhere is None:  # the first lens loaded: the template's settings, the same for every lens
            check_histories(problem, lenses if every is None else every, out, name)
        try:
            check_likelihood(problem)
        except ConfigError as exc:
            nowhere = retold(exc, f"The {name} does not work (checked with lens {lens.lens_id}): {exc}")
            continue
        if lens_dataset(template, lens).get("mask_path") != template_mask(template):  # its own mask.fits, or none
            check_template_mask(template, lenses, name)  # the template's may still fit none of the lenses using it
        return lens.lens_id
    if nowhere is not None:
        raise nowhere
    if early is not None:  # every lens tried has broken files: the config's refusal is the template's, no lens's
        raise retold(early, f"The {name} does not work ({unloaded_check(tried)}): {early}")
    check_template_mask(template, lenses, name)
    if lenses:  # no lens loaded: the template validated once, for the checks that need no lens's data
        config = loaded_template(template, lenses[0], out, name, tried)
        check_shape_mask(template, lenses, config, name)
        check_unloaded_settings(config, name, tried)  # the sampler's settings, output.corner_parameters
        # dynesty's history, not checked with a lens loaded: with the settings alone
        check_histories(SimpleNamespace(config=config), lenses if every is None else every, out, name)
    return None


def unloaded_check(tried: Sequence[str]) -> str:
    """How :func:`check_template` checked a template where no lens loaded, for its messages: with
    no lens's data, naming the lenses ``tried`` (each with broken data), or none tried."""
    if not tried:
        return "checked with no lens's data: no lens was tried"
    return f"checked with no lens's data: every lens tried has broken data ({some_lenses(tried)})"


def check_unloaded_settings(config: Any, name: str = "template", tried: Sequence[str] = ()) -> None:
    """:func:`tinylens.fitting.checks.check_settings` (the inference method and its settings,
    ``output.corner_parameters``) of ``config``, the template as a lens's fit reads it
    (:func:`loaded_template`), where no lens loaded: those checks need only the model's free
    parameters, built from ``model_components`` alone, as a loaded lens's are; its ConfigError
    names the template and says that no lens loaded (:func:`unloaded_check` of the lenses ``tried``).
    The free parameters come from the profiles' names
    (:func:`~tinylens.config.model_spec.free_parameter_names`), with the profiles' own messages, JAX
    not imported, and without the model's warnings (a prior reaching outside its parameter's
    values): each lens tried built the model and :func:`check_template` said them, naming the template."""
    from tinylens.config.model_spec import free_parameter_names
    from tinylens.fitting.checks import check_settings

    try:
        names = free_parameter_names(config.model_components)
        check_settings(SimpleNamespace(config=config, param_names=names, ndim=len(names)))
    except ConfigError as exc:
        raise retold(exc, f"The {name} does not work ({unloaded_check(tried)}): {exc}") from None


def check_histories(problem: Any, lenses: Sequence[Lens], out: str | Path, name: str = "template") -> None:
    """(``problem``: a loaded Problem, or anything with its ``config``, all that is read.)
    Raise a ConfigError where dynesty's evaluation history (``history_filename``, the
    template's: the same for every lens) would be one of tinylens's own files in the output folder
    of any of ``lenses`` (``../lens_0007/result.json``, or an absolute path to one), which that
    lens's fit refuses only when it starts (:func:`tinylens.fitting.checks.check_settings` with its folder),
    so that the template check, which tries a few lenses only, finds it before the survey starts;
    and, a ConfigValueError, where it is the same file for every lens (an absolute path,
    ``../calls.h5``), which each lens's fit would start afresh, losing the others' histories."""
    from tinylens.config.loader import key_as_written
    from tinylens.inference import _named_as_written, search_of

    inference = problem.config.inference
    if not dict(getattr(inference, "settings", None) or {}).get("save_evaluation_history"):
        return  # no history kept: the sampler's module is not imported for it (nautilus's: ~3 s)
    module, _, settings, _ = search_of(problem)
    if not hasattr(module, "check_history_folder"):  # dynesty's alone keeps one
        return
    root = Path(out).resolve()
    for lens in lenses:
        try:
            with _named_as_written(problem.config):  # sampling.history_filename, for TinyLensGpu's older section
                module.check_history_folder(settings, lens.output(root))
        except ConfigError as exc:
            raise retold(exc, f"The {name} does not work (for lens {lens.lens_id}'s fit): {exc}") from None
    _check_history_inputs(problem, lenses, root, name)
    shared = [module.history_file(settings, lens.output(root)).resolve() for lens in lenses[:2]]
    if len(shared) == 2 and shared[0] == shared[1]:  # absolute, or leaving the lens's folder: one file for all
        raise ConfigValueError(
            f"The {name} does not work: {key_as_written(problem.config, 'inference.settings.history_filename')}: "
            f"'{settings.get('history_filename')}' is the same file {shared[0]} for every lens (an "
            "absolute path, or one that leaves the lens's output folder), so that each lens's fit would write its "
            "history over the one before (dynesty starts the file afresh), two workers at once into the same file. "
            "Give a file name (dynesty_logl_history.h5, or hist/calls.h5): each lens's history then goes into its "
            "own output folder.")


def _check_history_inputs(problem: Any, lenses: Sequence[Lens], root: Path, name: str) -> None:
    """(For :func:`check_histories`, with the template's history kept.) Raise a ConfigValueError
    where dynesty's history of a lens's fit (any sampling run's) lands on one of that lens's input
    files (its image, noise map, PSF or mask, the template's mask, or its truth.json, which its fit
    is given as --truth), which its fit refuses only when it starts: an absolute path to the image
    in a one-lens survey, or a relative one leaving
    its output folder, which is not made yet (``..`` is then taken off with the folder before it,
    :func:`tinylens.fitting.checks.landing`, as the fit makes the folder first)."""
    from tinylens.config.loader import key_as_written
    from tinylens.fitting.checks import history_over_input
    from tinylens.inference import search_of

    module, _, settings, pipeline = search_of(problem)
    runs = pipeline.max_widen + 1 if pipeline is not None and pipeline.bounded else 1
    mask = getattr(getattr(problem.config, "dataset", None), "mask_path", None)
    for lens in lenses:
        inputs: dict[str, str | Path] = {f"lens {lens.lens_id}'s {key} file": path
                                         for key, path in lens_dataset({}, lens).items()}
        if isinstance(mask, str) and mask:
            inputs.setdefault("the template's mask_path file", mask)
        inputs[f"lens {lens.lens_id}'s truth file"] = lens.folder / TRUTH_FILE  # its fit's --truth (fit_lens)
        found = history_over_input(module.history_file(settings, lens.output(root)), runs, inputs)
        if found is not None:
            raise ConfigValueError(
                f"The {name} does not work (for lens {lens.lens_id}'s fit): "
                f"{key_as_written(problem.config, 'inference.settings.history_filename')}: {found}. Choose another "
                "history_filename in the template.")


def template_mask(template: Mapping[str, Any]) -> str | None:
    """The template's own mask (``dataset.mask_path``, absolute since :func:`load_template`);
    None where it gives none."""
    dataset = template.get("dataset")
    mask = dataset.get("mask_path") if isinstance(dataset, Mapping) else None
    return mask if isinstance(mask, str) and mask else None


def check_template_mask(template: Mapping[str, Any], lenses: Sequence[Lens], name: str = "template") -> None:
    """Raise a ConfigValueError where the template's own mask (``dataset.mask_path``, absolute since
    :func:`load_template`) has another shape than the image of every one of ``lenses`` that uses
    it (those without a :data:`MASK_FILE` of their own): each of their fits would refuse its lens,
    so that the survey would fail every lens one by one. Every such lens's image header is read,
    up to the first whose shape is the mask's (then nothing is raised: the others are those
    lenses' own mismatches); a lens whose image cannot be read is left to its fit. A mask that
    cannot be read (missing, not FITS, no 2-D image in it) is raised too, a ConfigValueError (the template's
    ``dataset.mask_path`` names a file no fit can use) naming the key and the file, where
    any of ``lenses`` uses it: each of their fits would refuse it alike. Run by :func:`check_template` where every
    lens it tried had broken data, or where the lens it was checked with has a mask of its own
    (or none): one checked with the template's mask shows an image of its shape, and no more is read."""
    from tinylens.data.fits_io import read_fits_shape

    mask = template_mask(template)
    if mask is None:
        return
    try:
        mask_shape, _ = read_fits_shape(Path(mask), "dataset.mask_path")
    except DataError as exc:
        users = [lens.lens_id for lens in lenses if lens_dataset(template, lens).get("mask_path") == mask]
        if not users:  # every lens has a mask.fits of its own: the template's is not read
            return
        own = len(lenses) - len(users)
        others = "The other lens has one of its own" if own == 1 else f"The other {lens_count(own)} have their own"
        whole = (f" {others}, but the survey does not "
                 f"start while any lens would be refused so: {'that one lens' if len(users) == 1 else 'those lenses'} "
                 f"alone {'holds' if len(users) == 1 else 'hold'} up the whole survey." if own else "")
        them = "that lens" if len(users) == 1 else "each of those lenses"
        raise ConfigValueError(
            f"The {name} does not work: {exc} Every lens without a {MASK_FILE} of its own would be refused with it "
            f"({some_lenses(users)}).{whole} Mend or replace the mask file, put a {MASK_FILE} in the folder of {them}"
            f"{f' or move {them} out of the lens folder' if own else ''}, or remove mask_path from the "
            "template.") from None
    shapes: dict[tuple[int, int], list[str]] = {}
    for lens in lenses:
        files = lens_dataset(template, lens)
        if files.get("mask_path") != mask:  # the lens's own mask.fits
            continue
        try:
            shape, _ = read_fits_shape(Path(files["data_path"]), "dataset.data_path")
        except DataError:
            continue
        if tuple(shape) == tuple(mask_shape):
            return
        shapes.setdefault(tuple(shape), []).append(lens.lens_id)
    if not shapes:
        return
    found = shapes_found(shapes)
    raise ConfigValueError(
        f"The {name} does not work: dataset.mask_path: its mask {mask} has shape {mask_shape[0]} x {mask_shape[1]} "
        f"(rows x columns), but the image of every lens that would use it has another shape: {found}; a mask must "
        f"cover the same pixels as the image, so every such lens's fit would refuse it. Give a mask of the images' "
        f"shape, put a {MASK_FILE} in each lens folder, or remove mask_path from the template.")


def some_lenses(ids: Sequence[str]) -> str:
    """``3 lenses: lens_a, lens_b, lens_c, ...``: how many ``ids`` there are, and the first three."""
    return f"{lens_count(len(ids))}: {', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}"


def shapes_found(shapes: Mapping[tuple[int, int], Sequence[str]]) -> str:
    """The images' ``shapes`` (rows, columns) with the lenses of each (:func:`some_lenses`), the
    shape of most lenses first: ``32 x 32 (2 lenses: lens_a, lens_b); 40 x 40 (1 lens: lens_c)``."""
    return "; ".join(f"{rows} x {columns} ({some_lenses(ids)})"
                     for (rows, columns), ids in sorted(shapes.items(), key=lambda item: -len(item[1])))


def loaded_template(template: Mapping[str, Any], lens: Lens, out: str | Path, name: str = "template",
                    tried: Sequence[str] = ()) -> Any:
    """``template`` for ``lens`` (:func:`lens_config`) as its fit reads it, validated, no file read
    (:func:`tinylens.config.loader.load_config`), its warnings unsaid (:func:`check_template` shows
    them once): where every lens it tried had broken data, each got that far, so it is valid. Where
    it tried none (``tries=0``) it may not be: its ConfigError is then the template's, naming
    ``name`` and saying that no lens loaded (:func:`unloaded_check` of the lenses ``tried``), not
    ``lens``, whose data were not read."""
    from tinylens.config.loader import load_config

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_config(lens_config(template, lens, out))[0]
    except ConfigError as exc:
        raise retold(exc, f"The {name} does not work ({unloaded_check(tried)}): {exc}") from None


def check_shape_mask(template: Mapping[str, Any], lenses: Sequence[Lens], config: Any, name: str = "template") -> None:
    """Raise a ConfigValueError where the template's ``dataset.mask`` (a circle or annulus, in arcsec
    from the image's centre) alone leaves fewer than :data:`~tinylens.data.dataset.MIN_USABLE_PIXELS`
    pixels of the image of every one of ``lenses`` whose image header can be read: each of their
    fits would refuse its lens (a centre or radii given in pixels?), every lens alike, so that the
    survey would fail them one by one. The images' headers are read up to the first whose shape
    leaves enough pixels (then nothing is raised), each shape's pixels counted once; a lens whose
    image cannot be read is left to its fit, and so is one whose image has fewer than
    :data:`~tinylens.data.dataset.MIN_USABLE_PIXELS` pixels in all (3 x 3: too small whatever the
    mask, its fit refuses it for that), neither counted for nor against the mask: where every
    readable image is that small, nothing is raised. Run by :func:`check_template` where every lens it tried
    had broken data: one that loaded shows that the mask leaves enough pixels of its image.
    ``config``: the template as a lens's fit reads it (:func:`loaded_template`), whose ``dataset``
    is read."""
    from tinylens.data.dataset import MIN_USABLE_PIXELS, shape_mask_note
    from tinylens.data.fits_io import read_fits_shape

    dataset = template.get("dataset")
    if not lenses or not isinstance(dataset, Mapping) or dataset.get("mask") is None:
        return
    cfg = config.dataset
    shapes: dict[tuple[int, int], list[str]] = {}
    notes: dict[tuple[int, int], str] = {}
    for lens in lenses:
        try:
            shape, _ = read_fits_shape(Path(lens_dataset(template, lens)["data_path"]), "dataset.data_path")
        except DataError:
            continue
        shape = (int(shape[0]), int(shape[1]))
        if shape[0] * shape[1] < MIN_USABLE_PIXELS:  # too small whatever the mask: its fit says so, for it alone
            continue
        if shape not in notes:
            notes[shape] = shape_mask_note(cfg, shape)
            if not notes[shape]:
                return
        shapes.setdefault(shape, []).append(lens.lens_id)
    if not shapes:
        return
    found = shapes_found(shapes)
    most = max(shapes, key=lambda shape: len(shapes[shape]))
    raise ConfigValueError(
        f"The {name} does not work: {notes[most]} That is fewer than the {MIN_USABLE_PIXELS} pixels a fit needs, in the "
        f"image of every lens (rows x columns: {found}), so every lens's fit would refuse it. Give dataset.mask's centre and radii in arcsec from the "
        f"image's centre, or remove dataset.mask from the template.")


def _warn_of_template(caught: list[warnings.WarningMessage], name: str, shown: set[str]) -> None:
    """Raise again, naming the template, the ConfigWarnings among ``caught`` (the template's: a
    prior reaching outside its parameter's values, a key that does nothing) not in ``shown``, and
    add them to it; the checked lens's own warnings (its data's) are left to its fit."""
    for text in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, ConfigWarning)):
        if text not in shown:
            shown.add(text)
            warnings.warn(f"The {name}: {text}", ConfigWarning, stacklevel=3)
