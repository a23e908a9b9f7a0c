"""Stage-3 fits of one lens side by side: their residuals, and where each mass sends the arc's peaks.

Each STATE is a lens's stages: the ``checkpoint.pipeline.json`` of a fit (in a survey, in
``OUT/lenses/LENS/``; deleted when the fit finishes, unless ``output.keep_checkpoint: true``) or a
file of ``examples/stages_only.py --states DIR`` (e.g. run with two versions of the code). Under the right mass the images of one source meet on the source
plane, so the arc's image peaks (stage 2, marked x) land together there; under a wrong one they
scatter, and the residuals show the image the model left out.

    python examples/stages_only.py LENSES --template examples/slacs/template_2mge_sie.yaml \\
        --lenses J2303+1422 --states states_new -o new.csv
    python examples/slacs/stage_fits.py LENSES J2303+1422 states_old/J2303+1422.json \\
        states_new/J2303+1422.json --template examples/slacs/template_2mge_sie.yaml \\
        --labels "before (40509ba)" "after" --reference 1.62 -o slacs_J2303_stage3.png

LENSES is a folder of lens folders (each with image.fits, noise.fits and psf.fits; docs/slacs.md): the
SLACS development set is ../shared/data/slacs_dev only from a checkout beside shared/, as the project's is.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinylens  # noqa: E402
from tinylens.errors import TinyLensError  # noqa: E402
from tinylens.filenames import PIPELINE_STATE  # noqa: E402
from tinylens.numerics.grid import pixel_coordinates  # noqa: E402
from tinylens.pipeline.mass_source import PEAK_R_MIN_PIXELS, image_peaks, to_source_plane  # noqa: E402
from tinylens.pipeline.arc import Arc  # noqa: E402
from tinylens.pipeline.lens_light import lens_center  # noqa: E402
from tinylens.pipeline.params import get_param  # noqa: E402
from tinylens.results.plots import image_extent  # noqa: E402
from tinylens.results.report import save_figure  # noqa: E402
from tinylens.results.stored import load_stage_state  # noqa: E402
from tinylens.results.tables import unwritable_file  # noqa: E402
from tinylens.survey.runner import find_lenses, lens_config, load_template  # noqa: E402

COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange")


def figure(problem, states: list[dict], labels: list[str], lens: str, reference: float | None):
    d = problem.dataset
    extent = image_extent(d.data.shape, d.pixel_scale)
    fig, axes = plt.subplots(1, len(states) + 1, figsize=(4.3 * (len(states) + 1), 4.6), squeeze=False)
    axes = axes[0]
    mass, source = problem.spec.lens_mass[0], problem.spec.source_light[0]
    x, y = pixel_coordinates(d.data.shape, d.pixel_scale)
    zoom = float(np.max(np.abs(np.concatenate([x[d.mask], y[d.mask]])))) + d.pixel_scale  # the mask's extent
    for k, (state, label) in enumerate(zip(states, labels)):
        theta = np.asarray(state["best"], float)
        stored = np.asarray(state["stages"]["arc"]["peaks"], float).reshape(-1, 2)
        arc = Arc(np.zeros((1, 1), bool), np.zeros((1, 1)), float("nan"), stored, len(stored))
        peaks = image_peaks(arc, lens_center(problem, theta), PEAK_R_MIN_PIXELS * d.pixel_scale)
        chi = np.where(d.mask, (d.data - problem.model_image(theta)["total"]) / d.noise, np.nan)
        image = axes[k].imshow(chi, origin="lower", extent=extent, cmap="RdBu_r", vmin=-5, vmax=5)
        axes[k].plot(peaks[:, 0], peaks[:, 1], "x", color="k", ms=8, mew=2)
        axes[k].set(xlim=(-zoom, zoom), ylim=(-zoom, zoom))
        theta_E = get_param(theta, mass, "theta_E")
        ref = f' ({reference}" ref.)' if reference else ""
        axes[k].set_title(f'{label}: $\\theta_E$ = {theta_E:.3f}"{ref}\nlog P = {state["stages"]["mass_source"]["log_posterior"]:.0f}'
                          f", $\\chi^2/N$ = {np.nanmean(chi ** 2):.2f}", fontsize=9)
        beta = to_source_plane(problem, theta, peaks)
        colour = COLOURS[k % len(COLOURS)]
        axes[-1].plot(beta[:, 0], beta[:, 1], "x", color=colour, ms=8, mew=2, label=f"{label}: arc peaks")
        centre = (get_param(theta, source, "center_x"), get_param(theta, source, "center_y"))
        axes[-1].plot(*centre, "o", mfc="none", color=colour, ms=12, label=f"{label}: source centre")
    fig.colorbar(image, ax=list(axes[:-1]), shrink=0.8, label="(data - model) / noise")
    axes[-1].set(title="source plane", xlabel="x [arcsec]", aspect="equal")
    axes[-1].legend(fontsize=7)
    for ax in axes[:-1]:
        ax.set_xlabel("x [arcsec]")
    axes[0].set_ylabel("y [arcsec]")
    fig.suptitle(lens)
    return fig


def state_lens(path: str | Path, lenses) -> str | None:
    """The lens of ``lenses`` a state file is named after: ``LENS.json`` of stages_only.py, or
    ``LENS/checkpoint.pipeline.json`` of a fit; None for another name (e.g. ``before.json``)."""
    path = Path(path)
    name = path.parent.name if path.name == PIPELINE_STATE else path.stem
    return name if name in lenses else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lens_dir")
    ap.add_argument("lens")
    ap.add_argument("states", nargs="+", help="LENS.json files from stages_only.py --states")
    ap.add_argument("--template", required=True)
    ap.add_argument("--labels", nargs="+")
    ap.add_argument("--reference", type=float, help="a reference Einstein radius, shown in the titles")
    ap.add_argument("-o", "--output", default="stage_fits.png")
    args = ap.parse_args(argv)
    labels = args.labels or [Path(s).parent.name for s in args.states]
    if len(labels) != len(args.states):
        ap.error(f"{len(args.states)} states but {len(labels)} labels")
    if why := unwritable_file(args.output):
        ap.error(f"-o {args.output}: {why}")
    warnings.simplefilter("ignore")
    try:
        lenses = {lens.lens_id: lens for lens in find_lenses(args.lens_dir)}
        if args.lens not in lenses:
            ap.error(f"no lens {args.lens!r} in {args.lens_dir}")
        other = [(path, state_lens(path, lenses)) for path in args.states if state_lens(path, lenses) not in (None, args.lens)]
        if other:  # its mass and source drawn over this lens's data: a wrong fit that is no fit's
            ap.error(f"{other[0][0]} is the state of lens {other[0][1]}, not of {args.lens}")
        problem = tinylens.load(lens_config(load_template(args.template), lenses[args.lens], "stage_fits_out"))
    except TinyLensError as err:
        raise SystemExit(f"error: {err}") from None
    try:
        states = [load_stage_state(path, problem.param_names)[0] for path in args.states]
    except TinyLensError as exc:
        ap.error(str(exc))
    fig = figure(problem, states, labels, args.lens, args.reference)
    out = Path(args.output)
    save_figure(fig, out, dpi=80, bbox_inches="tight")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
