"""Gallery of the SLACS lenses whose Einstein radius is far from the reference value.

For each lens, one row: the data minus the fitted lens light with two circles (solid: the
tinylens Einstein radius; dashed: the reference one, e.g. Bolton et al. 2008), the lensed
source of the best fit with its critical curve, and the normalised residuals. It shows at a
glance whether the arc sits on the reference ring and what the source model fitted instead.

    python examples/slacs/failure_gallery.py SURVEY_OUT REFERENCE.csv -o gallery.png \\
        [--threshold 0.10] [--lens J0405-0455 [--lens J1142+1001 ...]] [--also OTHER_SURVEY_OUT]

SURVEY_OUT is the output folder of ``tinylens survey`` (``catalog.csv`` and
``lenses/<id>/result.json``); REFERENCE.csv has ``lens_name`` and the reference column
(``--reference-column``, default ``theta_E_bolton2008``). With ``--also``, each lens gets a second
row from another survey's output (e.g. the same lens fitted by a newer version).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tinylens.errors import TinyLensError, lens_count
from tinylens.results import plots
from tinylens.results.report import read_table, save_figure
from tinylens.results.stored import load_stored
from tinylens.results.tables import unwritable_file

THETA = "lens_mass.0.theta_E"


def far_lenses(catalog: pd.DataFrame, reference: pd.Series, threshold: float) -> list[str]:
    """Lens ids whose median theta_E differs from the reference by more than ``threshold``."""
    ok = catalog[catalog["status"] == "ok"].set_index("lens_id")
    dev = (ok[f"{THETA}_median"] / reference.reindex(ok.index) - 1).abs()
    return sorted(dev[dev > threshold].index)


def _circle(ax, cx: float, cy: float, r: float, **kw) -> None:
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(cx + r * np.cos(t), cy + r * np.sin(t), **kw)


def lens_row(fig: Figure, ax, result_path: Path, ref_theta: float) -> None:
    """Draw one lens's three panels from its stored result."""
    try:
        res, problem, theta = load_stored(result_path, base_dir_option=None)
    except TinyLensError as err:  # moved data, an unreadable result.json
        raise SystemExit(f"error: {err}") from None
    best = res["max_likelihood"]
    m = problem.model_image(theta)
    d = problem.dataset
    extent = plots.image_extent(d.data.shape, d.pixel_scale)
    noise_level = float(np.median(d.noise[d.mask]))
    norm = plots.asinh_norm(d.data - m["lens_light"], noise_level)
    lens_id = f"{result_path.parent.name} ({result_path.parents[2].name})"
    t_e = res["median"][THETA]
    cx, cy = best.get("lens_mass.0.center_x", 0.0), best.get("lens_mass.0.center_y", 0.0)

    plots.show_image(fig, ax[0], d.data - m["lens_light"], f"{lens_id}: data - lens light", extent, "",
                     cmap=plots.IMAGE_CMAP, norm=norm)
    _circle(ax[0], cx, cy, t_e, color="cyan", lw=1.2, label=rf"tinylens $\theta_E$ = {t_e:.2f}")
    _circle(ax[0], cx, cy, ref_theta, color="white", lw=1.2, ls="--", label=rf"reference {ref_theta:.2f}")
    ax[0].legend(loc="lower left", fontsize=7, framealpha=0.6)
    plots.show_image(fig, ax[1], m["lensed_source"], "lensed source (best fit)", extent, "",
                     cmap=plots.IMAGE_CMAP, norm=norm)
    crit, _ = plots.critical_curves_and_caustics(problem, theta)
    for seg in crit:
        ax[1].plot(seg[:, 0], seg[:, 1], color="white", lw=0.7)
    resid = np.where(d.mask, (d.data - m["total"]) / d.noise, np.nan)
    cmap = matplotlib.colormaps[plots.RESID_CMAP].with_extremes(bad="0.8")
    plots.show_image(fig, ax[2], resid, r"(data - model) / $\sigma$", extent, "", cmap=cmap, vmin=-5, vmax=5)
    flags = ", ".join(res["quality"].get("flags", [])) or "none"
    ax[2].text(0.02, 0.98, f"flags: {flags}", transform=ax[2].transAxes, va="top", fontsize=7, wrap=True,
               bbox=dict(facecolor="white", alpha=0.7, lw=0))
    for a in ax:
        half = 1.8 * max(t_e, ref_theta) + 0.5
        a.set_xlim(cx - half, cx + half)
        a.set_ylim(cy - half, cy + half)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("survey_out", type=Path)
    p.add_argument("reference", type=Path)
    p.add_argument("-o", "--output", type=Path, default=Path("slacs_failures.png"))
    p.add_argument("--reference-column", default="theta_E_bolton2008")
    p.add_argument("--threshold", type=float, default=0.10)
    p.add_argument("--lens", action="append", help="lens id (repeatable); default: all beyond --threshold")
    p.add_argument("--also", type=Path, help="a second survey output: each lens gets a row from it too")
    p.add_argument("--dpi", type=int, default=70)
    a = p.parse_args(argv)

    if why := unwritable_file(a.output):
        p.error(f"-o {a.output}: {why}")
    try:
        catalog = read_table(a.survey_out / "catalog.csv", "catalogue of the survey output")
        reference = read_table(a.reference, "reference table")
    except TinyLensError as err:
        raise SystemExit(f"error: {err}") from None
    if a.reference_column not in reference.columns:
        raise SystemExit(f"error: the reference table {a.reference} has no column {a.reference_column!r}; "
                         f"its columns: {', '.join(map(str, reference.columns))}")
    ref = reference.set_index("lens_id")[a.reference_column]
    lenses = list(dict.fromkeys(a.lens)) if a.lens else far_lenses(catalog, ref, a.threshold)  # each lens once
    if not lenses:
        print("no lens beyond the threshold")
        return 0
    rows = [(folder, lens) for lens in lenses for folder in (a.survey_out, a.also) if folder is not None]
    unknown = sorted(set(lenses) - set(ref.dropna().index))
    missing = [str(folder / "lenses" / lens / "result.json") for folder, lens in rows
               if not (folder / "lenses" / lens / "result.json").is_file()]
    if unknown:
        raise SystemExit(f"error: no {a.reference_column} for {', '.join(unknown)} in {a.reference}")
    if missing:
        raise SystemExit(f"error: no result: {', '.join(missing)}")
    fig = Figure(figsize=(13, 4.1 * len(rows)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), 3))
    for ax, (folder, lens) in zip(axes, rows):
        lens_row(fig, ax, folder / "lenses" / lens / "result.json", float(ref[lens]))
    save_figure(fig, a.output, dpi=a.dpi)
    print(f"wrote {a.output} ({lens_count(len(lenses))}: {', '.join(lenses)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
