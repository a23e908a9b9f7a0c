"""Is there a mode at the reference Einstein radius? The profile likelihood of one lens in theta_E.

For a lens that the pipeline fits far from a reference value (e.g. Bolton et al. 2008), this
separates a failure of the search from a failure of the model. It fits the lens light alone
(stage 1 of the pipeline), starts the mass at the reference ``theta_E`` with a compact source
and fits mass and source, then steps ``theta_E`` along a grid, each step optimising every other
parameter jointly from the previous one and, separately, from the start (mass and source
first, then everything), keeping the better. A maximum of the profile near the reference means the
search missed it; a profile that keeps rising away from it means that the model prefers another
answer there (for example a source that is made to model lens light).

    python examples/slacs/profile_theta_E.py LENSES J0405-0455 \\
        --template examples/slacs/template.yaml --reference 0.80 -o j0405_profile.png \\
        [--core-gaussian] [--grid 0.3,1.0,0.05]

LENSES is a folder of lens folders (each with image.fits, noise.fits and psf.fits; docs/slacs.md): the
SLACS development set is ../shared/data/slacs_dev only from a checkout beside shared/, as the project's is.

``--template`` defaults to ``template.yaml`` beside this script (the paper's SLACS model), whatever
the current folder; other paths are taken from the current folder.

``--core-gaussian`` adds a lens-light component to the template: a Gaussian with its own centre,
ellipticity and width (a compact core off the galaxy's centre, as the data of J0405 ask for).
"""

from __future__ import annotations

import argparse
import copy
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

import tinylens
from tinylens.pipeline.lens_light import fit_lens_light, lens_center
from tinylens.pipeline.optimize import Objective
from tinylens.pipeline.params import light_only_indices, prior_middle, set_param
from tinylens.errors import TinyLensError
from tinylens.results.plots import image_extent
from tinylens.results.report import save_figure
from tinylens.results.tables import unwritable_file
from tinylens.survey.runner import find_lenses, lens_config, load_template

THETA = "lens_mass.0.theta_E"
#: The default template: the paper's SLACS model beside this script (not the current folder's).
TEMPLATE = Path(__file__).resolve().parent / "template.yaml"

CORE_GAUSSIAN = {
    "type": "Gaussian",
    "params": {
        "sigma": {"prior_type": "uniform", "prior_settings": [0.01, 1.0], "fixed": False},
        "e1": {"prior_type": "gaussian", "prior_settings": [0.0, 0.3], "limits": [-1.0, 1.0], "fixed": False},
        "e2": {"prior_type": "gaussian", "prior_settings": [0.0, 0.3], "limits": [-1.0, 1.0], "fixed": False},
        "center_x": {"prior_type": "gaussian", "prior_settings": [0.0, 0.1], "fixed": False},
        "center_y": {"prior_type": "gaussian", "prior_settings": [0.0, 0.1], "fixed": False},
        "flux": {"use_linear": True},
    },
}


def with_core_gaussian(template: dict) -> dict:
    """``template`` with :data:`CORE_GAUSSIAN` appended to its lens light."""
    out = copy.deepcopy(template)
    out["model_components"]["lens_light_list"].append(copy.deepcopy(CORE_GAUSSIAN))
    return out


def profile(problem, theta_light: np.ndarray, reference: float, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(theta_E, log P, best fits)`` along ``grid``: every other parameter optimised at each point,
    continued outwards from a fit started at ``reference``."""
    spec = problem.spec
    objective = Objective(problem)
    i = problem.param_names.index(THETA)
    start = np.array(theta_light, dtype=float)
    set_param(start, spec.lens_mass[0], "theta_E", reference, spec)
    for comp in spec.source_light:
        set_param(start, comp, "R_sersic", 0.1, spec)
    light = set(light_only_indices(spec))
    first = objective.minimize(start, [k for k in range(problem.ndim) if k not in light])
    free = [k for k in range(problem.ndim) if k != i]
    held = [k for k in free if k not in light]
    values = {}
    for side in (grid[grid <= reference][::-1], grid[grid > reference]):
        theta = first.theta
        for value in side:
            fresh = start.copy()  # a second start at each point: the continuation can stall in one basin
            theta = theta.copy()
            theta[i] = fresh[i] = value
            fresh = objective.minimize(objective.minimize(fresh, held).theta, free)
            fit = max(objective.minimize(theta, free), fresh, key=lambda f: f.log_post)
            theta, values[float(value)] = fit.theta, (fit.log_post, fit.theta)
    x = np.array(sorted(values))
    return x, np.array([values[v][0] for v in x]), np.array([values[v][1] for v in x])


def figure(problem, theta_light, x, logp, reference, name, label) -> Figure:
    d = problem.dataset
    lens = problem.model_image(theta_light)["lens_light"]
    fig = Figure(figsize=(10, 4.2))
    a, b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    a.imshow(np.where(d.mask, (d.data - lens) / d.noise, np.nan), origin="lower",
             extent=image_extent(d.data.shape, d.pixel_scale), cmap="RdBu_r", vmin=-5, vmax=5)
    phi = np.linspace(0, 2 * np.pi, 200)
    cx, cy = lens_center(problem, theta_light)  # the ring is around the lens, which need not sit on the image's centre
    a.plot(cx + reference * np.cos(phi), cy + reference * np.sin(phi), "k--", lw=1, label=f"reference {reference:.2f}\"")
    zoom = max(2.0 * reference, 1.0)
    a.set(xlim=(cx - zoom, cx + zoom), ylim=(cy - zoom, cy + zoom), xlabel="x (arcsec)", ylabel="y (arcsec)",
          title=f"{name}: (data - lens light of stage 1) / noise")
    a.legend(loc="upper right", fontsize=8)
    b.plot(x, logp - logp.max(), "o-")
    b.axvline(reference, color="k", ls="--", lw=1)
    b.set(xlabel="theta_E (arcsec), everything else optimised", ylabel="log P - max",
          title=f"profile of the joint fit ({label})")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lens_dir")
    ap.add_argument("lens")
    ap.add_argument("--template", default=str(TEMPLATE), help="survey template (default: template.yaml beside this script)")
    ap.add_argument("--reference", type=float, required=True, help="the reference theta_E (arcsec)")
    ap.add_argument("--grid", default="0.3,1.0,0.05", help="start,stop,step of the theta_E grid")
    ap.add_argument("--core-gaussian", action="store_true")
    ap.add_argument("-o", "--output", default="profile_theta_E.png")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    try:
        start, stop, step = (float(v) for v in args.grid.split(","))
    except ValueError:
        ap.error(f"--grid {args.grid!r}: give start,stop,step, e.g. 0.3,1.0,0.05")
    # at least two points (0.35 - 0.3 < 0.05 in floating point: no comparison of step and stop - start)
    grid = np.arange(start, stop + step / 2, step) if step > 0 and np.isfinite([start, stop, step]).all() else []
    if len(grid) < 2:
        ap.error(f"--grid {args.grid!r}: the step must be positive and the stop at least one step beyond the start")
    if why := unwritable_file(args.output):  # checked before the minutes of fitting, not after
        ap.error(f"-o {args.output}: {why}")
    try:
        template = load_template(args.template)
        lenses = {lens.lens_id: lens for lens in find_lenses(args.lens_dir)}
        if args.lens not in lenses:
            raise SystemExit(f"error: no lens {args.lens!r} in {args.lens_dir}")
        if args.core_gaussian:
            template = with_core_gaussian(template)
        problem = tinylens.load(lens_config(template, lenses[args.lens], "profile_out"))
    except TinyLensError as err:
        raise SystemExit(f"error: {err}") from None
    stage1 = fit_lens_light(problem, prior_middle(problem)).fit.theta
    x, logp, fits = profile(problem, stage1, args.reference, grid)
    names = problem.param_names
    size = names.index("source_light.0.R_sersic") if "source_light.0.R_sersic" in names else None
    for value, lp, theta in zip(x, logp, fits):
        source = f"  source R_sersic {theta[size]:.3f}\"" if size is not None else ""
        print(f"theta_E {value:.3f}  log P {lp:.1f}{source}")
    label = Path(args.template).name + (" + core Gaussian" if args.core_gaussian else "")
    save_figure(figure(problem, stage1, x, logp, args.reference, args.lens, label), args.output, dpi=90)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
