"""The files tinylens writes itself into a fit's output folder (a survey's ``lenses/<id>/``), and
the names in a survey's output folder (its ``lenses/`` folder and catalogue files).

One place for these names: the modules that write the files take them from here, and so does
the config's check that no user-chosen output file (``output.tables``, ``.figures``,
``.datasets``) would overwrite one (:data:`RESERVED`), or be overwritten when a survey sets
an earlier fit's files aside (:func:`previous_name`). Imports nothing of tinylens, so that the
config schema stays light.
"""

from __future__ import annotations

import re
from pathlib import PurePath

#: A survey's output folder (``tinylens survey --out``): the fits' folders (``lenses/<id>/``) and the
#: catalogue, in Parquet and CSV.
LENSES_DIR = "lenses"
CATALOG_PARQUET = "catalog.parquet"
CATALOG_CSV = "catalog.csv"
#: Held in a survey's output folder by the survey writing it: a second survey on the same folder is refused.
SURVEY_LOCK_FILE = ".survey.lock"
#: The catalogue's text columns: empty (``""``), never missing, where a row has nothing to say.
TEXT_COLUMNS = ("reason", "flags", "critical_flags", "warnings")
#: Written last by a fit: its presence means the search ended.
RESULT = "result.json"
#: Held in a fit's output folder while it runs (tinylens.locks).
FIT_LOCK = ".fit.lock"
#: Each sampler's checkpoint; its fingerprint is beside it (:func:`fingerprint_name`).
CHECKPOINTS = {"nautilus": "checkpoint.hdf5", "dynesty": "checkpoint_dynesty.pkl"}
#: Where dynesty writes its checkpoint before renaming it into place (``dynesty.utils.save_sampler``),
#: left behind, as large as the checkpoint, by a job killed while writing it.
DYNESTY_UNFINISHED = f"{CHECKPOINTS['dynesty']}.tmp"
#: The pipeline's own checkpoint (stages 1-3 and the sampling box).
PIPELINE_STATE = "checkpoint.pipeline.json"
#: dynesty's evaluation history (``save_evaluation_history``), under dynesty's default name.
DYNESTY_HISTORY = "dynesty_logl_history.h5"

#: A survey lens's catalogue row, next to its fit's result.
ROW = "row.json"
#: Size, time and SHA-256 of the lens's input files its fit was made from.
INPUTS = "inputs.json"
#: Held by the survey task fitting the lens.
LENS_LOCK = ".lock"
#: One line per fit of the lens started.
ATTEMPTS = ".attempts"


def fingerprint_name(checkpoint: str) -> str:
    """The file holding the fingerprint of the checkpoint ``checkpoint``."""
    return f"{checkpoint}.fingerprint"


def template_name(checkpoint: str) -> str:
    """The file beside the sampler's checkpoint ``checkpoint`` holding the digest of the survey
    template whose fit wrote it (:data:`tinylens.inference.common.CHECKPOINT_TEMPLATE`)."""
    return f"{checkpoint}.template"


def previous_name(name: str) -> str:
    """Where a survey keeps the file ``name`` of a lens's earlier fit when the lens's input files
    changed: ``result.json`` -> ``result.previous.json``, ``corner.png`` -> ``corner.previous.png``."""
    path = PurePath(name)
    return f"{path.stem}.previous{path.suffix}"


def checkpoint_names() -> tuple[str, ...]:
    """The files a stopped fit resumes from: each sampler's checkpoint, its fingerprint and the
    record of the survey template whose fit wrote it (:func:`template_name`), then the pipeline's
    state; deleted together (a converged fit's, ``--fresh``, a survey's failed fit)."""
    return tuple(name for sampler in CHECKPOINTS.values()
                 for name in (sampler, fingerprint_name(sampler), template_name(sampler))) + (PIPELINE_STATE,)


def run_name(name: str, run: int | str) -> str:
    """Where sampling run ``run`` (2, 3, ...) of a fit writes a file that each run writes anew
    (dynesty's evaluation history): ``dynesty_logl_history.h5`` -> ``dynesty_logl_history.run2.h5``."""
    path = PurePath(name)
    return str(path.with_name(f"{path.stem}.run{run}{path.suffix}"))


#: Every file tinylens writes into an output folder under its own name: a fit's, then the
#: survey's per-lens files.
RESERVED = (RESULT, *checkpoint_names(), FIT_LOCK, DYNESTY_HISTORY, ROW, INPUTS, LENS_LOCK, ATTEMPTS)

#: dynesty's default history of the later sampling runs of a fit, for messages.
RUN_HISTORIES = run_name(DYNESTY_HISTORY, "<N>")


def is_reserved(name: str) -> bool:
    """Whether tinylens writes a file ``name`` into an output folder (ignoring case, as macOS and
    Windows file systems do): one of :data:`RESERVED`, or dynesty's default history of a later
    sampling run (:data:`RUN_HISTORIES`)."""
    folded = name.casefold()
    if folded in {own.casefold() for own in RESERVED}:
        return True
    stem, suffix = PurePath(DYNESTY_HISTORY.casefold()).stem, PurePath(DYNESTY_HISTORY.casefold()).suffix
    return re.fullmatch(rf"{re.escape(stem)}\.run\d+{re.escape(suffix)}", folded) is not None
