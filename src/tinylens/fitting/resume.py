"""A fit's checkpoints in its output folder: which it resumes and which, another fit's, it
replaces (said in a CheckpointWarning, with what differs where their fingerprints tell), the
pipeline turned on or off since the earlier fit, the files it writes again during its search and
when the system's refusal of each would stop it, a fit run again at the sampler's cap it already
reached, and the checkpoints and a killed fit's leftovers it deletes.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.errors import OutputError, outside_stacklevel
from tinylens.fitting.replaced import _refused_replacement, undeletable_text
from tinylens.fitting.summary import FitResult, _finite, stopping_limit
from tinylens.jsonfile import read_result_json


def unresumed_checkpoints(problem: Any, out: Path) -> tuple[list[str], bool]:
    """The checkpoints in ``out`` that a fit of ``problem`` there would resume if they were its
    own (its sampler's, and the pipeline's state where it runs the pipeline) but does not, as they
    are of another fit (other data, model, priors, precision or settings), and whether it reuses
    the pipeline stages' results; none where its settings say ``resume: false``, it runs an
    optimiser, or the fingerprints cannot be read."""
    return _checkpoints_look(problem, out)[0]


def _checkpoints_look(problem: Any, out: Path) -> tuple[tuple[list[str], bool], list[str]]:
    """:func:`~tinylens.fitting.resume.unresumed_checkpoints`, and the names of the checkpoints in ``out`` that the fit
    resumes (:func:`~tinylens.inference.resumed_checkpoints`; none where that is not known)."""
    from tinylens.inference import resumed_checkpoints, sampler_method, search_of
    from tinylens.inference.common import resumes

    module, _, settings, pipeline = search_of(problem)
    if not hasattr(module, "checkpoint_stamp") or not resumes(settings):  # an optimiser's, or resume: false
        return ([], False), []
    method = sampler_method(problem)
    own = (filenames.CHECKPOINTS[method], *((filenames.PIPELINE_STATE,) if pipeline is not None else ()))
    present = [name for name in own if (out / name).is_file()]
    if not present:
        return ([], False), []
    try:
        kept = resumed_checkpoints(problem, out)
    except Exception:  # noqa: BLE001 - an unreadable fingerprint: the runners replace it, the warning is only a courtesy
        return ([], False), []
    if filenames.PIPELINE_STATE in present and not (out / filenames.PIPELINE_STATE).is_file():
        # this fit's but damaged: deleted with its own warning; the box of the stages done again is
        # not known yet, nor so whether the sampler's checkpoint (of a box) is resumed
        return ([], False), []
    if filenames.PIPELINE_STATE in present and filenames.PIPELINE_STATE not in kept:
        from tinylens.pipeline.run import state_of_another_version

        if state_of_another_version(problem, pipeline, out):
            # this fit's, of another tinylens: its stages are done again, and whether the sampler's
            # checkpoint (of a box) is resumed is known only once their box is
            return ([filenames.PIPELINE_STATE], False), []
    return ([name for name in present if name not in kept], filenames.PIPELINE_STATE in kept), kept


def pipeline_switched(problem: Any, out: Path) -> str | None:
    """Where the ``result.json`` in ``out`` records a sampler's fit made with the pipeline on and
    ``problem`` has it off, or the reverse (``tinylens fit --no-pipeline`` given or left out, the
    config unchanged), what the checkpoints' warning says of it (:func:`~tinylens.fitting.resume._warn_unresumed`); None
    where it records the same, or nothing of it can be read."""
    try:
        stored = read_result_json(out / filenames.RESULT)
    except (OSError, ValueError):
        return None
    from tinylens.inference import sampler_method

    if not isinstance(stored, dict) or stored.get("method") != sampler_method(problem):
        return None  # an optimiser's, whose pipeline section is unused, or another sampler's
    config = stored.get("config")
    section = config.get("pipeline") if isinstance(config, dict) else None
    earlier = section.get("enabled") if isinstance(section, dict) else None
    now = problem.config.pipeline.enabled
    if not isinstance(earlier, bool) or earlier is bool(now):
        return None
    return ("the earlier fit here ran with the pipeline's stages, this one without them: --no-pipeline or "
            "pipeline.enabled: false" if earlier else
            "the earlier fit here ran without the pipeline's stages (--no-pipeline or pipeline.enabled: false), "
            "this one with them")


#: When the system's refusal of a table, figure or result.json that a fit replaces would stop it
#: (:func:`~tinylens.fitting.replaced._check_replaceable`).
AFTER_WHEN = "after the search"


#: When the system's refusal of an earlier fit's checkpoint that a fit replaces would stop it (:func:`~tinylens.fitting.replaced._check_replaceable`).
UNRESUMED_WHEN = ("during the search: it is another fit's checkpoint, which this fit does not resume but replaces "
                  "as its pipeline stages end or its sampling starts")


#: The same, where the sampler's settings say ``resume: false``: it deletes its checkpoint, whoever's.
AFRESH_WHEN = ("during the search: this fit's settings say resume: false, so it deletes the sampler's checkpoint "
               "there as its pipeline stages end or its sampling starts")


#: When the system's refusal of a checkpoint that a fit resumes would stop it (:func:`~tinylens.fitting.resume.rewritten_checkpoints`).
RESUMED_WHEN = "during the search: it is a checkpoint of this same fit, which it resumes and writes again as it goes on"


#: The same, of a checkpoint or fingerprint that a fit writes its own in place of, whatever it holds.
REWRITTEN_WHEN = "during the search: this fit writes it anew as its pipeline stages end or its sampling starts"


def rewritten_checkpoints(problem: Any, out: Path, kept: Collection[str], capped: bool = False) -> list[tuple[Path, str]]:
    """The files in ``out`` that a fit of ``problem`` (not ``fresh``) writes again during its search,
    beside those of another fit that it replaces (:func:`~tinylens.fitting.resume.replaced_checkpoints`), each with when
    (:func:`~tinylens.fitting.replaced._check_replaceable`): the checkpoints it resumes (``kept``: :func:`~tinylens.fitting.resume._checkpoints_look`),
    which it writes again as it goes on, but not the sampler's where the fit samples nothing more
    (``capped``: :func:`~tinylens.fitting.resume.capped_again`) or whose sampling is already done (:func:`~tinylens.fitting.resume._done_already`);
    the pipeline's state, which the stages always write again;
    and the sampler's fingerprint, written as its sampling starts unless it holds this fit's
    (known before the search without the pipeline, or where its box is resumed; otherwise it
    may not: counted as written)."""
    from tinylens.inference import sampler_method, search_of

    module, runner, settings, pipeline = search_of(problem)
    if not hasattr(module, "checkpoint_stamp"):  # an optimiser keeps no checkpoint
        return []
    name = filenames.CHECKPOINTS[sampler_method(problem)]
    found = []
    if pipeline is not None and (out / filenames.PIPELINE_STATE).is_file():
        found.append((out / filenames.PIPELINE_STATE,
                      RESUMED_WHEN if filenames.PIPELINE_STATE in kept else REWRITTEN_WHEN))
    if name in kept and not capped and not _done_already(problem, out, name):
        found.append((out / name, RESUMED_WHEN))
    stamp_file = out / filenames.fingerprint_name(name)
    if name not in kept and stamp_file.is_file() and not _holds_own_stamp(problem, out, stamp_file):
        found.append((stamp_file, REWRITTEN_WHEN))
    return found


#: When the system's refusal of the record of the survey template whose fit wrote the sampler's
#: checkpoint (:func:`tinylens.filenames.template_name`) would stop a fit run in a survey, which
#: writes its own template's there (:func:`~tinylens.fitting.resume.rewritten_record`).
RECORD_WRITTEN_WHEN = ("during the search: it records which survey template's fit wrote the sampler's checkpoint, "
                       "and this fit writes its own template's record there as its pipeline stages end or its sampling "
                       "starts, whether it resumes that checkpoint or starts it anew")


#: The same, of a fit run outside a survey, which deletes the record.
RECORD_DELETED_WHEN = ("during the search: it records which survey template's fit wrote the sampler's checkpoint, "
                       "and this fit, run outside a survey, deletes it as its pipeline stages end or its sampling "
                       "starts, whether it resumes that checkpoint or starts it anew")


def rewritten_record(problem: Any, out: Path) -> list[tuple[Path, str]]:
    """The record in ``out`` of the survey template whose fit wrote the sampler's checkpoint, with
    when (:func:`~tinylens.fitting.replaced._check_replaceable`), where a fit of ``problem`` (not ``fresh``) writes or deletes
    it (:func:`tinylens.inference.common.record_template`, run as its sampling starts, whether the
    checkpoint is resumed or not): in a survey, unless it holds this fit's template's digest
    (:data:`~tinylens.inference.common.CHECKPOINT_TEMPLATE`); outside one, wherever it is."""
    from tinylens.inference import sampler_method, search_of
    from tinylens.inference.common import CHECKPOINT_TEMPLATE, _holds

    if not hasattr(search_of(problem)[0], "checkpoint_stamp"):  # an optimiser keeps no checkpoint
        return []
    record = out / filenames.template_name(filenames.CHECKPOINTS[sampler_method(problem)])
    if not record.is_symlink() and not record.exists():
        return []
    digest = CHECKPOINT_TEMPLATE.get()
    if digest is None:
        return [(record, RECORD_DELETED_WHEN)]
    return [] if _holds(record, digest) else [(record, RECORD_WRITTEN_WHEN)]


def _done_already(problem: Any, out: Path, name: str) -> bool:
    """Whether the sampler's checkpoint ``name`` in ``out``, which a fit of ``problem`` resumes and
    the system would refuse to replace (:func:`~tinylens.fitting.replaced._refused_replacement`), holds a sampling already done
    for this config (a sampler's ``samples_nothing``: nautilus's), so that the sampler writes
    nothing to it. Only without the pipeline: with it, a posterior crowding the box's edge has the
    box widened and this checkpoint replaced by the next run's."""
    from tinylens.inference import search_of

    module, _, settings, pipeline = search_of(problem)
    # dynesty has no samples_nothing, deliberately: resumed from a checkpoint whose sampling is done it samples
    # nothing but writes its checkpoint anew all the same (run_nested saves it as it ends: a converged tiny-lens
    # fit kept with keep_checkpoint and run again, 0 calls made, left checkpoint_dynesty.pkl with another inode,
    # mtime and size, 327152 -> 336655 bytes), which another user's in a sticky folder does not allow: refused
    if pipeline is not None or not hasattr(module, "samples_nothing") or _refused_replacement(out, out / name) is None:
        return False
    return bool(module.samples_nothing(problem, settings, out / name))


def _holds_own_stamp(problem: Any, out: Path, stamp_file: Path) -> bool:
    """Whether the sampler's fingerprint ``stamp_file`` in ``out`` holds the stamp that a fit of
    ``problem`` writes there, where it is known before the search (False where it is not)."""
    from tinylens.inference import search_of

    sampling = _sampled_first(problem, out)
    if sampling is None:  # stages 1-3 done again: their box, so the stamp, not known yet
        return False
    try:
        return stamp_file.read_text().strip() == search_of(problem)[0].checkpoint_stamp(*sampling)
    except (OSError, UnicodeDecodeError):
        return False


def _sampled_first(problem: Any, out: Path) -> tuple[Any, dict[str, Any]] | None:
    """The problem and sampler settings that a fit of ``problem`` in ``out`` samples first: its own
    without the pipeline; with it, those of the box its stages' state there holds
    (:func:`~tinylens.pipeline.run.resumed_sampling`, the state only looked at); None where that box
    is not known before the search (the stages are done again)."""
    from tinylens.inference import search_of

    module, runner, settings, pipeline = search_of(problem)
    if pipeline is None:
        return problem, settings
    from tinylens.pipeline.run import resumed_sampling

    return resumed_sampling(problem, runner, pipeline, out, settings, getattr(module, "settings_for_run", None),
                            look_only=True)


def replaced_checkpoints(out: Path, unresumed: Iterable[str]) -> list[Path]:
    """The files in ``out`` that a fit replaces during its search where the checkpoints named
    ``unresumed`` (:func:`~tinylens.fitting.resume.unresumed_checkpoints`) are there: each, and beside a sampler's its
    fingerprint (:func:`tinylens.filenames.fingerprint_name`), which holds another fit's stamp."""
    paths = []
    for name in unresumed:
        paths.append(out / name)
        if name in filenames.CHECKPOINTS.values():
            paths.append(out / filenames.fingerprint_name(name))
    return paths


def _warn_unresumed(problem: Any, out: Path, unresumed: tuple[list[str], bool] | None = None,
                    switched: str | None = None) -> None:
    """Warn (CheckpointWarning) that the checkpoints in ``out`` of another fit of ``problem`` are not
    resumed but replaced (``unresumed``: :func:`~tinylens.fitting.resume.unresumed_checkpoints`, their names and whether the
    stages' results are reused, found here where not given): a config changed by mistake must not throw
    hours of sampling away unsaid. ``switched``: the pipeline turned on or off since the earlier
    fit (:func:`~tinylens.fitting.resume.pipeline_switched`), the cause said in place of the config's keys; but where the
    pipeline is turned on and its state is not resumed, that state is of a fit before the earlier
    one (which ran without the pipeline), which the switch does not explain: both are said."""
    from tinylens.errors import CheckpointWarning, listed

    unresumed, stages = unresumed_checkpoints(problem, out) if unresumed is None else unresumed
    if not unresumed:
        return
    changed = "other data, model, priors, precision or sampler settings than this config's"
    whys = {name: changed for name in unresumed}
    if filenames.PIPELINE_STATE in unresumed:  # its own record may say what differs (other threads, priors, ...)
        whys[filenames.PIPELINE_STATE] = _state_why(problem, out) or changed
    widened = None  # the sampling run whose box this fit widened, where the sampler's checkpoint is that run's
    for name in unresumed:  # a sampler's checkpoint may record its fingerprint's parts too
        if name != filenames.PIPELINE_STATE:
            why, run = _checkpoint_why(problem, out, name)
            whys[name] = why or changed
            widened = widened or run
    several = len(unresumed) > 1 if switched else len(set(whys.values())) > 1
    why = switched or whys[unresumed[0]]
    older = ""  # the switched pipeline's state, older than the earlier fit: what else keeps it from being taken up
    if switched and filenames.PIPELINE_STATE in unresumed:
        state_why = whys[filenames.PIPELINE_STATE]
        made = f"it is {state_why}" if state_why.startswith("one ") else f"it was made with {state_why}"
        older = f"{filenames.PIPELINE_STATE} is older still, left by a fit before that one, and {made}"
        why = f"{switched}; {older}"
    again = ("its sampling starts from the beginning (the pipeline stages' results are reused)" if stages
             else "it starts from the beginning")
    if widened is not None and stages:
        again = f"run {widened + 1} samples the widened box from the beginning (the pipeline stages' results are reused)"
    it = "it" if len(unresumed) == 1 else "them"
    # the state's own reason ('one of another version: ...', 'one stopped in stages 1-3 with ...') is of
    # this fit's state, not another fit's: said as what it is, as the switched branch above does
    whose = f"it is {why}" if why.startswith(OWN_REASONS) else f"of another fit ({why})"
    if several and switched:  # the switch said of the sampler's checkpoint, the older state's cause of the state
        reasons = " ".join(f"{older}." if name == filenames.PIPELINE_STATE and older
                           else f"{name} is of another fit: {switched}." for name in unresumed)
    elif several:  # each checkpoint's own reason, a sentence each, after what the fit does with them
        reasons = " ".join(f"{name} is {whys[name]}." if whys[name].startswith(OWN_REASONS)
                           else f"{name} is of another fit, made with {whys[name]}." for name in unresumed)
    if several:
        message = f"{listed(unresumed)} in {out}: this fit does not resume {it}: {again}, and replaces {it}. {reasons}"
    else:
        message = f"{listed(unresumed)} in {out}: {whose}, so this fit does not resume {it}: {again}, and replaces {it}."
    warnings.warn(message, CheckpointWarning, stacklevel=outside_stacklevel())


#: How the reasons of :func:`~tinylens.fitting.resume._warn_unresumed` begin that say a checkpoint is this fit's own, not another fit's.
OWN_REASONS = ("one ", "this fit's own ")


def _checkpoint_why(problem: Any, out: Path, name: str) -> tuple[str, int | None]:
    """What differs between the sampler's checkpoint ``name`` in ``out`` and the one a fit of
    ``problem`` keeps, as far as the parts of its fingerprint that it records tell (a sampler's
    ``recorded_parts``, ``checkpoint_parts``: nautilus's and dynesty's); "" where they do not: none
    recorded (an older tinylens's), or the pipeline's box it samples is not known before its stages.
    Where it is this fit's sampling run in the box that the fit widened before it stopped (the
    stages' state recording it: :func:`~tinylens.pipeline.run.widened_run`), that is said, with
    the run's number (else None); where it is that run's box with other settings (the config
    changed since), those settings are said, not the priors its box gives."""
    from tinylens.errors import listed
    from tinylens.inference import search_of
    from tinylens.inference.common import differing_parts

    module, runner, settings, pipeline = search_of(problem)
    if not hasattr(module, "recorded_parts") or not hasattr(module, "checkpoint_parts"):
        return "", None
    recorded = module.recorded_parts(out / name)
    if recorded is None:
        return "", None
    sampling = _sampled_first(problem, out)
    if sampling is None:  # the box is the stages' to find again
        return "", None
    differ = differing_parts(recorded, module.checkpoint_parts(*sampling))
    if differ and pipeline is not None:
        from tinylens.pipeline.run import widened_run

        earlier = widened_run(problem, runner, pipeline, out, settings, getattr(module, "settings_for_run", None))
        own = None if earlier is None else differing_parts(recorded, module.checkpoint_parts(*earlier[1:]))
        if own is not None and not own:
            run = earlier[0]
            return (f"this fit's own sampling run {run}, in the box it then widened: the fit stopped after it saved "
                    f"the widened box in {filenames.PIPELINE_STATE} and before run {run + 1} wrote its checkpoint"), run
        if own is not None and set(own) < set(differ):  # that run's box, other settings: the box is not the config's
            differ = own
    return (f"other {listed(differ)} than this config's" if differ else ""), None


def _state_why(problem: Any, out: Path) -> str:
    """Why the pipeline's state in ``out`` is not taken up, as far as it tells
    (:func:`tinylens.pipeline.run.state_not_taken_up`); "" where it does not."""
    from tinylens.inference import search_of
    from tinylens.pipeline.run import state_not_taken_up

    pipeline = search_of(problem)[3]
    return "" if pipeline is None else state_not_taken_up(problem, pipeline, out)


#: The sampler's cap on its likelihood calls, by method: running a fit again that its checkpoint
#: shows reached it samples nothing more (:func:`~tinylens.fitting.resume.capped_again`).
CALL_CAPS = {"nautilus": "n_like_max", "dynesty": "maxcall"}


def capped_again(problem: Any, out: Path) -> tuple[str, float, float] | None:
    """Whether a fit of ``problem`` in ``out`` would sample nothing: the ``result.json`` there
    records a search stopped by its sampler's cap on likelihood calls (:data:`~tinylens.fitting.resume.CALL_CAPS`,
    :func:`~tinylens.fitting.summary.stopping_limit`; not a pipeline's whose sampler converged, its posterior crowding the
    box), the config's cap is no higher than the one it reached, and the
    sampler's checkpoint there is this fit's, so resumed (:func:`~tinylens.inference.resumed_checkpoints`).
    ``(cap's name, this config's cap, the recorded one)``, else None (nothing of this can be
    read: the fit runs as ever)."""
    from tinylens.inference import resumed_checkpoints, sampler_method, search_of
    from tinylens.inference.common import resumes

    method = sampler_method(problem)
    key = CALL_CAPS.get(method)
    if key is None or getattr(problem.config.inference, "type", "sampler") not in (None, "sampler"):
        return None
    settings = search_of(problem)[2]
    cap = _finite(settings.get(key))
    if cap is None or not resumes(settings) or not (out / filenames.RESULT).is_file():
        return None
    try:
        stored = read_result_json(out / filenames.RESULT)
    except (OSError, ValueError):  # unreadable: the fit replaces it, as ever
        return None
    if not isinstance(stored, dict) or stored.get("method") != method or stored.get("converged") is not False:
        return None
    info = stored.get("info") if isinstance(stored.get("info"), dict) else {}
    pipeline = info.get("pipeline") if isinstance(info.get("pipeline"), dict) else {}
    if pipeline.get("sampler_converged") is True:  # unconverged for its box's edges, not its cap
        return None
    recorded = _finite((info.get("settings") if isinstance(info.get("settings"), dict) else {}).get(key))
    if recorded is None or stopping_limit(stored) != key or cap > recorded:
        return None
    try:
        kept = resumed_checkpoints(problem, out, look_only=True)
    except Exception:  # noqa: BLE001 - whose checkpoint it is cannot be told: the fit says so itself
        return None
    return (key, cap, recorded) if filenames.CHECKPOINTS[method] in kept else None


def _say_capped(out: Path, capped: tuple[str, float, float], config: Any = None) -> None:
    """Say (:class:`~tinylens.errors.CapReachedWarning`, a ConvergenceWarning), before anything is done again, that the fit in ``out`` already
    reached its sampler's cap (``capped``: what :func:`~tinylens.fitting.resume.capped_again` found, not None): running it again
    samples nothing more and writes the same outputs again; how to continue it, or start again. The
    cap is named as ``config`` wrote it (:func:`~tinylens.config.loader.key_as_written`:
    ``sampling.maxcall`` for TinyLensGpu's older ``sampling`` section)."""
    from tinylens.config.loader import key_as_written
    from tinylens.errors import CapReachedWarning

    key, cap, recorded = capped
    held = f"{cap:,.0f}" if cap == recorded else f"{cap:,.0f} (it reached {recorded:,.0f})"
    warnings.warn(f"The fit in {out} already stopped at its sampler's cap, "
                  f"{key_as_written(config, f'inference.settings.{key}')} = {held}: "
                  "its checkpoint has nothing more to sample at this cap, so this run only writes the same results "
                  f"again. To continue it, raise {key} in the config and run the fit again (it resumes from the "
                  "checkpoint); to start again from scratch, use --fresh (tinylens.fit: fresh=True).",
                  CapReachedWarning, stacklevel=outside_stacklevel())


def _remove_checkpoints(out: Path, written: bool = False) -> list[str]:
    """Delete the files of :func:`tinylens.filenames.checkpoint_names` from ``out``: those of a finished fit (the
    sampler's are tens of MB per lens) are useless once result.json exists. ``written``: the fit's
    result.json is written, so those the system refuses to delete (someone else's in a folder with
    the sticky bit) are left with a DataWarning naming them, not an error that hides the written fit
    (before the search, ``fresh``, the refusal is raised: nothing is lost yet); the names of those
    left."""
    from tinylens.errors import DataWarning, listed

    kept: dict[str, str] = {}  # name -> the system's reason
    for name in filenames.checkpoint_names():
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as exc:
            if written:
                kept[name] = exc.strerror or type(exc).__name__
            elif isinstance(exc, PermissionError):
                raise OutputError(undeletable_text(out, out / name, exc, "an earlier fit's checkpoint", "--fresh (tinylens.fit: "
                                                   "fresh=True) must do to start afresh")) from None
            else:
                raise
    if kept:
        one = len(kept) == 1
        warnings.warn(f"The fit's results are written in {out}, but {'its checkpoint file' if one else 'checkpoint files'} "
                      f"there cannot be deleted: {listed([f'{n} ({why})' for n, why in kept.items()])}. The finished fit "
                      f"no longer needs {'it' if one else 'them'}: delete {'it' if one else 'them'} (or ask "
                      f"{'its' if one else 'their'} owner to).", DataWarning, stacklevel=outside_stacklevel())
    return list(kept)


def _checkpoint_kept(result: FitResult, out: Path, checkpoint: Any, kept: Collection[str]) -> FitResult:
    """``result``, whose ``result.json`` in ``out`` says ``info.checkpoint: null`` (a converged
    fit deletes it), with the sampler's ``checkpoint`` named again where the system refused to
    delete it (``kept``: the names left, :func:`~tinylens.fitting.resume._remove_checkpoints`), and its result.json written
    again to say so; as it is where the checkpoint is gone, or result.json cannot be written again
    (the warning of the checkpoint left names it)."""
    from tinylens.results import tables

    if not isinstance(checkpoint, str) or Path(checkpoint).name not in kept:
        return result
    truthful = replace(result, info={**result.info, "checkpoint": checkpoint})
    try:
        tables.write_json(out / filenames.RESULT, truthful.to_json())
    except OSError:
        return result
    return truthful


def _remove_leftovers(problem: Any, out: Path) -> None:
    """Delete, before the search, what a killed fit left in ``out``: the temporaries of its files
    (:func:`tinylens.atomic.remove_all_unfinished`, of any names: an earlier config's too) and
    dynesty's unfinished checkpoint (:data:`tinylens.filenames.DYNESTY_UNFINISHED`, whatever samples
    now). One the system refuses to delete (someone else's in a folder with the sticky bit) is an
    :class:`~tinylens.errors.OutputError` naming it where this fit needs its name (dynesty's
    unfinished checkpoint, under a dynesty fit, which writes there), else left with a DataWarning
    naming it (a temporary's name is never written again)."""
    from tinylens.atomic import remove_all_unfinished
    from tinylens.errors import DataWarning, listed
    from tinylens.inference import sampler_method

    refused: list[tuple[Path, OSError]] = []
    remove_all_unfinished(out, refused)
    unfinished = out / filenames.DYNESTY_UNFINISHED
    try:
        unfinished.unlink(missing_ok=True)
    except PermissionError as exc:
        if sampler_method(problem) == "dynesty":
            raise OutputError(undeletable_text(out, unfinished, exc, "dynesty's unfinished checkpoint of an earlier "
                                               "fit", "dynesty must do to write its own checkpoint")) from None
        refused.append((unfinished, exc))
    if refused:
        one = len(refused) == 1
        kept = [f"{path.name} ({exc.strerror or type(exc).__name__})" for path, exc in refused]
        warnings.warn(f"{'A file' if one else 'Files'} that a killed fit left unfinished in {out} cannot be deleted: "
                      f"{listed(kept)}. This fit does not need {'it' if one else 'them'}: delete "
                      f"{'it' if one else 'them'} (or ask {'its' if one else 'their'} owner to).", DataWarning,
                      stacklevel=outside_stacklevel())
