"""One lens fitted two ways: the data and each fit's normalised residuals, side by side.

    python examples/slacs/compare_fits.py J1032+5322 slacs_sie slacs_2mge --reference 1.03 \\
        --labels "one MGE (one ellipticity)" "two MGEs (own ellipticities)" -o slacs_J1032_two_mge.png

Each RUN is a survey output folder (``RUN/lenses/LENS/result.json``) or a single fit's folder;
the residuals are of each fit's maximum-likelihood model, over its own mask.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinylens.results.plots import image_extent  # noqa: E402
from tinylens.results.report import save_figure  # noqa: E402
from tinylens.errors import TinyLensError  # noqa: E402
from tinylens.results.stored import load_stored  # noqa: E402
from tinylens.results.tables import unwritable_file  # noqa: E402


def result_path(run: str | Path, lens: str) -> Path:
    """``run/lenses/lens/result.json``, or ``run/result.json`` for a single fit."""
    run = Path(run)
    inside = run / "lenses" / lens / "result.json"
    return inside if inside.exists() else run / "result.json"


def residuals(path: Path) -> tuple[dict, object, np.ndarray]:
    """The stored result, its problem, and ``(data - model) / noise`` (NaN off the mask)."""
    try:
        stored, problem, best = load_stored(path, base_dir_option=None)
    except TinyLensError as err:  # moved data, an unreadable result.json
        raise SystemExit(f"error: {err}") from None
    d = problem.dataset
    chi = np.where(d.mask, (d.data - problem.model_image(best)["total"]) / d.noise, np.nan)
    return stored, problem, chi


def figure(lens: str, runs: list[str], labels: list[str], reference: float | None = None):
    """Data (asinh stretch) and one residual panel per run."""
    fig, axes = plt.subplots(1, 1 + len(runs), figsize=(4.3 * (1 + len(runs)), 4.6), squeeze=False)
    axes = axes[0]
    for k, (run, label) in enumerate(zip(runs, labels)):
        stored, problem, chi = residuals(result_path(run, lens))
        d = problem.dataset
        extent = image_extent(d.data.shape, d.pixel_scale)  # (rows, columns): an image need not be square
        if k == 0:
            axes[0].imshow(np.arcsinh(d.data / (3 * np.median(d.noise))), origin="lower", extent=extent, cmap="magma")
            axes[0].set_title(f"{lens}: data (asinh)")
        image = axes[k + 1].imshow(chi, origin="lower", extent=extent, cmap="RdBu_r", vmin=-5, vmax=5)
        theta_E = stored["median"]["lens_mass.0.theta_E"]
        q = stored.get("derived", {}).get("lens_mass.0.q", {}).get("median", np.nan)
        ref = f' ({reference}" ref.)' if reference else ""
        axes[k + 1].set_title(f'{label}\n$\\theta_E$ = {theta_E:.3f}"{ref}, q = {q:.2f}\n'
                              f"$\\chi^2/N$ = {np.nanmean(chi ** 2):.2f}", fontsize=9)
    for ax in axes:
        ax.set_xlabel("x [arcsec]")
    axes[0].set_ylabel("y [arcsec]")
    fig.colorbar(image, ax=list(axes[1:]), shrink=0.8, label="(data - model) / noise")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lens")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--labels", nargs="+", help="one per run (default: the run folders)")
    parser.add_argument("--reference", type=float, help="a reference Einstein radius, shown in the titles")
    parser.add_argument("-o", "--output", default="compare_fits.png")
    args = parser.parse_args(argv)
    labels = args.labels or args.runs
    if len(labels) != len(args.runs):
        parser.error(f"{len(args.runs)} runs but {len(labels)} labels")
    if why := unwritable_file(args.output):
        parser.error(f"-o {args.output}: {why}")
    missing = [str(result_path(r, args.lens)) for r in args.runs if not result_path(r, args.lens).exists()]
    if missing:
        parser.error("no result: " + ", ".join(missing))
    fig = figure(args.lens, args.runs, labels, args.reference)
    out = Path(args.output)
    save_figure(fig, out, dpi=80, bbox_inches="tight")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
