"""Stages 1-3 of the pipeline (lens light, arc, multi-start mass and source) on every lens of a
folder, without the sampler: where the sampling box would be placed, in minutes, not hours.

Use it to check a change to the early stages on many lenses before a full survey, e.g. the SLACS
lenses against Bolton et al. (2008) or mocks against their truth::

    python examples/stages_only.py LENSES --template examples/slacs/template_2mge_sie.yaml \\
        -o stages_2mge.csv [--lenses J2303+1422 J1204+0358] [--states states_2mge]

LENSES is a folder of lens folders (each with image.fits, noise.fits and psf.fits; docs/slacs.md): the
SLACS development set is ../shared/data/slacs_dev only from a checkout beside shared/, as the project's is.

The CSV has one row per lens: the best fit's Einstein radius, its ``log P`` (log likelihood plus
log prior), the arc's first guess, the gradient calls and the time; a lens whose stages raise an
error gets the message instead. Rows are written as each lens finishes (to a temporary file,
then renamed). ``--states DIR`` also keeps each lens's stages (best fit, arc, candidates) as
``DIR/LENS.json``, for ``examples/slacs/stage_fits.py``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import tinylens
from tinylens.errors import TinyLensError
from tinylens.pipeline.optimize import Objective
from tinylens.pipeline.params import get_param
from tinylens.pipeline.run import optimise
from tinylens.results.tables import unwritable_file, write_csv, write_json
from tinylens.survey.runner import find_lenses, lens_config, load_template


def stages(problem, keep: Path | None = None) -> dict:
    """Stages 1-3 of ``problem`` (its config's pipeline settings): a row of the table; the whole
    state is written to ``keep`` if given."""
    t0 = time.perf_counter()
    state = optimise(Objective(problem), problem.config.pipeline)
    if keep is not None:
        write_json(keep, {**state, "param_names": list(problem.param_names)})
    best = np.asarray(state["best"], dtype=float)
    mass = problem.spec.lens_mass[0] if problem.spec.lens_mass else None
    arc = state["stages"]["arc"]
    return {"theta_E": get_param(best, mass, "theta_E") if mass is not None else np.nan,
            "log_P": state["stages"]["mass_source"]["log_posterior"], "theta_E_arc": arc.get("theta_E_start"),
            "theta_E_floor": arc.get("theta_E_floor"), "n_evals": state["n_evals"],
            "time_s": time.perf_counter() - t0, "error": ""}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lens_dir")
    ap.add_argument("--template", required=True)
    ap.add_argument("--lenses", nargs="*", help="only these lens folders (default: all)")
    ap.add_argument("-o", "--output", default="stages.csv")
    ap.add_argument("--states", help="folder for each lens's stages as LENS.json")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    if why := unwritable_file(args.output):
        ap.error(f"-o {args.output}: {why}")
    if args.states and Path(args.states).exists() and not Path(args.states).is_dir():
        ap.error(f"--states {args.states} is a file; give a folder for the LENS.json files")
    try:
        template = load_template(args.template)
        lenses = find_lenses(args.lens_dir)
    except TinyLensError as err:
        raise SystemExit(f"error: {err}") from None
    if args.lenses:
        missing = set(args.lenses) - {lens.lens_id for lens in lenses}
        if missing:
            raise SystemExit(f"error: no lens {', '.join(sorted(missing))} in {args.lens_dir}")
        lenses = [lens for lens in lenses if lens.lens_id in args.lenses]
    rows, out = [], Path(args.output)
    if args.states:
        Path(args.states).mkdir(parents=True, exist_ok=True)
    for lens in lenses:
        try:
            keep = Path(args.states) / f"{lens.lens_id}.json" if args.states else None
            row = stages(tinylens.load(lens_config(template, lens, "stages_out")), keep)
        except tinylens.TinyLensError as err:
            row = {"error": str(err)}
        rows.append({"lens": lens.lens_id, **row})
        print(f"{lens.lens_id}: theta_E {row.get('theta_E', np.nan):.3f}  log P {row.get('log_P', np.nan):.1f}  "
              f"{row.get('time_s', 0):.0f} s {row['error']}", flush=True)
        write_csv(out, pd.DataFrame(rows))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
