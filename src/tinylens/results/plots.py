"""Figures: the dataset, the best-fit model, and the corner plot.

Built on :class:`matplotlib.figure.Figure`: no pyplot state, and the backend is left as the user
set it (a notebook keeps its inline figures). Images in an ``asinh`` stretch so that faint arcs
and the bright lens both show, axes in arcsec with ``y`` up, every panel with a title and a
colour bar. Files are written atomically (:mod:`.tables`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import corner
import matplotlib
import matplotlib.ticker
import jax.numpy as jnp
import numpy as np
from matplotlib import colors
from matplotlib.figure import Figure

from tinylens.atomic import write_atomic
from tinylens.data.dataset import Dataset
from tinylens.errors import ConfigTypeError, ConfigValueError, counted
from tinylens.fitting.summary import _half_width, _places, _shown
from tinylens.forward import ray_shoot
from tinylens.pipeline.mass_source import to_source_plane
from tinylens.problem import Problem
from tinylens.results.figure import NotebookFigure, file_format
from tinylens.results.tables import UNITS, statistics, weighted_percentiles

IMAGE_CMAP = "magma"
RESID_CMAP = "RdBu_r"
CORNER_COLOR = "#1f4e79"
#: Colour of the true values marked on a corner plot (``tinylens fit --truth``).
TRUTH_COLOR = "#d62728"
DPI = 110
#: Critical curves smaller than this many pixels (e.g. around a singular centre) are not drawn.
MIN_CURVE_PIXELS = 3
#: Resolution of the corner plot's PNG (it is 2 inches a parameter; at 60 its titles' error
#: digits were 5 pixels high).
CORNER_DPI = 90
#: 2-D contour levels of the corner plot: 1, 2 and 3 sigma.
SIGMA_LEVELS = tuple(1 - np.exp(-0.5 * np.arange(1, 4) ** 2))

SYMBOLS = {
    "theta_E": r"\theta_{\rm E}", "e1": "e_1", "e2": "e_2", "center_x": r"x_{\rm c}", "center_y": r"y_{\rm c}",
    "gamma1": r"\gamma_1", "gamma2": r"\gamma_2", "gamma": r"\gamma", "R_sersic": r"R_{\rm s}",
    "n_sersic": "n", "q": "q", "phi_deg": r"\phi", "gamma_ext": r"\gamma_{\rm ext}", "phi_ext_deg": r"\phi_{\rm ext}",
    "sigma": r"\sigma",
}
PREFIX = {"lens_mass": "mass", "lens_light": "light", "source_light": "source"}


def label(name: str, unit: bool = True) -> str:
    """Short axis label, with the unit if ``unit``: ``lens_mass.0.theta_E`` -> ``mass0 $\\theta_{\\rm E}$ [arcsec]``."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] in PREFIX:
        kind, idx, p = parts
        sym = SYMBOLS.get(p, p.replace("_", r"\_"))
        shown = f" [{UNITS[p]}]" if unit and p in UNITS else ""
        return f"{PREFIX[kind]}{idx} ${sym}${shown}"
    return name.replace("_", " ")


# -- helpers ---------------------------------------------------------------------------------
def image_extent(shape: tuple[int, int], pixel_scale: float) -> list[float]:
    """``[left, right, bottom, top]`` in arcsec of an image of ``shape`` centred on the origin
    (matplotlib's ``extent``)."""
    ny, nx = shape
    return [-nx / 2 * pixel_scale, nx / 2 * pixel_scale, -ny / 2 * pixel_scale, ny / 2 * pixel_scale]


def asinh_norm(image: np.ndarray, noise_level: float, used: np.ndarray | None = None) -> colors.Normalize:
    """Colour scale for a galaxy image: linear around ``noise_level``, logarithmic-like for bright
    light, from -2 noise levels to the 99.9th percentile of the finite pixels in ``used`` (the
    mask of the fit: a bright star masked out of it would set the scale, and leave the lens and
    arcs in the bottom colours), or of all the finite ones where ``used`` is None or holds none."""
    finite = np.isfinite(image)
    if used is not None and (finite & used).any():
        finite &= used
    finite = image[finite]
    vmax = float(np.percentile(finite, 99.9)) if finite.size else 1.0
    vmax = max(vmax, 5 * noise_level, 1e-12)
    return colors.AsinhNorm(linear_width=max(noise_level, vmax * 1e-3), vmin=-2 * noise_level, vmax=vmax)


#: Least distance, as a part of the colour bar's length, from the bottom of an asinh colour bar to
#: its tick at 0 for the bottom to be ticked too: nearer (a peak 1e4 times the noise puts them 3 %
#: apart), their labels, 8 points high, are drawn over each other ('-0.1' on '0').
MIN_BOTTOM_TICK_GAP = 0.06


def _asinh_ticks(norm: colors.AsinhNorm) -> list[float]:
    """0, the lower limit, decades and the maximum: readable colour-bar ticks (the top of the bar,
    e.g. a lens's peak of 9, would otherwise be unlabelled above the tick at 1). The lower limit is
    left out where it lies within :data:`MIN_BOTTOM_TICK_GAP` of 0 along the bar."""
    top = np.floor(np.log10(norm.vmax))
    decades = [10.0**k for k in np.arange(top - 3, top + 1) if 10.0**k > norm.linear_width]
    if not decades or norm.vmax > 2 * decades[-1]:
        decades.append(float(norm.vmax))
    bottom = [norm.vmin] if float(norm(0.0)) - float(norm(norm.vmin)) >= MIN_BOTTOM_TICK_GAP else []
    return [*bottom, 0.0, *decades]


def show_image(fig: Figure, ax, image: np.ndarray, title: str, extent, cbar_label: str = "", **kw):
    """Draw ``image`` on ``ax`` in arcsec with a titled, labelled colour bar; ``kw`` go to
    ``imshow`` (an :func:`asinh_norm` gets readable decade ticks). Returns the image artist."""
    im = ax.imshow(image, origin="lower", extent=extent, interpolation="nearest", **kw)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("x [arcsec]", fontsize=9)
    ax.set_ylabel("y [arcsec]", fontsize=9)
    ax.tick_params(labelsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    if isinstance(kw.get("norm"), colors.AsinhNorm):
        cb.set_ticks(_asinh_ticks(kw["norm"]))
        cb.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
        cb.ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    cb.ax.tick_params(labelsize=8)
    if cbar_label:
        cb.set_label(cbar_label, fontsize=8)
    return im


def _save(fig: Figure, path: str | Path, dpi: int = DPI, **savefig) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (:func:`file_format`); ``savefig``:
    more options of ``Figure.savefig``."""
    kind = file_format(fig, path)
    return write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=kind, facecolor="white", **savefig))


def _mask_outline(ax, mask: np.ndarray, extent) -> None:
    if not mask.all():
        ny, nx = mask.shape
        x = np.linspace(extent[0], extent[1], nx + 1)
        y = np.linspace(extent[2], extent[3], ny + 1)
        xc, yc = (x[:-1] + x[1:]) / 2, (y[:-1] + y[1:]) / 2
        ax.contour(xc, yc, mask.astype(float), levels=[0.5], colors="cyan", linewidths=0.8)


# -- dataset ---------------------------------------------------------------------------------
def noise_limits(noise: np.ndarray, used: np.ndarray) -> tuple[float | None, float | None]:
    """Colour limits of the noise map: its 1st and 99th percentiles over the used pixels (all
    finite ones when none is used), so that a few bad pixels of huge noise (1e30) do not turn the
    rest into one colour; ``(None, None)`` (matplotlib's own) when no value is finite."""
    values = noise[used & np.isfinite(noise)] if used.any() else noise[np.isfinite(noise)]
    if not values.size:
        return None, None
    low, high = np.percentile(values, [1, 99])
    return float(low), float(high)


def snr_limit(snr: np.ndarray, used: np.ndarray) -> float:
    """Top of the signal-to-noise colour scale: the 99.9th percentile of the used pixels' finite
    S/N (all finite ones when none is used), at least 5, so that one cosmic ray or hot pixel
    (S/N 1e4, often masked out) does not leave the arcs in the bottom colours."""
    values = snr[used & np.isfinite(snr)] if used.any() else snr[np.isfinite(snr)]
    return max(float(np.percentile(values, 99.9)), 5.0) if values.size else 5.0


#: Relative spread under which a map's finite pixels are taken to hold one value (float32 rounding).
UNIFORM_RTOL = 1e-6


def uniform_value(image: np.ndarray, rtol: float = UNIFORM_RTOL) -> float | None:
    """The value that every finite pixel of ``image`` holds (to ``rtol`` of it): a constant noise
    map's; None where they differ or none is finite."""
    finite = image[np.isfinite(image)]
    if not finite.size:
        return None
    low, high = float(finite.min()), float(finite.max())
    return (low + high) / 2 if high - low <= rtol * max(abs(low), abs(high)) else None


def show_uniform(fig: Figure, ax, image: np.ndarray, level: float, title: str, extent, cbar_label: str = ""):
    """Draw ``image``, whose finite pixels all hold ``level``, as :func:`show_image` does, in one
    colour, with a colour bar of that colour ticked at ``level`` alone and ``title`` saying
    'uniform': matplotlib's own scale of ``level`` +- 10 % read as a map that varies."""
    one = colors.ListedColormap([matplotlib.colormaps["viridis"](0.5)]).with_extremes(bad=NO_VALUE_COLOUR)
    pad = abs(level) * 0.1 or 1.0
    im = show_image(fig, ax, image, f"{title}: uniform, {level:.3g}", extent, cbar_label, cmap=one,
                    vmin=level - pad, vmax=level + pad)
    im.colorbar.set_ticks([level])
    im.colorbar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    im.colorbar.ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    return im


def check_first_argument(function: str, value, wanted: type, hint: str) -> None:
    """A TypeError (:class:`~tinylens.errors.ConfigTypeError`, a TinyLensError too) saying what to pass
    (``hint``) when ``value`` is no ``wanted``: a Problem given to :func:`dataset_figure`, which takes
    its dataset (it failed deep inside, an AttributeError)."""
    if not isinstance(value, wanted):
        raise ConfigTypeError(f"{function} takes a {wanted.__name__}; got {type(value).__name__}. {hint}")


#: Colour of a pixel of the data, noise or S/N panel that has no finite value (a noise map's NaN, 0 or
#: bad-pixel value, which loading makes +inf, i.e. left out): matplotlib's default drew it white, the
#: colour that the mask panel beside it gives the pixels used.
NO_VALUE_COLOUR = "0.6"


def with_no_value_colour(cmap) -> colors.Colormap:
    """``cmap`` (a name or colour map) drawing values that are not finite in :data:`NO_VALUE_COLOUR`."""
    return (matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap).with_extremes(bad=NO_VALUE_COLOUR)


def no_value_text(image: np.ndarray, used: np.ndarray) -> str:
    """A title's second line counting the pixels of ``image`` that are not finite (drawn in
    :data:`NO_VALUE_COLOUR`), and saying whether the fit leaves them out (``used``: the mask);
    ``""`` where there are none."""
    bad = ~np.isfinite(np.asarray(image, dtype=float))
    n = int(bad.sum())
    if not n:
        return ""
    left_out = "left out of the fit" if not (bad & used).any() else f"{int((bad & ~used).sum())} left out of the fit"
    return f"\n{n} pixel{'' if n == 1 else 's'} not finite (grey), {left_out}"


def data_shown(dataset) -> np.ndarray:
    """``dataset``'s data as a figure draws it: NaN (:data:`NO_VALUE_COLOUR`) where the data file
    had no finite value (``no_data``), which loading sets to 0; a NaN pixel of the arc was drawn as
    a dark 0 inside the mask's outline, read as no flux there."""
    data = np.asarray(dataset.data, dtype=float)
    return data if dataset.no_data is None else np.where(dataset.no_data, np.nan, data)


def dataset_figure(dataset) -> Figure:
    """Data, noise map, signal-to-noise, PSF and mask; a pixel with no finite value (a bad noise
    value, left out) grey in the first three, each titled with how many there are."""
    check_first_argument("dataset_figure", dataset, Dataset, "Pass problem.dataset.")
    d = dataset
    extent = image_extent(d.data.shape, d.pixel_scale)
    noise_level = float(np.median(d.noise[d.mask])) if d.mask.any() else float(np.median(d.noise))
    fig = NotebookFigure(figsize=(21, 3.9), layout="constrained")
    axes = fig.subplots(1, 5)
    data = data_shown(d)
    show_image(fig, axes[0], data, "Data (asinh stretch)" + no_value_text(data, d.mask), extent,
               "data units / pixel", cmap=with_no_value_colour(IMAGE_CMAP), norm=asinh_norm(d.data, noise_level, d.mask))
    _mask_outline(axes[0], d.mask, extent)
    level = uniform_value(np.asarray(d.noise))
    noise_title = r"Noise map ($1\sigma$)"
    if level is None:
        vmin, vmax = noise_limits(d.noise, d.mask)
        show_image(fig, axes[1], d.noise, noise_title + no_value_text(d.noise, d.mask), extent, "data units / pixel",
                   cmap=with_no_value_colour("viridis"), vmin=vmin, vmax=vmax)
    else:  # the count after 'uniform, 0.05', which show_uniform adds to the first line
        show_uniform(fig, axes[1], d.noise, level, noise_title, extent, "data units / pixel")
        axes[1].set_title(axes[1].get_title() + no_value_text(d.noise, d.mask), fontsize=11)
    snr = data / d.noise
    show_image(fig, axes[2], snr, "Signal-to-noise" + no_value_text(snr, d.mask), extent, "S/N",
               cmap=with_no_value_colour("viridis"),
               norm=colors.AsinhNorm(linear_width=3.0, vmin=-3.0, vmax=snr_limit(snr, d.mask)))
    psf = np.asarray(d.psf, dtype=float)
    peak = float(psf.max())
    show_image(fig, axes[3], np.where(psf > 0, psf, np.nan), "PSF (log stretch)", image_extent(psf.shape, d.pixel_scale),
               "fraction of flux", cmap="viridis", norm=colors.LogNorm(vmin=peak * 1e-4, vmax=peak))
    mask = show_image(fig, axes[4], d.mask.astype(float), f"Mask ({int(d.mask.sum())} pixels used)", extent,
                      cmap="gray", vmin=0, vmax=1)
    mask.colorbar.set_ticks([0, 1], labels=["left out", "used"])  # a mask has no values between
    mask.colorbar.ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    return fig


def save_dataset_figure(dataset, path: str | Path) -> Path:
    """Write :func:`dataset_figure` of ``dataset`` to ``path`` (a fit's ``dataset_subplot.png``), in
    the format its suffix names, under a temporary name then renamed; the path written."""
    return _save(dataset_figure(dataset), path)


# -- model -----------------------------------------------------------------------------------
def det_contours(problem, theta: np.ndarray, half: float, n: int) -> list[np.ndarray]:
    """The ``det A = 0`` contour segments, as ``(N, 2)`` arrays, on an ``n`` x ``n`` grid spanning
    ``[-half, half]`` in x and y."""
    g = np.linspace(-half, half, n)
    h = g[1] - g[0]
    x, y = np.meshgrid(g, g)
    t = jnp.asarray(theta, problem.dtype)
    spec = problem.spec
    bx, by = (np.asarray(v, dtype=float) for v in ray_shoot(spec, t, jnp.asarray(x, problem.dtype), jnp.asarray(y, problem.dtype)))
    dbx_dy, dbx_dx = np.gradient(bx, h)
    dby_dy, dby_dx = np.gradient(by, h)
    det = dbx_dx * dby_dy - dbx_dy * dby_dx
    return Figure().subplots().contour(g, g, det, levels=[0.0]).allsegs[0]


def cut_at_edge(segments, half: float, step: float) -> bool:
    """Whether a contour segment is open and ends at the edge of its grid ``[-half, half]`` of
    spacing ``step``: a curve that goes on beyond the grid."""
    for seg in segments:
        if len(seg) < 2 or np.allclose(seg[0], seg[-1], rtol=0.0, atol=1e-9 * half):
            continue
        if np.any(np.abs(seg[[0, -1]]).max(axis=1) >= half - step / 2):
            return True
    return False


#: How many times the image's half-width the ``det A`` grid may be widened to follow a critical
#: curve that leaves the image (a lens of Einstein radius near the image's edge); one still cut
#: beyond it is drawn open.
MAX_CURVE_FIELD = 4


def critical_curves_and_caustics(problem, theta: np.ndarray, n: int = 400):
    """Critical curves (image plane) and caustics (source plane) as lists of ``(N, 2)`` arrays.

    ``det A = 0`` is contoured on a fine grid spanning the image; the curves are then mapped
    through the lens equation. A curve that leaves the image is followed on a grid widened (at
    the same spacing, up to :data:`MAX_CURVE_FIELD` times the image) until it closes, so that
    its caustic is whole: the image's part alone mapped to a caustic with a cusp missing.
    """
    if not problem.spec.lens_mass:
        return [], []
    d = problem.dataset
    half = max(d.data.shape) / 2 * d.pixel_scale
    step = 2 * half / (n - 1)
    widen = 1
    segments = det_contours(problem, theta, half, n)
    while widen < MAX_CURVE_FIELD and cut_at_edge(segments, widen * half, step):
        widen *= 2
        segments = det_contours(problem, theta, widen * half, widen * (n - 1) + 1)
    crit = long_segments(segments, MIN_CURVE_PIXELS * d.pixel_scale)
    return crit, [to_source_plane(problem, theta, seg) for seg in crit]


def cuts(problem, theta: np.ndarray, radius: float | None = None, n: int = 720) -> list[np.ndarray]:
    """The source-plane images of a circle about each mass centre, as ``(n, 2)`` arrays: the
    "cuts" that the zero contour of ``det A`` cannot show.

    Near the centre of an isothermal profile (SIS, SIE, EPL with gamma = 2) the deflection keeps a
    finite size in every direction, so as the circle shrinks its image tends to a closed curve,
    the cut (pseudo-caustic): a source inside it has two images or more, one outside has one
    (Kormann, Schneider & Bartelmann 1994, A&A 284, 285). The circle's ``radius`` is by default
    the one within which the image count of the quality flags (``n_images``,
    ``not_multiply_imaged``) finds no image, so a source inside the curve has an image it counts
    on the far side: for gamma = 2 the curve is then 3 % inside the cut; for gamma > 2, where
    the deflection grows towards the centre, it is wider (a central image nearer than that is not
    counted, nor seen in data; about 2 theta_E at gamma = 2.2, and past the 3 theta_E that the
    count searches from gamma = 2.3). For gamma < 2 the circle is widened to the radial critical radius
    of the round profile, theta_E (2 - gamma)^(1 / (gamma - 1)), and its image is close to the
    radial caustic. Profiles without a centre (shear) have no curve.
    """
    from tinylens.forward import component_values
    from tinylens.lens_equation import unresolved_radius
    from tinylens.results.quality import SEARCH_THETA_E

    t = jnp.asarray(theta, problem.dtype)
    phi = np.linspace(0.0, 2.0 * np.pi, n)
    out = []
    for comp in problem.spec.lens_mass:
        values = {k: float(v) for k, v in component_values(comp, t).items()}
        if "center_x" not in values or "center_y" not in values or not values.get("theta_E", 0.0) > 0.0:
            continue
        r = radius if radius is not None else unresolved_radius(SEARCH_THETA_E * values["theta_E"])
        gamma = values.get("gamma", 2.0)
        if gamma < 2.0:
            r = max(r, values["theta_E"] * (2.0 - gamma) ** (1.0 / (gamma - 1.0)))
        ring = np.stack([values["center_x"] + r * np.cos(phi), values["center_y"] + r * np.sin(phi)], axis=1)
        curve = to_source_plane(problem, theta, ring)
        if np.isfinite(curve).all():
            out.append(curve)
    return out


def long_segments(segments, min_size: float) -> list[np.ndarray]:
    """The contour segments whose extent reaches ``min_size`` (empty and one-point ones dropped)."""
    return [seg for seg in segments if len(seg) >= 2 and np.ptp(seg, axis=0).max() >= min_size]


def inside_extent(points: np.ndarray, extent) -> np.ndarray:
    """Whether each of the ``(N, 2)`` ``points`` lies in ``extent`` (``[left, right, bottom, top]``)."""
    left, right, bottom, top = extent
    x, y = points[:, 0], points[:, 1]
    return (x >= left) & (x <= right) & (y >= bottom) & (y <= top)


def longest_stretch_inside(curve: np.ndarray, extent) -> float:
    """Length of the longest unbroken stretch of the ``(N, 2)`` ``curve`` that lies in ``extent``
    (of steps between two points in it; a closed curve's stretch may run through its first point)."""
    inside = inside_extent(curve, extent)
    shown = inside[:-1] & inside[1:]
    steps = np.hypot(*np.diff(curve, axis=0).T)
    if len(curve) > 2 and np.array_equal(curve[0], curve[-1]) and not shown.all():
        first = int(np.argmin(shown))  # start at a hidden step, so that no stretch is cut in two
        shown, steps = np.roll(shown, -first), np.roll(steps, -first)
    longest = run = 0.0
    for step, visible in zip(steps, shown):
        run = run + step if visible else 0.0
        longest = max(longest, run)
    return float(longest)


#: Part of the source panel's width (or height, if less) that a curve must show unbroken in it to
#: be drawn and named in its legend (a small curve: half its length).
MIN_CURVE_SHOWN = 0.05


def in_view(curves: list[np.ndarray], extent, min_shown: float = MIN_CURVE_SHOWN) -> list[np.ndarray]:
    """The ``(N, 2)`` curves seen in ``extent`` (``[left, right, bottom, top]``): with a point in
    it, and an unbroken stretch in it of ``min_shown`` of its width or height (the smaller), or
    of half the curve's length. The others would be drawn outside the panel, or as a few pixels
    in its corners (a cut a little larger than the panel), and named in its legend all the same."""
    left, right, bottom, top = extent
    least = min_shown * min(right - left, top - bottom)
    return [c for c in curves if inside_extent(c, extent).any()
            and longest_stretch_inside(c, extent) >= min(least, 0.5 * np.hypot(*np.diff(c, axis=0).T).sum())]


#: Characters of the model figure's summary panel's widest line: longer ones (a verdict naming
#: several flags) are wrapped, as the layout would otherwise shrink every image to make room.
TEXT_PANEL_WIDTH = 44


def wrapped(lines: list[str], width: int = TEXT_PANEL_WIDTH) -> list[str]:
    """``lines``, each longer than ``width`` characters broken at spaces into lines indented by two."""
    return [part for line in lines
            for part in (textwrap.wrap(line, width, subsequent_indent="  ") if len(line) > width else [line])]


def _text_panel(ax, lines: list[str]) -> None:
    ax.axis("off")
    ax.set_title("Fit summary", fontsize=11)
    ax.text(0.02, 0.98, "\n".join(wrapped(lines)), va="top", ha="left", family="monospace", fontsize=9,
            transform=ax.transAxes)


def _empty_panel(ax, title: str, text: str) -> None:
    """A panel that says why it has no image."""
    ax.set_title(title, fontsize=11)
    ax.set_box_aspect(1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="0.4", transform=ax.transAxes)


def draw_caustic(ax, curve: np.ndarray, pixel: float, name: str | None) -> None:
    """Draw the ``(N, 2)`` caustic ``curve`` on the source panel ``ax`` (of pixels ``pixel``
    arcsec wide), named ``name`` in its legend: as a line, or where it is smaller than a pixel (a
    round lens's caustic is a point) as a cross at its centre, which a line so small would not show."""
    if np.ptp(curve, axis=0).max() < pixel:
        x, y = curve.mean(axis=0)
        ax.plot([x], [y], color="cyan", ls="none", marker="+", ms=9, mew=1.2, label=name)
    else:
        ax.plot(curve[:, 0], curve[:, 1], color="cyan", lw=0.8, label=name)


def model_figure(problem, theta: np.ndarray, summary_lines: list[str] | None = None) -> Figure:
    """Data, model, normalised residuals, lens light, lensed source, data - lens light and the
    reconstructed source (with caustics), for the parameters ``theta``."""
    check_first_argument("model_figure", problem, Problem, "Pass the problem: tinylens.load(config), or the one "
                         "load_stored('output/result.json') returns.")
    d = problem.dataset
    m = problem.model_image(theta)
    extent = image_extent(d.data.shape, d.pixel_scale)
    noise_level = float(np.median(d.noise[d.mask]))
    norm = asinh_norm(d.data, noise_level, d.mask)
    resid = np.where(d.mask, (d.data - m["total"]) / d.noise, np.nan)
    chi2 = float(np.nansum(resid**2))
    crit, caus = critical_curves_and_caustics(problem, theta)

    fig = NotebookFigure(figsize=(19, 9), layout="constrained")
    ax = fig.subplots(2, 4)
    img = dict(cmap=IMAGE_CMAP, norm=norm)
    data = data_shown(d)
    grey = dict(img, cmap=with_no_value_colour(IMAGE_CMAP))  # a pixel of no data: as the dataset figure draws it
    show_image(fig, ax[0, 0], data, "Data" + no_value_text(data, d.mask), extent, "data units / pixel", **grey)
    _mask_outline(ax[0, 0], d.mask, extent)
    show_image(fig, ax[0, 1], m["total"], "Model (maximum likelihood)", extent, "data units / pixel", **img)
    cmap = matplotlib.colormaps[RESID_CMAP].with_extremes(bad="0.8")
    show_image(fig, ax[0, 2], resid, rf"Normalised residuals, $\chi^2/N$ = {chi2 / max(d.mask.sum(), 1):.3f}",
               extent, r"(data - model) / $\sigma$", cmap=cmap, vmin=-5, vmax=5)
    if problem.spec.lens_light:
        show_image(fig, ax[0, 3], m["lens_light"], "Lens light (model)", extent, "data units / pixel", **img)
    else:
        _empty_panel(ax[0, 3], "Lens light (model)", "no lens light in the model")
    show_image(fig, ax[1, 0], m["lensed_source"], "Lensed source (model)", extent, "data units / pixel", **img)
    named = in_view(crit, extent)
    for seg in crit:
        name = "critical curve" if named and seg is named[0] else None
        ax[1, 0].plot(seg[:, 0], seg[:, 1], color="white", lw=0.7, alpha=0.8, label=name)
    if named:  # a white line: named on a dark frame, out of the curve's way
        ax[1, 0].legend(loc="best", fontsize=8, facecolor="black", edgecolor="none", framealpha=0.6, labelcolor="white")
    ax[1, 0].set_xlim(extent[:2])  # a critical curve followed beyond the image is cut at its edge
    ax[1, 0].set_ylim(extent[2:])
    lens_free = data - m["lens_light"]  # grey where the data is: counted as in the Data title
    show_image(fig, ax[1, 1], lens_free, "Data - lens light" + no_value_text(lens_free, d.mask), extent,
               "data units / pixel", **grey)
    src = m["source_plane"]
    sx, sy = problem.source_grid(src.shape)
    s_extent = image_extent(src.shape, float(sx[0, 1] - sx[0, 0]))
    show_image(fig, ax[1, 2], src, "Reconstructed source (source plane)", s_extent, "data units / image pixel",
               cmap=IMAGE_CMAP, norm=asinh_norm(src, noise_level))
    for i, seg in enumerate(in_view(caus, s_extent)):
        draw_caustic(ax[1, 2], seg, float(sx[0, 1] - sx[0, 0]), "caustic" if i == 0 else None)
    for i, seg in enumerate(in_view(cuts(problem, theta), s_extent)):
        ax[1, 2].plot(seg[:, 0], seg[:, 1], color="cyan", lw=0.8, ls="--", label="cut" if i == 0 else None)
    if ax[1, 2].get_legend_handles_labels()[0]:  # cyan lines: on a dark frame (a white one over purple hid them)
        ax[1, 2].legend(loc="upper right", fontsize=8, facecolor="black", edgecolor="none", framealpha=0.8,
                        labelcolor="white")
    ax[1, 2].set_xlim(s_extent[:2])
    ax[1, 2].set_ylim(s_extent[2:])
    _text_panel(ax[1, 3], [f"chi^2 = {chi2:.1f} ({int(d.mask.sum())} pixels)", *(summary_lines or [])])
    return fig


def save_model_figure(problem, theta: np.ndarray, path: str | Path, summary_lines: list[str] | None = None) -> Path:
    """Write :func:`model_figure` of ``problem`` at ``theta`` (with ``summary_lines`` in its summary
    panel) to ``path`` (a fit's ``model_results.png``), as :func:`save_dataset_figure` does."""
    return _save(model_figure(problem, theta, summary_lines), path)


# -- corner ----------------------------------------------------------------------------------
def plot_ranges(samples: np.ndarray, weights: np.ndarray, mass: float = 0.999) -> list[tuple[float, float]]:
    """Axis range of each column: the central ``mass`` of the weighted samples, never empty
    (a search stopped early may put all its weight on one point)."""
    out = []
    for col in np.asarray(samples, dtype=float).T:
        lo, hi = weighted_percentiles(col, weights, [50 * (1 - mass), 50 * (1 + mass)])
        if not hi > lo:
            lo, hi = np.min(col), np.max(col)
        if not hi > lo:
            pad = max(abs(lo) * 1e-3, 1e-6)
            lo, hi = lo - pad, hi + pad
        out.append((float(lo), float(hi)))
    return out


def decimals(err: float) -> int | None:
    """Decimal places that show a value to two significant digits of its error ``err`` (0 to 8;
    None for an error that is not a positive number): :func:`tinylens.fitting.summary._places`, the rule of
    the fit figure's summary panel, a result's repr and ``tinylens fit``'s table, so that they and
    the corner titles round a fit's numbers alike."""
    return _places(err)


def title_format(stats: Mapping[str, Any]) -> str:
    """A format that shows a column's median to two significant digits of its smaller 68 % error,
    from its :func:`~tinylens.results.tables.statistics` (``.3g`` would print 1.2016 +- 0.0014 as
    1.2 +- 0.0014); ``.3f`` where that error is zero."""
    (lo, hi), mid = stats["interval_68"], stats["median"]
    digits = decimals(min(mid - lo, hi - mid))
    return f".{3 if digits is None else digits}f"


def title_texts(stats: Mapping[str, Any]) -> tuple[str, str, str]:
    """A column's median and its errors below and above it (to its 16 and 84 % points) as its corner
    title writes them, from its :func:`~tinylens.results.tables.statistics`: with :func:`title_format`'s
    places, but a tiny median and errors whose places, capped at 8, would hold under two figures
    of them as ``tinylens fit``'s table writes them (:func:`tinylens.fitting.summary._shown`,
    :func:`tinylens.fitting.summary._half_width`): a median of 1.234567e-9 with errors near 1.1e-11 is
    1.235e-09 -1.1e-11 +1.2e-11, not 0.00000000 -0.00000000 +0.00000000."""
    (lo, hi), mid = stats["interval_68"], stats["median"]
    smaller = min(mid - lo, hi - mid)
    places = decimals(smaller)
    if places is None:  # no width: title_format's .3f
        fmt = title_format(stats)
        return f"{mid:{fmt}}", f"{mid - lo:{fmt}}", f"{hi - mid:{fmt}}"
    return _shown(mid, places, smaller), _half_width(mid - lo, places), _half_width(hi - mid, places)


def corner_titles(titles, samples: np.ndarray, weights: np.ndarray | None) -> list[tuple[str, list[float]]]:
    """Each column's corner title, ``titles[i] = $median_{-(median - p16)}^{+(p84 - median)}$`` (as
    :func:`title_texts` writes it), and its 16, 50 and 84 % points: those of result_summary.csv
    (:func:`~tinylens.results.tables.statistics` of the same samples and weights). corner's own
    titles interpolated its weighted quantiles between samples: a posterior on one sample, 1.0003
    with no width in the table, was titled 1.002 +- 0.001."""
    out = []
    for title, col in zip(titles, np.asarray(samples, dtype=float).T):
        stats = statistics(col, weights)
        (lo, hi), mid = stats["interval_68"], stats["median"]
        shown, below, above = title_texts(stats)
        out.append((f"{title} = ${{{shown}}}_{{-{below}}}^{{+{above}}}$", [lo, mid, hi]))
    return out


#: Parameters up to which a corner plot's text has its plain size; with more, the figure (2 inches
#: a parameter) is scaled down to be seen whole, and its text is drawn larger to stay legible.
CORNER_PLAIN_TEXT = 8


def corner_text_scale(k: int) -> float:
    """How many times its plain size a corner plot of ``k`` parameters draws its text: 1 up to
    :data:`CORNER_PLAIN_TEXT` parameters, then in proportion to ``k`` (its size against the whole
    figure then stays that of 8 parameters)."""
    return max(1.0, k / CORNER_PLAIN_TEXT)


def _enlarge_corner_text(fig: Figure, k: int) -> None:
    """Draw the axis labels of a corner plot of many parameters (:func:`corner_text_scale`) at
    45 degrees, so that their larger text passes its neighbour's instead of running into it."""
    if k <= CORNER_PLAIN_TEXT:
        return
    for ax in fig.axes:
        if ax.get_xlabel():
            ax.xaxis.label.set(rotation=45, ha="right", va="top", rotation_mode="anchor")
        if ax.get_ylabel():
            ax.yaxis.label.set(rotation=45, ha="right", va="center", rotation_mode="anchor")


#: Fraction of its panel's width that a centred corner title too wide for its panel is shrunk to.
CORNER_TITLE_FILL = 0.97


def fit_corner_titles(fig: Figure, k: int) -> None:
    """Shrink the font of each centred title of a corner plot of ``k`` parameters that is wider
    than its panel to :data:`CORNER_TITLE_FILL` of the panel's width: centred, it reached over the
    diagonal panel before it ("mass0 y_c = -0.002130 ..." of six parameters). Titles that fit keep
    their size, as do the left-aligned ones of more than :data:`CORNER_PLAIN_TEXT` parameters, which
    reach into the empty panels to their right."""
    if k > CORNER_PLAIN_TEXT:
        return
    for ax in np.array(fig.axes).reshape(k, k).diagonal():
        room = ax.bbox.width
        for _ in range(3):  # mathtext's width is nearly, not exactly, in proportion to its size
            width = ax.title.get_window_extent().width
            if width <= room:
                break
            ax.title.set_fontsize(ax.title.get_fontsize() * CORNER_TITLE_FILL * room / width)


#: Inches kept clear between a corner plot's outermost text and the figure's edge.
CORNER_MARGIN = 0.1


def hold_corner_text(fig: Figure, margin: float = CORNER_MARGIN) -> None:
    """Widen the figure ``fig`` where its text reaches past an edge, by as much as it does plus
    ``margin`` inches (an edge it does not reach stays), its panels keeping their size and places:
    the larger, 45-degree axis labels of a corner plot of more than :data:`CORNER_PLAIN_TEXT`
    parameters and its last left-aligned title lay up to 3 inches outside the figure, cut off by a
    plain ``fig.savefig`` or a window (only ``bbox_inches="tight"``, as in the fit's PNG and a
    notebook's inline figure, showed them)."""
    for _ in range(2):  # the text is placed against its panels, which do not move: one pass is enough
        width, height = fig.get_size_inches()
        drawn = fig.get_tightbbox()
        reach = (-drawn.x0, drawn.x1 - width, -drawn.y0, drawn.y1 - height)  # > 0: past that edge
        if max(reach) <= 1e-6:
            return
        left, right, bottom, top = (past + margin if past > 1e-6 else 0.0 for past in reach)
        box = fig.subplotpars
        edges = (box.left * width, box.right * width, box.bottom * height, box.top * height)
        fig.set_size_inches(width + left + right, height + bottom + top)
        new_width, new_height = fig.get_size_inches()
        fig.subplots_adjust(left=(edges[0] + left) / new_width, right=(edges[1] + left) / new_width,
                            bottom=(edges[2] + bottom) / new_height, top=(edges[3] + bottom) / new_height)


#: Most ticks on a corner panel's axis.
CORNER_TICKS = 3
#: Fraction of a corner panel's width (or height) at each end that holds no tick: a label at a
#: panel's edge ran into the neighbouring panel's label ("0.0000.025").
CORNER_TICK_MARGIN = 0.08


class InnerTicks(matplotlib.ticker.Locator):
    """Round ticks as ``MaxNLocator(nbins)`` places them, less those within ``margin`` of the
    axis's span of either end; finer round steps (up to ``nbins`` + 3) where that leaves fewer than two."""

    def __init__(self, nbins: int, margin: float = CORNER_TICK_MARGIN):
        self.nbins = nbins
        self.margin = margin

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        lo, hi = sorted((vmin, vmax))
        edge = self.margin * (hi - lo)
        inside = np.array([])
        for nbins in range(self.nbins, self.nbins + 4):
            ticks = matplotlib.ticker.MaxNLocator(nbins).tick_values(lo, hi)
            inside = ticks[(ticks >= lo + edge) & (ticks <= hi - edge)]
            if len(inside) >= 2:
                break
        return inside


def inner_corner_ticks(fig: Figure, max_n_ticks: int) -> None:
    """Give the corner plot's ticked axes :class:`InnerTicks`, and point its 45-degree tick
    labels at their ticks (their ends aligned, as a bar chart's rotated labels are): centred
    on their ticks, labels of different lengths reached into their neighbours."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_locator()) is matplotlib.ticker.MaxNLocator:
                axis.set_major_locator(InnerTicks(max_n_ticks))
        for text in ax.get_xticklabels():
            text.set_horizontalalignment("right")
        for text in ax.get_yticklabels():
            text.set_verticalalignment("top")


def corner_figure(
    names, samples: np.ndarray, weights: np.ndarray | None, truths: np.ndarray | Mapping | None = None
) -> Figure:
    """Corner plot of weighted samples with 1, 2, 3 sigma contours and 16/50/84 % titles
    (``weights`` None: equal weights). Samples or weights of shapes that do not match ``names``
    are a ValueError (:class:`~tinylens.errors.ConfigValueError`, a TinyLensError too) naming them, as are weights
    that are NaN, infinite, negative or all zero and a parameter whose samples are all NaN (:func:`check_finite_draws`),
    samples, weights or truths that are no numbers, truths not one per name (:func:`_marked_truths`),
    and fewer samples than names (or than 2): an optimiser's one point, or the few samples of
    weight that a sampler stopped early leaves in its samples table (:func:`tinylens.read_result`). ``truths``, values marked on it: one per name (None: none), or
    a mapping of name to value (a fit's ``result.truth``, or a pandas Series indexed by the names,
    such as a truth table's row; names it lacks are not marked, and a mapping that names none of them
    but by mistake, no parameter's name or a misspelt one, is a ConfigValueError, :func:`_no_truth_named`)."""
    if isinstance(names, str):  # a name's characters taken for names: 'one column for each of the 19 names'
        raise ConfigTypeError(f"names must be a list of parameter names (result.param_names); got the str {names!r}: "
                              f"give [{names!r}] for one")
    if isinstance(truths, Mapping) and truths and not any(n in truths for n in names):
        _no_truth_named(names, truths)  # unless its keys are other parameters' (a corner of some of a fit's)
    if isinstance(truths, Mapping) or (hasattr(truths, "keys") and any(n in truths.keys() for n in names)):
        truths = [truths.get(n) for n in names]
    k = len(names)
    samples = _numbers_array("samples", samples)
    if samples.ndim != 2 or samples.shape[1] != k:
        raise ConfigValueError(f"samples must have shape (N, {k}), one column for "
                               f"{'the one name' if k == 1 else f'each of the {k} names'}; got shape "
                               f"{samples.shape}")
    weights = np.ones(len(samples)) if weights is None else _numbers_array("weights", weights)
    if weights.shape != (len(samples),):
        raise ConfigValueError(f"weights must have shape ({len(samples)},), one for each sample; got shape {weights.shape}")
    check_finite_draws(names, samples, weights)
    if len(samples) < max(k, 2):  # corner's own check is an AssertionError about dimensions
        raise ConfigValueError(f"a corner plot of {counted(k, 'parameter')} needs at least {max(k, 2)} samples; got "
                               f"{len(samples)} (an optimiser's result is one point, its best fit; a sampler's stopped early, by its "
                               "n_like_max or timeout, can hold as few samples of weight, the only ones its samples table "
                               "and read_result keep: no posterior to plot)")
    titles = corner_titles([label(n, unit=False) for n in names], samples, weights)  # all of them, as the table
    keep = weights > weights.max() * 1e-8  # negligible points change no histogram
    if keep.sum() <= k:  # a search stopped early: too few weighted points to leave any out
        keep[:] = True
    samples, weights = samples[keep], weights[keep]
    size = 2.0 * k + 1.5
    scale = corner_text_scale(k)
    fig = NotebookFigure(figsize=(size, size))
    marked = None if truths is None else _marked_truths(names, truths)
    corner.corner(  # titles and 16/50/84 % lines drawn below, at the summary table's percentiles
        samples, weights=weights, labels=[label(n) for n in names],
        truths=marked if k > 1 else None, range=plot_ranges(samples, weights), smooth=1.0, levels=SIGMA_LEVELS, bins=30, color=CORNER_COLOR,
        fig=fig, plot_datapoints=False, fill_contours=True, label_kwargs={"fontsize": 14 * scale},
        max_n_ticks=CORNER_TICKS, labelpad=0.08 + 0.2 * (scale - 1), truth_color=TRUTH_COLOR,
    )
    for ax, (title, points) in zip(np.array(fig.axes).reshape(k, k).diagonal(), titles):
        ax.set_title(title, fontsize=10 * scale, loc="left" if scale > 1 else "center")
        for x in points:
            ax.axvline(x, ls="dashed", color=CORNER_COLOR)
    if k == 1 and marked and marked[0] is not None:  # corner cannot mark the truth of one parameter
        fig.axes[0].axvline(marked[0], color=TRUTH_COLOR)
    _enlarge_corner_text(fig, k)
    fit_corner_titles(fig, k)
    inner_corner_ticks(fig, CORNER_TICKS)
    for ax in fig.axes:
        ax.tick_params(labelsize=10 * np.sqrt(scale))  # ticks at the panels' edges meet: less larger
        for axis in (ax.xaxis, ax.yaxis):  # "0.001 +1.25" under a narrow posterior: write 1.251
            if isinstance(axis.get_major_formatter(), matplotlib.ticker.ScalarFormatter):
                axis.get_major_formatter().set_useOffset(False)
    hold_corner_text(fig)
    return fig


def _numbers_array(name: str, value: Any) -> np.ndarray:
    """``value`` as an array of floats, else a ConfigValueError naming the argument ``name`` and
    showing the value (numpy's bare 'could not convert string to float: ...' named neither). Rows of
    numbers of unequal lengths (numpy's 'inhomogeneous shape') are said to be so, with their shapes,
    not to be no numbers."""
    import reprlib

    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        pass
    try:
        shapes = sorted({np.shape(row) for row in value})
    except (TypeError, ValueError):  # no rows, or rows themselves uneven: said as no numbers
        shapes = []
    if len(shapes) > 1:
        shown = ", ".join(map(str, shapes[:4])) + (", ..." if len(shapes) > 4 else "")
        raise ConfigValueError(f"{name} must be a rectangular array of numbers; its rows are not all of one shape "
                               f"(shapes {shown}): got {reprlib.repr(value)}")
    raise ConfigValueError(f"{name} must be an array of numbers; got {reprlib.repr(value)}")


def _no_truth_named(names, truths: Mapping) -> None:
    """A ConfigValueError for ``truths``, a mapping that names none of ``names`` (``{'theta_E': 1.2}``
    for ``lens_mass.0.theta_E``), which marked nothing without a word: its keys, the names it would
    mark, and one of them close to a key; none where its keys are other parameters' names, one at
    least, and none of the others misspells a name drawn (``result.truth`` for a corner of some of
    a fit's parameters: theirs may be missing from it)."""
    from tinylens.errors import closest, did_you_mean, listed

    keys, drawn = [str(key) for key in truths], [str(n) for n in names]
    unknown = [key for key in keys if not _a_parameter_name(key)]
    if len(unknown) < len(keys) and not any(closest(key, drawn) for key in unknown):
        return  # the true values of other parameters (result.truth, for a corner of the shear alone): none marked
    raise ConfigValueError(f"truths names none of the parameters drawn ({listed(drawn, 3)}), so none "
                           f"would be marked; its keys: {listed([repr(key) for key in keys], 3)}. Give the true values "
                           f"by the names of result.param_names (a fit's result.truth).{did_you_mean(unknown, drawn)}")


def _a_parameter_name(key: str) -> bool:
    """Whether ``key`` names a parameter of a component as a fit does (``lens_mass.1.gamma1``: a
    component list, an index and a parameter of that list's profiles), be it drawn or not."""
    from tinylens.profiles.light import LIGHT_PROFILES
    from tinylens.profiles.mass import MASS_PROFILES

    kind, index, param = (key.split(".", 2) + ["", ""])[:3]
    profiles = {"lens_mass": MASS_PROFILES, "lens_light": LIGHT_PROFILES, "source_light": LIGHT_PROFILES}.get(kind, {})
    return index.isdigit() and any(param in (*p.params, *p.aliases) for p in profiles.values())


def _marked_truths(names, truths) -> list[float | None]:
    """The value of each of ``names`` to mark (None: none) from ``truths``, one per name; a
    ConfigValueError where they are not as many as the names (corner's 'Provided figure has 4 axes,
    but data has dimensions K=1') or one is neither a number nor None, naming it."""
    try:
        values = list(truths)
    except TypeError:
        raise ConfigValueError(f"truths must be one value per name (None where none is marked) or a mapping of name "
                               f"to value; got {type(truths).__name__} {truths!r:.60}") from None
    if len(values) != len(names):
        raise ConfigValueError(f"truths must hold one value for each of the {counted(len(names), 'name')} (None where "
                               f"none is marked), or be a mapping of name to value; got {counted(len(values), 'value')}")
    marked = []
    for name, value in zip(names, values):
        try:
            marked.append(None if value is None else float(value))
        except (TypeError, ValueError):
            raise ConfigValueError(f"truths: the value for {name} must be a number or None; got "
                                   f"{type(value).__name__} {value!r:.60}") from None
    return marked


def check_finite_draws(names, samples: np.ndarray, weights: np.ndarray) -> None:
    """A :class:`~tinylens.errors.ConfigValueError` where :func:`corner_figure` would fail with
    matplotlib's bare 'Axis limits cannot be NaN or Inf', or corner's 'Weights included NaN, inf or
    were all zero': a weight that is NaN, infinite or negative (naming how many, and the first), all
    weights zero, or a parameter whose samples are all NaN or infinite (naming it). A NaN reaches
    here from a samples table edited by hand (an empty CSV cell, a JSON table's null) read back by
    :func:`tinylens.read_result`, or from samples of a user's own; some NaN samples in a column are
    drawn without them, as before."""
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        first = int(np.argmax(bad))
        raise ConfigValueError(f"weights must be finite numbers >= 0; {counted(int(bad.sum()), 'weight')} of "
                               f"{len(weights)} {'is' if bad.sum() == 1 else 'are'} NaN, infinite or negative (the first, "
                               f"{float(weights[first])!r}, of sample {first}, counting from 0)")
    if len(weights) and not weights.any():
        raise ConfigValueError(f"weights are all zero ({counted(len(weights), 'sample')}): no sample has a weight to draw")
    empty = [str(name) for name, column in zip(names, samples.T) if len(column) and not np.isfinite(column).any()]
    if empty:
        from tinylens.errors import listed

        them = "it" if len(empty) == 1 else "them"
        raise ConfigValueError(f"the samples of {listed(empty)} are all NaN or infinite: nothing of {them} to draw (a "
                               f"column of a samples table emptied by hand?); leave {them} out of names and samples")


def save_corner_figure(names, samples, weights, path: str | Path, truths=None) -> Path:
    """Write :func:`corner_figure` of the weighted ``samples`` (``truths`` marked) to ``path`` (a
    fit's ``model_corner.png``) at :data:`CORNER_DPI`, cut to its text, as :func:`save_dataset_figure` does."""
    return _save(corner_figure(names, samples, weights, truths), path, dpi=CORNER_DPI, bbox_inches="tight",
                 pad_inches=0.2)
