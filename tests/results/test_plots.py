"""Figures' geometry against analytic lensing: the critical curve and caustic of an isothermal sphere."""

from __future__ import annotations

import numpy as np
import pytest

import tinylens
from tiny_lens import FREE_TRUTH, write_tiny_lens
from tinylens.results.plots import critical_curves_and_caustics, cuts


@pytest.fixture(scope="module")
def tiny_problem(tmp_path_factory):
    return tinylens.load(write_tiny_lens(tmp_path_factory.mktemp("tiny")))

def truth_with(problem, theta_E: float) -> np.ndarray:
    """The tiny lens's true parameter vector with the Einstein radius ``theta_E``."""
    return np.array([{**FREE_TRUTH, "lens_mass.0.theta_E": theta_E}[n] for n in problem.param_names])


def panel_titled(fig, title: str):
    """The panel of ``fig`` whose title is ``title``."""
    return next(ax for ax in fig.axes if ax.get_title() == title)



@pytest.mark.parametrize("theta_E", [0.8, 1.3])
def test_isothermal_sphere_has_a_circular_critical_curve_and_a_point_caustic(tiny_problem, theta_E):
    """Round SIE: det A = 1 - theta_E / r vanishes on the circle r = theta_E, which the lens
    equation maps to the lens centre (beta = theta - theta_E theta / |theta| = 0)."""
    problem = tiny_problem
    theta = truth_with(problem, theta_E)
    crit, caus = critical_curves_and_caustics(problem, theta, n=400)
    step = problem.dataset.data.shape[0] * problem.dataset.pixel_scale / 399
    points = np.concatenate(crit)
    assert len(points) > 100
    np.testing.assert_allclose(np.hypot(*points.T), theta_E, atol=step)
    assert np.hypot(*np.concatenate(caus).T).max() < step


def test_the_cut_of_an_isothermal_sphere_is_the_circle_of_radius_theta_E(tiny_problem):
    """Round SIS: a ray just beside the centre is deflected by theta_E towards it, so the cut is the
    circle |beta| = theta_E about the centre: sources inside it have two images. The det A contour
    cannot show it (the radial critical curve shrinks to the centre)."""
    problem = tiny_problem
    theta = np.array([{**FREE_TRUTH, "lens_mass.0.theta_E": 1.1}[n] for n in problem.param_names])
    (curve,) = cuts(problem, theta, radius=0.005)
    np.testing.assert_allclose(np.hypot(*curve.T), 1.1 - 0.005, rtol=1e-5)


def _lens_problem(tmp_path, mass):
    """The tiny lens with its mass replaced by ``mass`` (fixed, but theta_E free)."""
    import yaml

    from tiny_lens import tiny_config

    config = tiny_config()
    values = {k: v for k, v in mass.items() if k != "type"}
    config["model_components"]["lens_mass_list"] = [
        {"type": mass["type"], "params": {k: {"fixed": True, "fixed_value": v} for k, v in values.items() if k != "theta_E"}
         | {"theta_E": {"prior_type": "uniform", "prior_settings": [0.5, 1.5]}}}]
    folder = tmp_path / "lens"
    write_tiny_lens(folder)
    (folder / "model_config.yaml").write_text(yaml.safe_dump(config))
    problem = tinylens.load(folder / "model_config.yaml")
    theta = np.array([values["theta_E"] if n.endswith("theta_E") else FREE_TRUTH[n] for n in problem.param_names])
    return problem, theta


@pytest.mark.parametrize("mass", [
    {"type": "SIE", "theta_E": 1.2, "e1": 0.2, "e2": -0.1, "center_x": 0.1, "center_y": -0.05},
    {"type": "EPL", "theta_E": 1.2, "gamma": 2.2, "e1": -0.1, "e2": 0.15, "center_x": 0.0, "center_y": 0.1},
    {"type": "EPL", "theta_E": 1.2, "gamma": 1.7, "e1": 0.1, "e2": 0.0, "center_x": 0.0, "center_y": 0.0},
])
def test_cuts_are_lenstronomys_lens_equation_on_a_circle_about_the_centre(tmp_path, mass):
    """The cut of an elliptical lens, and the curves for slopes steeper and shallower than
    isothermal (a circle of the given radius, or of the radial critical radius), against
    lenstronomy's ray shooting of the same points."""
    from lenstronomy.LensModel.lens_model import LensModel

    problem, theta = _lens_problem(tmp_path, mass)
    values = {k: v for k, v in mass.items() if k != "type"}
    (curve,) = cuts(problem, theta, radius=0.004, n=90)
    gamma = values.get("gamma", 2.0)
    radius = max(0.004, 1.2 * (2 - gamma) ** (1 / (gamma - 1))) if gamma < 2 else 0.004
    phi = np.linspace(0, 2 * np.pi, 90)
    x, y = values["center_x"] + radius * np.cos(phi), values["center_y"] + radius * np.sin(phi)
    bx, by = LensModel([mass["type"]]).ray_shooting(x, y, [values])
    np.testing.assert_allclose(curve, np.stack([bx, by], axis=1), atol=2e-5 * 1.2)
    if gamma == 2.0:  # the cut encloses the caustic's centre, at about theta_E from it
        assert 0.5 * 1.2 < np.hypot(*(curve - curve.mean(axis=0)).T).mean() < 1.5 * 1.2


def test_a_critical_curve_that_leaves_the_image_is_closed_and_its_caustic_whole(tmp_path):
    """An elliptical lens whose critical curve runs past the image's edge (3.2" wide, the
    curve 3.3" along its long axis): the det A contour on the image alone cut it into two
    open arcs, and the source panel's caustic lacked a cusp. The curve is now followed beyond the
    image: one closed curve, and a whole caustic, symmetric about the lens centre as an SIE's is."""
    mass = {"type": "SIE", "theta_E": 1.3, "e1": 0.3, "e2": 0.0, "center_x": 0.1, "center_y": 0.0}
    problem, theta = _lens_problem(tmp_path, mass)
    crit, caus = critical_curves_and_caustics(problem, theta)
    assert len(crit) == len(caus) == 1
    for curve in (crit[0], caus[0]):
        np.testing.assert_allclose(curve[0], curve[-1], atol=1e-9)
    half = problem.dataset.data.shape[1] * problem.dataset.pixel_scale / 2
    assert np.abs(crit[0][:, 0]).max() > half  # it does leave the image
    left, right = caus[0][:, 0].min() - 0.1, caus[0][:, 0].max() - 0.1
    bottom, top = caus[0][:, 1].min(), caus[0][:, 1].max()
    assert right == pytest.approx(-left, rel=0.02) and top == pytest.approx(-bottom, rel=0.02)
    from tinylens.results.plots import model_figure

    panel = panel_titled(model_figure(problem, theta), "Lensed source (model)")
    assert panel.get_xlim() == pytest.approx((-half, half)) and panel.get_ylim() == pytest.approx((-half, half))


@pytest.mark.parametrize("gamma", [2.0, 2.1, 2.2])
def test_a_source_inside_the_drawn_cut_has_the_images_the_quality_flags_count(tmp_path, gamma):
    """The drawn curve and ``n_images`` agree: for slopes steeper than isothermal the image of a
    tiny circle (the first version) grew beyond where a counter-image is counted (6.7" against
    2.9" at gamma = 2.3), so a source inside it could be 'not multiply imaged'."""
    from tinylens.lens_equation import count_images_of_points
    from tinylens.results.quality import SEARCH_THETA_E

    mass = {"type": "EPL", "theta_E": 1.0, "gamma": gamma, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}
    problem, theta = _lens_problem(tmp_path, mass)
    (curve,) = cuts(problem, theta)
    size = float(np.hypot(*curve.T).mean())
    if gamma == 2.0:
        assert size == pytest.approx(0.97, abs=0.005)  # the cut, theta_E, less the 3 % not searched
    counts = count_images_of_points(problem.spec, theta, [(0.97 * size, 0.0), (1.03 * size, 0.0)], (0.0, 0.0),
                                    SEARCH_THETA_E * 1.0)
    assert counts[0] >= 2 and counts[1] == 1


def test_readme_notebook_snippet_redraws_a_finished_fit(tmp_path):
    """README, "In a notebook": a fit stored as result.json loads back and its figures are drawn
    as Figures, the model panel showing the stored best fit."""
    from matplotlib.figure import Figure

    from tiny_lens import tiny_data
    from tinylens.results import plots
    from tinylens.results.stored import load_stored

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {"n_live": 50, "n_like_max": 600}}, tiny_data())
    result = tinylens.fit(config, progress=False)
    stored, problem, best = load_stored(result.output_dir / "result.json")
    assert [stored["max_likelihood"][n] for n in problem.param_names] == pytest.approx(best)
    figures = [plots.model_figure(problem, best), plots.dataset_figure(problem.dataset),
               plots.corner_figure(result.param_names, result.samples, result.weights)]
    assert all(isinstance(fig, Figure) for fig in figures)
    # a notebook shows them inline without %matplotlib inline (they showed as "<Figure size ...>" text)
    assert all(fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n" for fig in figures)
    model_panel = panel_titled(figures[0], "Model (maximum likelihood)")
    np.testing.assert_allclose(model_panel.images[0].get_array(), problem.model_image(best)["total"], rtol=1e-5)
    assert len(figures[2].axes) == len(result.param_names) ** 2


def test_corner_axes_name_the_model_part_and_unit_and_titles_stay_short():
    """The corner plot said "M0 x_c" with no unit and no word for what M0 is."""
    from tinylens.results.plots import corner_figure

    rng = np.random.default_rng(2)
    names = ["lens_mass.0.theta_E", "lens_mass.1.gamma1", "source_light.0.R_sersic"]
    fig = corner_figure(names, rng.normal([1.2, 0.02, 0.2], 0.01, size=(400, 3)), np.ones(400))
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_xlabel() for ax in axes[-1]] == [r"mass0 $\theta_{\rm E}$ [arcsec]", r"mass1 $\gamma_1$",
                                                    r"source0 $R_{\rm s}$ [arcsec]"]
    assert axes[0, 0].get_title().startswith(r"mass0 $\theta_{\rm E}$ = ") and "arcsec" not in axes[0, 0].get_title()


def test_corner_text_of_many_parameters_keeps_its_size_against_the_figure(tmp_path):
    """With 17 parameters the corner plot was 36 inches wide with its text at the size of 3
    parameters': seen whole (a notebook, an image viewer) its labels were 5 pixels high. Past 8
    parameters the text now grows with the figure, the axis labels at 45 degrees to pass each
    other, and the saved image holds them all."""
    from PIL import Image

    from tinylens.results.plots import CORNER_DPI, corner_figure, save_corner_figure

    rng = np.random.default_rng(5)
    names = [f"source_light.{i}.center_x" for i in range(17)]
    samples = rng.normal(0.0, 0.01, size=(400, 17))
    fig = corner_figure(names, samples, None)
    axes = np.array(fig.axes).reshape(17, 17)
    few = corner_figure(names[:8], samples[:, :8], None)
    panels = [(f.subplotpars.right - f.subplotpars.left) * f.get_figwidth() for f in (fig, few)]  # the figure less its text's margins
    per_inch = [f.axes[-1].xaxis.label.get_fontsize() / width for f, width in zip((fig, few), panels)]
    assert per_inch[0] >= 0.99 * per_inch[1], per_inch
    assert {ax.xaxis.label.get_rotation() for ax in axes[-1]} == {45.0}
    assert {ax.yaxis.label.get_rotation() for ax in axes[1:, 0]} == {45.0}
    assert few.axes[-1].xaxis.label.get_rotation() == 0.0 and few.axes[-1].xaxis.label.get_fontsize() == 14
    path = save_corner_figure(names, samples, None, tmp_path / "corner.png")
    fig.canvas.draw()
    drawn = fig.get_tightbbox().padded(0.2)
    assert np.allclose(Image.open(path).size, (drawn.width * CORNER_DPI, drawn.height * CORNER_DPI), atol=2)


def test_a_corner_plot_of_many_parameters_holds_its_labels_and_titles_inside_the_figure(tmp_path):
    """With 17 parameters (the default SIE + shear model) the corner plot's 45-degree axis labels
    lay up to 3 inches left of and below the figure, and its last title past its right edge: a
    notebook's ``fig.savefig("corner.png")`` or a window cut them off. The figure is now widened to
    hold them, its panels keeping their size; one of 8 parameters, whose text fits, is left as it was."""
    from PIL import Image

    from tinylens.results.plots import CORNER_PLAIN_TEXT, corner_figure

    rng = np.random.default_rng(5)
    names = ["lens_mass.0.theta_E"] + [f"source_light.{i}.center_x" for i in range(16)]
    samples = rng.normal(0.0, 0.01, size=(400, 17))
    for k in (CORNER_PLAIN_TEXT + 1, 17):
        fig = corner_figure(names[:k], samples[:, :k], None)
        width, height = fig.get_size_inches()
        drawn = fig.get_tightbbox()
        assert drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= width and drawn.y1 <= height, (k, drawn, width, height)
        panel = fig.axes[0].get_position()
        assert np.isclose(panel.width * width, panel.height * height, rtol=0.02)  # square, as drawn
        assert 1.8 < panel.width * width < 2.0  # 2 inches a parameter, less corner's spacing
        path = tmp_path / f"corner{k}.png"
        fig.savefig(path, dpi=20)  # a plain savefig: the figure's own size
        assert np.allclose(Image.open(path).size, (width * 20, height * 20), atol=1)
    few = corner_figure(names[:CORNER_PLAIN_TEXT], samples[:, :CORNER_PLAIN_TEXT], None)
    assert tuple(few.get_size_inches()) == (2.0 * CORNER_PLAIN_TEXT + 1.5,) * 2


def test_a_gaussian_width_is_labelled_sigma():
    """A Gaussian light's width was labelled in math italics as the word: 'light1 $sigma$ [arcsec]',
    the longest label of a corner plot, which ran into its neighbour's."""
    from tinylens.results.plots import label

    assert label("lens_light.1.sigma") == r"light1 $\sigma$ [arcsec]"
    assert label("source_light.0.sigma", unit=False) == r"source0 $\sigma$"


@pytest.mark.parametrize("k", [1, 2])
def test_corner_marks_the_true_values_also_of_a_single_parameter(k):
    """corner.corner cannot mark the truth of a one-parameter plot ('Axes' object is not
    subscriptable): the figure of a fit with one mass parameter was lost with --truth."""
    from tinylens.results.plots import TRUTH_COLOR, corner_figure

    rng = np.random.default_rng(3)
    names, truths = ["lens_mass.0.theta_E", "lens_mass.0.e1"][:k], [1.21, None][:k]
    fig = corner_figure(names, rng.normal([1.2, 0.05][:k], 0.01, size=(400, k)), np.ones(400), truths)
    marks = [line for line in fig.axes[0].lines if line.get_color() == TRUTH_COLOR]
    assert len(marks) == 1 and np.allclose(marks[0].get_xdata(), 1.21)


def test_corner_marks_the_true_values_of_a_mapping_by_name():
    """result.truth (a dict of name -> value) as truths was 'could not convert string to float:
    'lens_mass.0.theta_E'': its keys were taken for the values."""
    from tinylens.results.plots import TRUTH_COLOR, corner_figure

    rng = np.random.default_rng(3)
    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    fig = corner_figure(names, rng.normal([1.2, 0.05], 0.01, size=(400, 2)), np.ones(400),
                        {"lens_mass.0.e1": 0.06, "source_light.0.e1": 0.3})
    marks = [line for line in fig.axes[3].lines if line.get_color() == TRUTH_COLOR]
    assert len(marks) == 1 and np.allclose(marks[0].get_xdata(), 0.06)
    assert not [line for line in fig.axes[0].lines if line.get_color() == TRUTH_COLOR]


def test_corner_refuses_a_truths_mapping_that_names_none_of_the_parameters():
    """truths={'theta_E': 1.2} (a profile's name for lens_mass.0.theta_E) or a misspelt full name
    named none of the parameters, and the corner plot was drawn with no truth marked, without a word:
    it is a ConfigValueError naming its keys and the names it takes; one name of the mapping is enough
    to draw, the others left unmarked, as before."""
    from tinylens.results.plots import TRUTH_COLOR, corner_figure

    rng = np.random.default_rng(3)
    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    samples = rng.normal([1.2, 0.05], 0.01, size=(400, 2))
    with pytest.raises(tinylens.ConfigValueError) as info:
        corner_figure(names, samples, np.ones(400), {"theta_E": 1.21, "e1": 0.06})
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("truths names none of the parameters drawn (lens_mass.0.theta_E, lens_mass.0.e1), "
                                      "so none would be marked; its keys: 'theta_E', 'e1'.")
    with pytest.raises(tinylens.ConfigValueError, match="Did you mean 'lens_mass.0.theta_E' instead of 'lens_mass.0.thetaE'"):
        corner_figure(names, samples, np.ones(400), {"lens_mass.0.thetaE": 1.21})
    fig = corner_figure(names, samples, np.ones(400), {"lens_mass.0.theta_E": 1.21, "theta_E": 9.0})
    assert [line.get_xdata()[0] for line in fig.axes[0].lines if line.get_color() == TRUTH_COLOR] == [1.21]


def test_corner_marks_the_true_values_of_a_series_by_name():
    """A pandas Series indexed by the names (a truth table's row) was read in its own order: in
    another order than the names, each truth was marked on another parameter, without a word;
    with more entries than names (the row's other columns), it was corner's ValueError."""
    import pandas as pd

    from tinylens.results.plots import TRUTH_COLOR, corner_figure

    rng = np.random.default_rng(3)
    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    samples = rng.normal([1.2, 0.05], 0.01, size=(400, 2))
    for truths in (pd.Series({"lens_mass.0.e1": 0.06, "lens_mass.0.theta_E": 1.21}),
                   pd.Series({"lens_id": "lens_0001", "lens_mass.0.e1": 0.06, "lens_mass.0.theta_E": 1.21}, dtype=object)):
        fig = corner_figure(names, samples, np.ones(400), truths)
        marks = [[line.get_xdata()[0] for line in fig.axes[i].lines if line.get_color() == TRUTH_COLOR] for i in (0, 3)]
        assert np.allclose(marks, [[1.21], [0.06]]), marks
    fig = corner_figure(names, samples, np.ones(400), pd.Series([1.21, 0.06]))  # no names: one per name, in order
    assert np.allclose([line.get_xdata()[0] for line in fig.axes[0].lines if line.get_color() == TRUTH_COLOR], 1.21)


def test_corner_ticks_of_a_narrow_posterior_have_no_offset():
    """A posterior 0.0004 wide about 1.25 was ticked "0.000 0.001" with "+1.25" in a corner."""
    from tinylens.results.plots import corner_figure

    rng = np.random.default_rng(4)
    fig = corner_figure(["lens_mass.0.theta_E", "lens_mass.0.e1"], rng.normal([1.2505, 0.1], [0.0004, 0.001], size=(2000, 2)),
                        np.ones(2000))
    fig.canvas.draw()
    bottom_left = fig.axes[2]
    assert bottom_left.xaxis.get_offset_text().get_text() == ""
    ticks = [t.get_text() for t in bottom_left.get_xticklabels() if t.get_text()]
    assert ticks and all(float(t.replace("\u2212", "-")) > 1.24 for t in ticks), ticks


def _tick_label_rectangles(fig) -> list[tuple[str, np.ndarray]]:
    """The corners (display pixels) of each tick label drawn in its axes' range: a 45-degree
    label's rectangle, of its unrotated size, about the centre of its rotated box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for loc, text in zip(axis.get_majorticklocs(), axis.get_ticklabels()):
                if not (text.get_visible() and text.get_text() and lo <= loc <= hi):
                    continue
                box, angle = text.get_window_extent(renderer), text.get_rotation()
                text.set_rotation(0)
                flat = text.get_window_extent(renderer)
                text.set_rotation(angle)
                a = np.deg2rad(angle)
                along, across = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
                centre = np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2
                out.append((text.get_text(), np.array([centre + i * flat.width / 2 * along + j * flat.height / 2 * across
                                                       for i in (-1, 1) for j in (-1, 1)])))
    return out


def _apart(p: np.ndarray, q: np.ndarray) -> bool:
    """Whether two rectangles (4 corners each) do not overlap: an edge normal of one separates them."""
    for corners in (p, q):
        for edge in (corners[1] - corners[0], corners[2] - corners[0]):
            normal = np.array([-edge[1], edge[0]])
            if (p @ normal).max() <= (q @ normal).min() or (q @ normal).max() <= (p @ normal).min():
                return True
    return False


def test_corner_tick_labels_of_neighbouring_panels_do_not_overlap():
    """Fourteen parameters, their ticks of three to five digits: a label at a panel's edge ran
    into the next panel's ("0.0000.025" under two bottom panels), 45-degree labels centred on
    their ticks reaching sideways by half their length. Ticks now keep off the panels' edges and
    each label ends at its tick; no two drawn labels overlap."""
    from itertools import combinations

    from tinylens.results.plots import corner_figure

    names = [f"lens_mass.0.{p}" for p in ("theta_E", "e1", "e2", "center_x", "center_y")] + [
        "lens_mass.1.gamma1", "lens_mass.1.gamma2"] + [f"source_light.0.{p}" for p in (
        "R_sersic", "n_sersic", "center_x", "center_y")] + [f"lens_light.0.{p}" for p in ("R_sersic", "n_sersic", "e1")]
    mean = [1.23456, 0.0123, -0.0456, 0.001234, -0.00213, 0.0312, -0.0213, 0.2345, 3.21, 0.1012, -0.0601, 1.234, 4.0, 0.1]
    sigma = [0.0012, 0.004, 0.003, 0.0008, 0.0007, 0.002, 0.003, 0.005, 0.05, 0.0011, 0.0012, 0.01, 0.1, 0.01]
    samples = np.random.default_rng(1).normal(mean, sigma, size=(4000, 14))
    labels = _tick_label_rectangles(corner_figure(names, samples, None))
    assert len(labels) >= 2 * 2 * 13
    overlapping = [(a, b) for (a, p), (b, q) in combinations(labels, 2) if not _apart(p, q)]
    assert not overlapping


def test_corner_refuses_samples_or_weights_that_do_not_match_the_names():
    """Samples with a column more than the names, or weights of another length, were an
    IndexError from inside corner / numpy ('list index out of range'); weights None (an MCMC
    chain's equal weights) was a TypeError."""
    from tinylens.results.plots import corner_figure

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    samples = np.random.default_rng(5).normal([1.2, 0.05], 0.01, size=(300, 2))
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\).* got shape \(300, 3\)"):
        corner_figure(names, np.c_[samples, samples[:, 0]], np.ones(300))
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\).* got shape \(300,\)"):
        corner_figure(names, samples[:, 0], np.ones(300))
    with pytest.raises(ValueError, match=r"weights must have shape \(300,\).* got shape \(150,\)"):
        corner_figure(names, samples, np.ones(150))
    equal = corner_figure(names, samples.tolist(), None)
    assert equal.axes[0].get_title() == corner_figure(names, samples, np.ones(300)).axes[0].get_title()


@pytest.mark.parametrize(("k", "n"), [(3, 1), (3, 2), (1, 1)])
def test_corner_of_too_few_samples_says_so(k, n):
    """plots.corner_figure(result.param_names, result.samples, result.weights) of an optimiser's
    fit (one sample) was an AssertionError from inside corner ("I don't believe that you want more
    dimensions than samples!"; one parameter: an IndexError): a ValueError that says why."""
    from tinylens.results.plots import corner_figure

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1", "lens_mass.0.e2"][:k]
    counted = "1 parameter" if k == 1 else f"{k} parameters"  # was 'k parameter(s)'
    with pytest.raises(ValueError, match=rf"corner plot of {counted} needs at least {max(k, 2)} samples; "
                                         rf"got {n} \(an optimiser's result is one point"):
        corner_figure(names, np.ones((n, k)), np.ones(n))
    assert corner_figure(names, np.random.default_rng(0).normal(size=(max(k, 2), k)), None).axes

def test_corner_of_a_capped_samplers_samples_read_back_says_a_sampler_can_leave_so_few():
    """tinylens.read_result of a nautilus fit capped by n_like_max (2,048 calls, N_eff 1: one sample
    holding the weight) gives the one sample its samples table keeps, and README's
    plots.corner_figure(result.param_names, result.samples, result.weights) of it was refused as
    'an optimiser's result is one point': the fit was a sampler's. The message now says that a
    sampler stopped early can leave as few; the fit's own samples, all of them, still plot."""
    from tinylens.results.plots import corner_figure
    from tinylens.results.tables import samples_frame

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1", "lens_mass.0.e2"]
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(2048, 3))
    weights = np.full(2048, 1e-300)
    weights[7] = 1.0
    frame = samples_frame(names, samples, weights, rng.normal(size=2048))
    assert len(frame) == 1  # what read_result gives back
    with pytest.raises(ValueError) as caught:
        corner_figure(names, frame[names].to_numpy(), frame["weight"].to_numpy())
    assert "got 1 (" in str(caught.value) and "a sampler's stopped early, by its n_like_max or timeout" in str(caught.value)
    assert corner_figure(names, samples, weights).axes


def test_the_noise_panel_is_scaled_to_the_typical_noise_not_a_few_huge_pixels(tiny_problem):
    """A few bad pixels of noise 1e30 (an RMS map's convention) set the colour scale to 0..1e30:
    the noise map panel was one flat colour."""
    import dataclasses

    from tinylens.results.plots import dataset_figure

    d = tiny_problem.dataset
    noise = np.array(d.noise)
    noise[0, :4] = 1e30
    fig = dataset_figure(dataclasses.replace(d, noise=noise))
    vmin, vmax = fig.axes[1].images[0].get_clim()
    typical = np.median(noise[d.mask])
    assert "Noise map" in fig.axes[1].get_title() and vmin <= typical <= vmax < 100 * typical


def test_a_problem_given_for_a_dataset_or_the_other_way_round_says_what_to_pass(tiny_problem):
    """``dataset_figure(problem)`` (README shows ``dataset_figure(problem.dataset)``) was a raw
    AttributeError from deep inside, and so was ``model_figure(problem.dataset, theta)``."""
    from tinylens.results.plots import dataset_figure, model_figure

    with pytest.raises(TypeError, match=r"dataset_figure takes a Dataset; got Problem\. Pass problem\.dataset\."):
        dataset_figure(tiny_problem)
    theta = np.array([FREE_TRUTH[n] for n in tiny_problem.param_names])
    with pytest.raises(TypeError, match=r"model_figure takes a Problem; got Dataset\. Pass the problem: tinylens\.load"):
        model_figure(tiny_problem.dataset, theta)


def test_a_mistake_in_a_plot_argument_is_a_tinylens_error_and_the_documented_builtin(tiny_problem):
    """corner_figure(result.param_names, result.samples, result.weights) of an optimiser's fit (one
    sample) raised a plain ValueError, and dataset_figure(problem) a plain TypeError, which 'except
    tinylens.TinyLensError' around a script's figures let through: they are a ConfigValueError and a
    ConfigTypeError, TinyLensErrors that are also the ValueError and TypeError documented."""
    from tinylens.results.plots import corner_figure, dataset_figure

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    for make, kind, message in [
        (lambda: corner_figure(names, np.ones((1, 2)), np.ones(1)), ValueError,
         "a corner plot of 2 parameters needs at least 2 samples; got 1 (an optimiser's result is one point, its "
         "best fit; a sampler's stopped early, by its n_like_max or timeout, can hold as few samples of weight, the "
         "only ones its samples table and read_result keep: no posterior to plot)"),
        (lambda: corner_figure(names, np.ones((300, 3)), None), ValueError,
         "samples must have shape (N, 2), one column for each of the 2 names; got shape (300, 3)"),
        (lambda: corner_figure(names, np.ones((300, 2)), np.ones(150)), ValueError,
         "weights must have shape (300,), one for each sample; got shape (150,)"),
        (lambda: dataset_figure(tiny_problem), TypeError, "dataset_figure takes a Dataset; got Problem. Pass problem.dataset."),
    ]:
        with pytest.raises(Exception) as info:
            make()
        assert isinstance(info.value, tinylens.TinyLensError) and isinstance(info.value, kind)
        assert str(info.value) == message


@pytest.mark.parametrize("names, shape, said", [
    (["lens_mass.0.theta_E"], (300, 2), "samples must have shape (N, 1), one column for the one name; got shape (300, 2)"),
    (["lens_mass.0.theta_E", "lens_mass.0.e1"], (300, 1),
     "samples must have shape (N, 2), one column for each of the 2 names; got shape (300, 1)"),
])
def test_a_corner_of_samples_of_another_width_counts_one_name_in_the_singular(names, shape, said):
    """corner_figure of one name given samples of two columns said 'one column for each of the 1
    names'; it now says 'one column for the one name', several as before."""
    from tinylens.results.plots import corner_figure

    with pytest.raises(ValueError) as info:
        corner_figure(names, np.ones(shape), None)
    assert str(info.value) == said


@pytest.mark.parametrize("name, magic", [("corner.pdf", b"%PDF"), ("corner.PDF", b"%PDF"), ("corner.svg", b"<?xml"),
                                         ("corner.jpg", b"\xff\xd8"), ("corner.png", b"\x89PNG"),
                                         ("corner", b"\x89PNG"), ("corner.fig", b"\x89PNG")])
def test_a_figure_is_written_in_the_format_its_name_says(tmp_path, name, magic):
    """output.figures.corner: model_corner.pdf (for a paper) gave a PNG under a .pdf name, which
    PDF viewers and LaTeX refuse; a figure is now written in the format of its name's suffix, and
    in PNG for a name whose suffix is no format matplotlib writes."""
    from tinylens.results.plots import save_corner_figure

    rng = np.random.default_rng(0)
    path = save_corner_figure(["lens_mass.0.theta_E", "lens_mass.0.e1"], rng.normal(size=(200, 2)), None,
                              tmp_path / name)
    assert path.read_bytes()[:len(magic)] == magic
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it


def test_a_long_verdict_in_the_summary_panel_leaves_the_images_their_size(tiny_problem):
    """An untrusted fit's verdict names its flags on one line ("NOT trusted: unconverged,
    prior_edge, box_edge, multimodal, unmodelled_flux, peaks_apart", 88 characters): the layout
    made room for it by shrinking every image of model_results.png (the data panel to about 70 %
    of its width) and pushing the lens light's colour bar to the figure's edge. Long lines are
    now wrapped inside the panel, and the images keep the size they have beside a short summary."""
    from tinylens.results.plots import model_figure

    theta = np.array([FREE_TRUTH[n] for n in tiny_problem.param_names])
    verdict = "NOT trusted: unconverged, prior_edge, box_edge, multimodal, unmodelled_flux, peaks_apart"

    def data_panel_and_text(lines):
        fig = model_figure(tiny_problem, theta, lines)
        fig.draw_without_rendering()
        panel = panel_titled(fig, "Fit summary")
        return fig.axes[0].get_position().width, panel.texts[0].get_text()

    short_width, _ = data_panel_and_text(["method  nautilus", "trusted"])
    long_width, text = data_panel_and_text(["method  nautilus", verdict])
    assert long_width == pytest.approx(short_width, rel=0.02)
    from tinylens.results.plots import TEXT_PANEL_WIDTH

    assert max(map(len, text.splitlines())) <= TEXT_PANEL_WIDTH
    assert " ".join(text.split()).endswith(verdict)  # wrapped, nothing left out


def test_the_signal_to_noise_panel_is_scaled_to_the_lens_not_one_hot_pixel(tiny_problem):
    """One cosmic ray (S/N 1e5, outside the mask) set the top of the S/N colour scale: the arcs
    and the lens sat in its bottom colours, the panel one flat colour but for that pixel."""
    import dataclasses

    from tinylens.results.plots import dataset_figure

    d = tiny_problem.dataset
    data, mask = np.array(d.data), np.array(d.mask)
    data[0, 0] = 1e5 * float(d.noise[0, 0])
    mask[0, 0] = False
    fig = dataset_figure(dataclasses.replace(d, data=data, mask=mask))
    top = fig.axes[2].images[0].norm.vmax
    lens = np.max((np.array(d.data) / np.array(d.noise))[np.array(d.mask)])
    assert "Signal-to-noise" in fig.axes[2].get_title() and top <= lens


def test_the_source_panel_names_only_the_curves_it_shows(tiny_problem):
    """The tiny lens's source panel spans 0.8" about the centre; its cut (theta_E = 1.5") lies
    outside it, yet the legend named a 'cut' that the panel did not show. Now the legend names
    the curves that lie in the panel, and a cut within it is named."""
    from tinylens.results.plots import model_figure

    problem = tiny_problem
    for theta_E, named in ((1.5, ["caustic"]), (0.6, ["caustic", "cut"])):
        theta = truth_with(problem, theta_E)
        panel = panel_titled(model_figure(problem, theta), "Reconstructed source (source plane)")
        assert panel.get_legend_handles_labels()[1] == named
        (left, right), (bottom, top) = panel.get_xlim(), panel.get_ylim()
        for line in panel.lines:
            x, y = line.get_xdata(), line.get_ydata()
            assert np.any((x >= left) & (x <= right) & (y >= bottom) & (y <= top))


def test_corner_titles_stay_over_their_own_panels():
    """Six parameters, centred titles: 'mass0 $y_c$ = -0.002130 +0.000068 -0.000070' was wider
    than its panel and reached over the diagonal panel before it. A title wider than its panel
    is now drawn smaller, to the panel's width; one that fits keeps its size. Measured on the
    rendered text, at the figure's own resolution and the saved PNG's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tinylens.results.plots import CORNER_DPI, corner_figure

    names = [f"lens_mass.0.{p}" for p in ("theta_E", "e1", "e2", "center_x", "center_y")] + ["source_light.0.R_sersic"]
    mean = [1.23456, 0.0123, -0.002131, 0.001234, -0.00213, 0.2345]
    sigma = [0.00012, 0.004, 0.00012, 0.00008, 0.00007, 0.005]
    samples = np.random.default_rng(1).normal(mean, sigma, size=(4000, 6))
    for dpi in (100, CORNER_DPI):
        fig = corner_figure(names, samples, None)
        fig.set_dpi(dpi)
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        panels = [ax for ax in fig.axes if ax.get_frame_on()]  # the upper triangle is blank
        diagonal = np.array(fig.axes).reshape(6, 6).diagonal()
        for ax in diagonal:
            title, own = ax.title.get_window_extent(renderer), ax.get_window_extent(renderer)
            assert own.x0 - 0.5 <= title.x0 and title.x1 <= own.x1 + 0.5, (ax.get_title(), title, own)
            assert not [other for other in panels if other is not ax and title.overlaps(other.get_window_extent(renderer))]
        sizes = {ax.get_title().split(" = ")[0]: ax.title.get_fontsize() for ax in diagonal}
        assert sizes[r"mass0 $\theta_{\rm E}$"] == sizes[r"mass0 $e_1$"] == sizes[r"source0 $R_{\rm s}$"] == 10
        assert 8 <= sizes[r"mass0 $y_{\rm c}$"] < 10


def test_a_cut_that_only_clips_the_source_panels_corners_is_neither_drawn_nor_named(tiny_problem):
    """The source panel spans 1.6"; a cut of radius 1.13" about its centre reaches into its four
    corners by a few pixels each (22 of its 720 points), yet was drawn there and named 'cut' in
    the legend, for a curve the panel does not show. A curve is now drawn and named where an
    unbroken stretch of it (a twentieth of the panel's width) lies in the panel; a cut of 0.99"
    crosses each corner for 0.3" and is."""
    from tinylens.results.plots import model_figure

    problem = tiny_problem
    for theta_E, named in ((1.14, ["caustic"]), (1.0, ["caustic", "cut"])):
        theta = truth_with(problem, theta_E)
        panel = panel_titled(model_figure(problem, theta), "Reconstructed source (source plane)")
        assert panel.get_legend_handles_labels()[1] == named
        assert len([line for line in panel.lines if line.get_linestyle() == "--"]) == len(named) - 1

    from tinylens.results.plots import longest_stretch_inside

    # the unit circle crosses the square of half-width 0.8 in each corner, over the angles
    # between arccos(0.8) and arcsin(0.8); starting inside one, the stretch runs through its first point
    phi = np.pi / 4 + np.linspace(0, 2 * np.pi, 7201)
    circle = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    arc = np.arcsin(0.8) - np.arccos(0.8)
    assert longest_stretch_inside(circle, [-0.8, 0.8, -0.8, 0.8]) == pytest.approx(arc, abs=2 * (2 * np.pi / 7200))
    assert longest_stretch_inside(circle[::-1], [0.0, 0.8, -0.8, 0.8]) == pytest.approx(arc, abs=2 * (2 * np.pi / 7200))


def test_a_bright_star_masked_out_of_the_fit_does_not_set_the_images_colour_scale(tmp_path):
    """A neighbouring star 2000 times the noise, in a corner the mask leaves out (why it is
    masked), set the top of the colour scale of the data, model, lens light and lensed source
    panels: the arcs sat in the bottom colours. The scale is now that of the pixels the fit
    uses: the same as without the star."""
    import yaml

    from tiny_lens import tiny_config, tiny_data
    from tinylens.results.plots import dataset_figure, model_figure

    def image_norms(folder, star):
        data = tiny_data()
        data["image"] = data["image"] + star
        config = tiny_config()
        config["dataset"]["mask"] = {"type": "circle", "r_max": 1.3}
        write_tiny_lens(folder, data=data)
        (folder / "model_config.yaml").write_text(yaml.safe_dump(config))
        problem = tinylens.load(folder / "model_config.yaml")
        theta = np.array([FREE_TRUTH[n] for n in problem.param_names])
        panels = model_figure(problem, theta).axes
        norms = [next(ax for ax in panels if ax.get_title() == title).images[0].norm
                 for title in ("Data", "Model (maximum likelihood)", "Lensed source (model)")]
        return [*norms, dataset_figure(problem.dataset).axes[0].images[0].norm], problem.dataset

    y, x = np.mgrid[:32, :32]
    star = 2000 * float(tiny_data()["noise"][0, 0]) * np.exp(-((x - 29) ** 2 + (y - 29) ** 2) / 2)
    with_star, dataset = image_norms(tmp_path / "star", star)
    without, _ = image_norms(tmp_path / "plain", 0.0)
    assert not dataset.mask[29, 29] and dataset.data[29, 29] > 10 * dataset.data[dataset.mask].max()
    for norm, plain in zip(with_star, without):
        assert norm.vmax == pytest.approx(plain.vmax) and norm.vmax <= dataset.data[dataset.mask].max()


def _colour_bar_labels(fig, panel) -> list[tuple[str, object]]:
    """The text and drawn extent (display pixels) of each tick label of ``panel``'s colour bar."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    bar = panel.images[0].colorbar.ax
    return [(text.get_text(), text.get_window_extent(renderer)) for text in bar.get_yticklabels() if text.get_text()]


def test_the_colour_bar_labels_of_a_bright_lens_are_not_drawn_over_each_other(tiny_problem):
    """A lens 2e4 times the noise: the colour bar's bottom (-2 noise levels, '-0.1') and its 0
    were ticked 3 % of the bar apart, their labels drawn over each other. The bottom is now ticked
    only where its label clears 0's; on the tiny lens (peak 19 times the noise) it still is."""
    import dataclasses
    from itertools import combinations

    from tinylens.results.plots import dataset_figure

    d = tiny_problem.dataset
    for scale, bottom in ((1.0, "-0.1"), (1000.0, None)):
        fig = dataset_figure(dataclasses.replace(d, data=np.array(d.data) * scale))
        labels = _colour_bar_labels(fig, fig.axes[0])
        texts = [text for text, _ in labels]
        assert "0" in texts and (bottom is None or texts[0] == bottom), texts
        assert not [(a, b) for (a, p), (b, q) in combinations(labels, 2) if p.overlaps(q)], texts


@pytest.mark.parametrize("e1", [0.0, 0.2])
def test_the_source_panel_shows_the_caustic_it_names_also_a_point(tmp_path, e1):
    """A round lens's caustic is a point, its lens centre (its contour mapped to the source plane:
    a curve some 6e-5" across): drawn as a line it was not seen, though the legend named a
    'caustic'. A caustic smaller than a pixel is now marked by a cross at its centre, several
    pixels wide on the panel; an elliptical lens's caustic is drawn as its curve, as before."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tinylens.results.plots import model_figure

    centre = (0.1, -0.05)
    mass = {"type": "SIE", "theta_E": 1.0, "e1": e1, "e2": 0.0, "center_x": centre[0], "center_y": centre[1]}
    problem, theta = _lens_problem(tmp_path, mass)
    fig = model_figure(problem, theta)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    panel = panel_titled(fig, "Reconstructed source (source plane)")
    handles, names = panel.get_legend_handles_labels()
    caustic = handles[names.index("caustic")]
    drawn = caustic.get_window_extent(renderer)
    assert drawn.width >= 6 and drawn.height >= 6, drawn
    x, y = caustic.get_xdata(), caustic.get_ydata()
    pixel = np.diff(panel.get_xlim())[0] / panel.images[0].get_array().shape[1]
    if e1 == 0.0:
        assert caustic.get_marker() not in ("None", None, "", " ")
        np.testing.assert_allclose([np.mean(x), np.mean(y)], centre, atol=pixel)
    else:  # an SIE's caustic: a diamond about its centre, drawn as a line
        assert caustic.get_marker() in ("None", None, "", " ") and caustic.get_linestyle() == "-"
        assert np.ptp(x) > 2 * pixel and np.mean(x) == pytest.approx(centre[0], abs=pixel)


@pytest.mark.parametrize("theta_E", [1.0, 1.5])
def test_the_lensed_source_panel_names_its_critical_curve_where_it_does_not_cover_it(tiny_problem, theta_E):
    """The lensed source panel drew the critical curve, a white line, with no word of what it is,
    while the source panel names its caustic and cut. Its legend now names it, on a frame dark
    enough for the white line to be seen even over the brightest colour of the panel, and placed
    clear of the curve itself (theta_E 1.5": the curve passes near the panel's corners)."""
    from matplotlib import colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tinylens.results.plots import model_figure

    theta = truth_with(tiny_problem, theta_E)
    fig = model_figure(tiny_problem, theta)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    panel = panel_titled(fig, "Lensed source (model)")
    handles, names = panel.get_legend_handles_labels()
    assert names == ["critical curve"]
    legend = panel.get_legend()
    box = legend.get_window_extent(renderer)
    curve = np.concatenate([line.get_xydata() for line in panel.lines])
    assert not box.count_contains(panel.transData.transform(curve))

    def luminance(rgb) -> float:
        return float(np.dot(rgb, [0.2126, 0.7152, 0.0722]))

    frame = legend.get_frame()
    alpha = frame.get_alpha() if frame.get_alpha() is not None else frame.get_facecolor()[3]
    brightest = np.array(panel.images[0].get_cmap()(1.0)[:3])
    behind = alpha * np.array(colors.to_rgb(frame.get_facecolor())) + (1 - alpha) * brightest
    line = np.array(colors.to_rgb(handles[0].get_color()))
    assert luminance(line) - luminance(behind) > 0.4
    assert all(colors.to_rgb(text.get_color()) == (1.0, 1.0, 1.0) for text in legend.get_texts())


def test_a_uniform_noise_map_is_shown_as_one_value(tiny_problem):
    """The tiny lens's noise map is 0.05 everywhere: its panel showed one colour beside a colour
    bar from 0.046 to 0.054 ticked five times, as if the noise varied. A constant map's panel now
    says 'uniform, 0.05' and its colour bar is that one colour, ticked at 0.05 alone; a map that
    varies keeps its scale."""
    import dataclasses

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tinylens.results.plots import dataset_figure

    def noise_panel(noise):
        fig = dataset_figure(dataclasses.replace(tiny_problem.dataset, noise=noise))
        FigureCanvasAgg(fig).draw()
        panel = fig.axes[1]
        image = panel.images[0]
        bar = image.colorbar
        ends = [image.cmap(image.norm(v)) for v in (bar.vmin, bar.vmax)]
        return panel.get_title(), [t.get_text() for t in bar.ax.get_yticklabels() if t.get_text()], ends

    noise = np.array(tiny_problem.dataset.noise)
    assert np.all(noise == noise.flat[0])  # the tiny lens's noise: 0.05 everywhere
    title, ticks, (bottom, top) = noise_panel(noise)
    assert title.startswith("Noise map") and title.endswith("uniform, 0.05")
    assert ticks == ["0.05"] and bottom == top
    varied = noise * np.linspace(1.0, 2.0, noise.shape[1])
    title, ticks, (bottom, top) = noise_panel(varied)
    assert "uniform" not in title and len(ticks) >= 3 and bottom != top


def test_every_public_function_of_the_plots_module_has_a_docstring():
    """The README shows the figures as ``from tinylens.results import plots``; help() of its
    save_dataset_figure, save_model_figure and save_corner_figure said nothing."""
    import inspect

    from tinylens.results import plots

    public = [name for name, value in vars(plots).items()
              if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == plots.__name__]
    assert "save_corner_figure" in public and "corner_figure" in public
    assert [name for name in public if not inspect.getdoc(getattr(plots, name))] == []


def test_the_mask_panels_colour_bar_names_its_two_values_only(tiny_problem):
    """The mask panel's colour bar ran from 0 to 1 in steps of 0.2 ('1 = used'), values a mask
    never has; it now has two ticks, 'left out' at 0 and 'used' at 1, whatever the mask holds."""
    import dataclasses

    from tinylens.results.plots import dataset_figure

    d = tiny_problem.dataset
    for mask in (np.ones_like(np.array(d.mask)), np.array(d.mask)):
        mask = mask.copy()
        mask[0, 0] = False
        fig = dataset_figure(dataclasses.replace(d, mask=mask))
        fig.canvas.draw()
        bar = fig.axes[4].images[0].colorbar
        assert "Mask" in fig.axes[4].get_title()
        assert list(bar.get_ticks()) == [0, 1]
        assert [t.get_text() for t in bar.ax.get_yticklabels()] == ["left out", "used"]
        assert not bar.ax.yaxis.get_minorticklocs().size


def test_the_source_panels_legend_shows_its_cyan_caustic_and_cut_on_a_dark_frame(tmp_path):
    """The source panel's legend drew its cyan 'caustic' and dashed 'cut' on matplotlib's white
    frame at 60 % opacity, which over the panel's dark purple is a pale lilac: a cyan line of
    luminance 0.79 on a frame of 0.6 or more, the dashed 'cut' all but lost in it
    (model_results.png of a 2-lens survey). Its frame is now dark, as the lensed source panel's,
    so that both lines stand out even over the brightest colour of the panel, and its text white."""
    from matplotlib import colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tinylens.results.plots import model_figure

    mass = {"type": "SIE", "theta_E": 1.0, "e1": 0.2, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}
    problem, theta = _lens_problem(tmp_path, mass)
    fig = model_figure(problem, theta)
    FigureCanvasAgg(fig).draw()
    panel = panel_titled(fig, "Reconstructed source (source plane)")
    legend = panel.get_legend()
    names = [text.get_text() for text in legend.get_texts()]
    assert names == ["caustic", "cut"]

    def luminance(rgb) -> float:
        return float(np.dot(rgb, [0.2126, 0.7152, 0.0722]))

    frame = legend.get_frame()
    alpha = frame.get_alpha() if frame.get_alpha() is not None else frame.get_facecolor()[3]
    for behind_frame in (panel.images[0].get_cmap()(0.0)[:3], panel.images[0].get_cmap()(1.0)[:3]):
        behind = alpha * np.array(colors.to_rgb(frame.get_facecolor())) + (1 - alpha) * np.array(behind_frame)
        for handle in legend.legend_handles:
            assert luminance(colors.to_rgb(handle.get_color())) - luminance(behind) > 0.4, names
        for text in legend.get_texts():
            assert luminance(colors.to_rgb(text.get_color())) - luminance(behind) > 0.4, names


def test_corner_titles_and_lines_are_the_summary_tables_percentiles():
    """The corner plot's titles and dashed 16/50/84 % lines came from corner's own quantiles, which
    interpolate between weighted samples, while result_summary.csv takes the weighted percentiles
    of the samples themselves: a posterior on one sample, 1.0003 with no width in the table, was
    titled 1.002 +- 0.001. Titles and lines now give the table's numbers."""
    from tinylens.results import tables
    from tinylens.results.plots import CORNER_COLOR, corner_figure

    def diagonal(fig, k):
        return np.array(fig.axes).reshape(k, k).diagonal()

    def dashed(ax):
        return sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--")

    def table(names, samples, weights):
        frame = tables.summary_frame(tables.summarize(dict(zip(names, samples.T)), weights), {}, None)
        return frame.set_index("parameter")[["percentile_16", "median", "percentile_84"]]

    # a skewed weighted sample: sorted, its cumulative weights 0.10, 0.22, 0.52, 0.62, 0.90, 1: the
    # 16, 50 and 84 % points are the samples 1.21, 1.23 and 1.30 (corner interpolated 1.2254 for the median)
    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    weights = np.array([0.10, 0.12, 0.30, 0.10, 0.28, 0.10])
    samples = np.column_stack([[1.20, 1.21, 1.23, 1.26, 1.30, 1.35], [0.3, 0.1, 0.2, 0.0, 0.5, 0.4]])
    order = np.array([5, 0, 2, 1, 4, 3])  # shuffled: the samples come in no order
    fig = corner_figure(names, samples[order], weights[order])
    theta = diagonal(fig, 2)[0]
    assert theta.get_title() == r"mass0 $\theta_{\rm E}$ = ${1.230}_{-0.020}^{+0.070}$"
    assert dashed(theta) == pytest.approx([1.21, 1.23, 1.30])
    assert table(names, samples, weights).loc["lens_mass.0.theta_E"].tolist() == pytest.approx([1.21, 1.23, 1.30])
    # e1 sorted: 0.0 (0.10), 0.1 (0.12), 0.2 (0.30), 0.3 (0.10), 0.4 (0.10), 0.5 (0.28): cumulative 0.10,
    # 0.22, 0.52, 0.62, 0.72, 1: 16, 50, 84 % at 0.1, 0.2, 0.5; its smaller error 0.1 gives two decimals
    e1 = diagonal(fig, 2)[1]
    assert e1.get_title() == r"mass0 $e_1$ = ${0.20}_{-0.10}^{+0.30}$"
    assert dashed(e1) == pytest.approx([0.1, 0.2, 0.5])
    assert all(line.get_color() == CORNER_COLOR for line in theta.lines if line.get_linestyle() == "--")

    # a capped fit's posterior on one sample: the table's median and both bounds are that sample
    rng = np.random.default_rng(7)
    samples = np.column_stack([rng.uniform(0.99, 1.01, 40), rng.uniform(-0.1, 0.1, 40)])
    samples[17] = [1.0003, 0.0412]
    weights = np.full(40, 0.05 / 39)
    weights[17] = 0.95
    fig = corner_figure(names, samples, weights)
    theta, e1 = diagonal(fig, 2)
    assert theta.get_title() == r"mass0 $\theta_{\rm E}$ = ${1.000}_{-0.000}^{+0.000}$"
    assert dashed(theta) == pytest.approx([1.0003] * 3, abs=1e-12)
    assert e1.get_title() == r"mass0 $e_1$ = ${0.041}_{-0.000}^{+0.000}$"
    assert table(names, samples, weights).loc["lens_mass.0.theta_E"].tolist() == pytest.approx([1.0003] * 3, abs=1e-12)


def test_a_corner_plot_of_nan_draws_or_weights_names_what_is_wrong():
    """corner_figure with a parameter whose samples are all NaN (a samples table's column emptied by
    hand, read back by read_result) or a NaN weight raised matplotlib's bare 'Axis limits cannot be
    NaN or Inf', an infinite weight or all-zero weights corner's own message, naming nothing; a
    negative weight was drawn as if it were a weight. Each is a ConfigValueError naming the
    parameter or the weight; a column with only some NaN samples is still drawn."""
    from tinylens.results.plots import corner_figure

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1", "lens_mass.0.e2"]
    draws = np.random.default_rng(3).normal(size=(400, 3))
    ones = np.ones(400)
    nan_column, some_nan = draws.copy(), draws.copy()
    nan_column[:, 1] = np.nan
    some_nan[5, 2] = np.nan
    nan_weight, inf_weight, negative = ones.copy(), ones.copy(), ones.copy()
    nan_weight[7], inf_weight[0], negative[12] = np.nan, np.inf, -0.5
    for samples, weights, message in [
        (nan_column, ones, "the samples of lens_mass.0.e1 are all NaN or infinite: nothing of it to draw"),
        (draws, nan_weight, "weights must be finite numbers >= 0; 1 weight of 400 is NaN, infinite or negative (the "
                            "first, nan, of sample 7, counting from 0)"),
        (draws, inf_weight, "1 weight of 400 is NaN, infinite or negative (the first, inf, of sample 0"),
        (draws, negative, "(the first, -0.5, of sample 12"),
        (draws, np.zeros(400), "weights are all zero (400 samples): no sample has a weight to draw"),
    ]:
        with pytest.raises(tinylens.ConfigValueError) as info:
            corner_figure(names, samples, weights)
        assert message in str(info.value) and "Axis limits" not in str(info.value)
    figure = corner_figure(names, some_nan, ones)
    assert len(figure.axes) == 9


def test_corner_figure_names_a_wrong_truths_names_samples_or_weights_argument():
    """corner_figure(names, samples, weights, truths) with one truth too few raised corner's 'Provided
    figure has 4 axes, but data has dimensions K=1', a truth, sample or weight that is text numpy's
    bare 'could not convert string to float', and one name given as a str was read as its 19
    characters ('one column for each of the 19 names'); each is now a ConfigValueError (the str a
    ConfigTypeError) naming the argument, and the name whose truth is wrong."""
    from tinylens.results.plots import corner_figure

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    draws = np.random.default_rng(4).normal(size=(300, 2))
    for make, kind, message in [
        (lambda: corner_figure(names, draws, None, [1.0]), tinylens.ConfigValueError,
         "truths must hold one value for each of the 2 names (None where none is marked), or be a mapping of name "
         "to value; got 1 value"),
        (lambda: corner_figure(names, draws, None, [1.0, "0.1x"]), tinylens.ConfigValueError,
         "truths: the value for lens_mass.0.e1 must be a number or None; got str '0.1x'"),
        (lambda: corner_figure(names, [["a", "b"]] * 5, None), tinylens.ConfigValueError,
         "samples must be an array of numbers; got [['a', 'b'], ['a', 'b'], ['a', 'b'], ['a', 'b'], ['a', 'b']]"),
        (lambda: corner_figure(names, draws, ["1"] * 299 + ["heavy"]), tinylens.ConfigValueError,
         "weights must be an array of numbers; got ['1', '1', '1', '1', '1', '1', ...]"),
        (lambda: corner_figure("lens_mass.0.theta_E", draws[:, :1], None), tinylens.ConfigTypeError,
         "names must be a list of parameter names (result.param_names); got the str 'lens_mass.0.theta_E': give "
         "['lens_mass.0.theta_E'] for one"),
    ]:
        with pytest.raises(kind) as info:
            make()
        assert str(info.value) == message
    figure = corner_figure(names, draws, None, [1.0, None])  # None: that parameter's truth not marked
    assert len(figure.axes) == 4


def test_corner_figure_says_rows_of_unequal_length_are_so_not_that_they_are_no_numbers():
    """361ab03 named corner_figure's argument where numpy could not make floats of it, but worded
    every such failure 'must be an array of numbers', also for samples whose rows are numbers of
    unequal lengths (a row one value short), whose numbers it then showed; numpy had said
    'inhomogeneous shape'. Uneven rows are said to be so, with their shapes; text is still said
    to be no numbers."""
    from tinylens.results.plots import corner_figure

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    uneven = [[1.0, 0.1], [1.1], [0.9, -0.1]] * 100
    with pytest.raises(tinylens.ConfigValueError) as info:
        corner_figure(names, uneven, None)
    assert str(info.value).startswith("samples must be a rectangular array of numbers; its rows are not all of one "
                                      "shape (shapes (1,), (2,)): got [[1.0, 0.1], [1.1], ")
    with pytest.raises(tinylens.ConfigValueError) as info:
        corner_figure(names, np.zeros((300, 2)), [1.0] * 299 + [[1.0, 2.0]])
    assert str(info.value).startswith("weights must be a rectangular array of numbers; its rows are not all of one "
                                      "shape (shapes (), (2,))")
    with pytest.raises(tinylens.ConfigValueError) as info:
        corner_figure(names, [["a", "b"]] * 5, None)
    assert str(info.value).startswith("samples must be an array of numbers; got [['a', 'b'], ")


def test_corner_titles_of_a_tiny_posterior_keep_its_figures():
    """A corner title wrote its median and errors with the 8 decimal places that _places caps at,
    so a posterior of samples near 1.2346e-9 wide 1.1e-11 was titled 0.00000000 -0.00000000
    +0.00000000, every figure lost; it is now written as tinylens fit's table writes it (_shown,
    _half_width): the median to the error's second figure with an exponent, the errors to two
    figures. A posterior of plain size keeps its fixed places (1.2000 -0.0098 +0.0098)."""
    import re

    from tinylens.results.plots import corner_figure

    rng = np.random.default_rng(3)
    tiny = 1.2346e-9 + 1.1e-11 * rng.standard_normal(20000)
    plain = 1.2 + 0.01 * rng.standard_normal(20000)
    fig = corner_figure(["lens_mass.0.theta_E", "lens_mass.0.e1"], np.column_stack([tiny, plain]), None)
    theta, e1 = (ax.get_title() for ax in np.array(fig.axes).reshape(2, 2).diagonal())
    found = re.fullmatch(r".* = \$\{(\S+)\}_\{-(\S+)\}\^\{\+(\S+)\}\$", theta)
    assert found and "0.00000000" not in theta, theta
    median, below, above = map(float, found.groups())
    p16, p50, p84 = np.percentile(tiny, [16, 50, 84])
    assert median == pytest.approx(p50, abs=0.6e-12), theta  # to the error's second figure: 1e-12
    assert below == pytest.approx(p50 - p16, rel=0.05) and above == pytest.approx(p84 - p50, rel=0.05), theta
    assert re.fullmatch(r"1\.23\de-09", found.group(1)) and re.fullmatch(r"1\.\de-11", found.group(2)), theta
    found = re.fullmatch(r".* = \$\{(\S+)\}_\{-(\S+)\}\^\{\+(\S+)\}\$", e1)
    assert found and all(re.fullmatch(r"\d\.\d{4}", text) for text in found.groups()), e1


def test_corner_of_some_parameters_draws_with_a_truth_of_others_alone():
    """A corner of the shear alone given a fit's result.truth of a lens simulated without shear
    (truth of lens_mass.0.* only) drew with no truth marked, as for any name a mapping lacks, until
    a mapping naming none of the names drawn was refused, with 'Did you mean lens_mass.1.gamma2
    instead of lens_mass.0.theta_E'; it is drawn again, unmarked, and a misspelt key beside such
    names is still refused, its hint for it alone."""
    from tinylens.results.plots import TRUTH_COLOR, corner_figure

    rng = np.random.default_rng(4)
    names = ["lens_mass.1.gamma1", "lens_mass.1.gamma2"]
    samples = rng.normal([0.01, -0.02], 0.01, size=(400, 2))
    truth = {"lens_mass.0.theta_E": 1.2, "lens_mass.0.e1": 0.1, "source_light.0.R_sersic": 0.2, "lens_light.0.Ie": 1.0}
    fig = corner_figure(names, samples, np.ones(400), truth)
    marked = [line for ax in fig.axes for line in ax.lines if line.get_color() == TRUTH_COLOR]
    assert not [line for line in marked if np.isfinite(np.r_[line.get_xdata(), line.get_ydata()]).any()]  # NaN: not shown
    assert len(fig.axes) == 4
    with pytest.raises(tinylens.ConfigValueError) as info:
        corner_figure(names, samples, np.ones(400), {**truth, "lens_mass.1.gama1": 0.0})
    assert str(info.value).endswith("Did you mean 'lens_mass.1.gamma1' instead of 'lens_mass.1.gama1'?")


@pytest.mark.parametrize("varied", [False, True])
def test_pixels_of_no_noise_value_are_grey_and_counted_not_white_as_the_masks_used_pixels(tmp_path, varied):
    """A noise map with NaN pixels is loaded with those pixels masked and their noise made +inf (the
    data's NaN pixels are made 0 and masked, and drawn grey in their own panels). dataset_subplot.png drew
    those noise pixels in matplotlib's 'bad' colour, transparent on a white page, the white that the
    mask panel beside it gives the pixels used, and its title said nothing. They are now grey in the
    noise and S/N panels, and the noise panel's title counts them and says they are left out; a
    dataset without such pixels keeps its titles."""
    import warnings

    from matplotlib.colors import to_rgba

    from tiny_lens import tiny_data
    from tinylens.results.plots import dataset_figure

    data = tiny_data()
    noise = np.array(data["noise"], dtype=float) * (np.linspace(1.0, 2.0, data["noise"].shape[1]) if varied else 1.0)
    noise[20:23, 5:8] = np.nan
    image = np.array(data["image"], dtype=float)
    image[10:12, 10:12] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's warnings of the masked pixels
        dataset = tinylens.load(write_tiny_lens(tmp_path / "lens", data={**data, "image": image, "noise": noise})).dataset
    assert np.isfinite(dataset.data).all() and not dataset.mask[20:23, 5:8].any()  # loaded as the fit sees it
    fig = dataset_figure(dataset)
    data_panel, noise_panel, snr_panel, _, mask_panel = fig.axes[:5]
    used = mask_panel.images[0]
    white = used.to_rgba(used.get_array())[dataset.mask][0]  # the mask's 'used' colour
    assert tuple(white) == to_rgba("white")
    im = noise_panel.images[0]
    shown = im.to_rgba(np.ma.masked_invalid(im.get_array()))  # the colours matplotlib draws
    assert np.argwhere(~np.isfinite(dataset.noise)).tolist() == [[y, x] for y in range(20, 23) for x in range(5, 8)]
    for colour in shown[20:23, 5:8].reshape(-1, 4):
        assert colour[3] == 1 and tuple(colour) != tuple(white)  # opaque (not the page's white), not the mask's white
        assert tuple(colour) == to_rgba("0.6")
    assert noise_panel.get_title().splitlines()[-1] == "9 pixels not finite (grey), left out of the fit"
    assert np.all(np.ma.getdata(snr_panel.images[0].get_array())[20:23, 5:8] == 0)  # 0 / inf: no value without a colour
    # the data's 4 NaN pixels, made 0 by the loader, are grey too (and so their S/N), counted apart
    four = "\n4 pixels not finite (grey), left out of the fit"
    assert data_panel.get_title() == "Data (asinh stretch)" + four and snr_panel.get_title() == "Signal-to-noise" + four
    clean = dataset_figure(tinylens.load(write_tiny_lens(tmp_path / "clean")).dataset)
    assert "\n" not in clean.axes[1].get_title()


def test_nan_data_pixels_are_drawn_grey_in_the_fit_and_dataset_figures_not_as_zero_inside_the_mask(tmp_path):
    """The tiny lens with 6 NaN pixels of data beside its arc (loading masks them, with a warning,
    and holds them as 0): the fit figure's Data and Data - lens light panels drew them as a dark 0
    inside the mask's outline, read as no flux there, and the dataset figure's data panel did too,
    titled with no pixel not finite. They are now the no-value grey the noise panel uses, counted in
    the titles (the Data - lens light panel's too, which greyed them uncounted); every other pixel
    is the file's value."""
    import warnings

    import matplotlib.colors as mcolors

    from tiny_lens import tiny_data
    from tinylens.results.plots import NO_VALUE_COLOUR, dataset_figure, model_figure

    data = tiny_data()
    image = np.array(data["image"], dtype=float)
    cy, cx = np.array(image.shape) // 2
    hole = np.zeros(image.shape, bool)
    hole[cy - 3:cy - 1, cx + 4:cx + 7] = True
    image[hole] = np.nan
    data["image"] = image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problem = tinylens.load(write_tiny_lens(tmp_path / "lens", data=data))
    assert any("6 pixels with a NaN or infinite data value" in str(w.message) for w in caught)
    theta = np.array([FREE_TRUTH[n] for n in problem.param_names])
    grey = mcolors.to_rgba(NO_VALUE_COLOUR)
    fit = model_figure(problem, theta)
    counted = "\n6 pixels not finite (grey), left out of the fit"
    titles = ["Data" + counted, "Data - lens light" + counted]  # both panels grey the 6, both titles count them
    assert set(titles) <= {ax.get_title() for ax in fit.axes}, [ax.get_title() for ax in fit.axes]
    shown = [(panel_titled(fit, title), title) for title in titles]
    panels = [*shown, (dataset_figure(problem.dataset).axes[0], "Data (asinh stretch)\n6 pixels not finite (grey), "
                                                                "left out of the fit")]
    lens_light = problem.model_image(theta)["lens_light"]
    for ax, title in panels:
        assert ax.get_title() == title
        im = ax.images[0]
        drawn = np.ma.filled(np.ma.masked_invalid(im.get_array()).astype(float), np.nan)
        assert np.isnan(drawn[hole]).all() and np.isfinite(drawn[~hole]).all()
        expected = image - (lens_light if title.startswith("Data - lens light") else 0.0)
        assert drawn[~hole] == pytest.approx(expected[~hole], rel=1e-6, abs=1e-12)
        assert im.cmap.get_bad() == pytest.approx(grey)
        assert tuple(im.to_rgba(np.array([[np.nan]]))[0, 0]) == pytest.approx(grey)
