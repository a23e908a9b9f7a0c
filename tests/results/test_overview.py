"""The overview of a survey with no truth (``tinylens report CATALOG``), against numbers worked
out by hand and numpy, and the command's files."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tinylens.cli.main import app
from tinylens.results import overview as ov
from tinylens.results.report import PAPER_QUANTITIES, quantity_for


def _catalog() -> pd.DataFrame:
    """Six ok lenses (two untrusted), one failed, one with an unknown status; CSV-like cells."""
    return pd.DataFrame({
        "lens_id": ["a", "b", "c", "d", "e", "f", "g", "h"],
        "status": ["ok", "ok", "ok", "ok", "ok", "ok", "failed", "queued"],
        "reason": ["", "", "", "", "", "", "DataError: image.fits is not a FITS file", ""],
        "trusted": ["True", "True", "False", "True", "False", "1.0", None, None],
        "flags": ["", "light_prior_edge", "unmodelled_flux,arc_residuals", "light_prior_edge",
                  "unmodelled_flux", np.nan, None, None],
        # c is untrusted for arc_residuals alone: its unmodelled_flux is not why
        "critical_flags": ["", "", "arc_residuals", "", "unmodelled_flux", np.nan, None, None],
        # relative 68 % half-widths: 0.01, 0.02, 0.005, 0.04, 0.1, 0.03
        "lens_mass.0.theta_E_median": [1.0, 2.0, 1.0, 0.5, 1.0, 1.5, np.nan, np.nan],
        "lens_mass.0.theta_E_lo68": [0.99, 1.96, 0.995, 0.48, 0.9, 1.455, np.nan, np.nan],
        "lens_mass.0.theta_E_hi68": [1.01, 2.04, 1.005, 0.52, 1.1, 1.545, np.nan, np.nan],
        "lens_mass.0.q_median": [0.5, 0.6, 0.7, 0.8, 0.9, 0.75, np.nan, np.nan],
        "lens_mass.0.q_lo68": [0.49, 0.58, 0.69, 0.79, 0.85, 0.74, np.nan, np.nan],
        "lens_mass.0.q_hi68": [0.51, 0.62, 0.71, 0.81, 0.95, 0.76, np.nan, np.nan],
        "wall_time_s": [60.0, 120.0, 90.0, 30.0, 300.0, 150.0, np.nan, np.nan],
        "total_time_s": [70.0, 130.0, 100.0, 40.0, 310.0, 160.0, np.nan, np.nan],
        "n_likelihood_evals": [1000, 2000, 3000, 4000, 5000, 6000, np.nan, np.nan],
    })


def test_counts_and_flags_by_hand():
    catalog = _catalog()
    assert ov.counts(catalog) == {"n_lenses": 8, "n_ok": 6, "n_failed": 1, "n_other_status": 1,
                                  "n_trusted": 4, "n_untrusted": 2, "n_trust_not_recorded": 0}
    flags = ov.flag_table(catalog)
    assert flags.to_dict(orient="records") == [
        {"flag": "light_prior_edge", "n_lenses": 2, "n_untrusted": 0, "n_critical": 0},  # on trusted lenses only
        {"flag": "unmodelled_flux", "n_lenses": 2, "n_untrusted": 2, "n_critical": 1},
        {"flag": "arc_residuals", "n_lenses": 1, "n_untrusted": 1, "n_critical": 1},
    ]
    older = ov.flag_table(catalog.drop(columns="critical_flags"))  # a catalogue from before the column
    assert older["n_critical"].isna().all() and older["n_untrusted"].tolist() == [0, 2, 1]
    assert ov.split_flags(" a, b ,,") == ["a", "b"] and ov.split_flags(np.nan) == [] and ov.split_flags(None) == []


def test_parameter_spread_and_precision_match_numpy():
    catalog = _catalog()
    table = ov.parameter_table(catalog, [quantity_for("lens_mass.0.theta_E"), quantity_for("lens_mass.0.q")])
    theta, q = table.to_dict(orient="records")
    medians = np.array([1.0, 2.0, 1.0, 0.5, 1.0, 1.5])
    assert theta["n"] == 6
    assert theta["median"] == pytest.approx(1.0)
    assert (theta["percentile_16"], theta["percentile_84"]) == pytest.approx(tuple(np.percentile(medians, [16, 84])))
    assert theta["half_width_68"] == pytest.approx(np.median([0.01, 0.04, 0.005, 0.02, 0.1, 0.045]))
    assert theta["relative_half_width_68"] == pytest.approx(np.median([0.01, 0.02, 0.005, 0.04, 0.1, 0.03]))
    assert q["half_width_68"] == pytest.approx(np.median([0.01, 0.02, 0.01, 0.01, 0.05, 0.01]))
    assert np.isnan(q["relative_half_width_68"])  # an axis ratio's width is not relative
    # only the paper's parameters that the catalogue holds are summarised by default
    assert ov.default_quantities(catalog) == [PAPER_QUANTITIES[0], PAPER_QUANTITIES[1]]


def test_time_and_failure_reasons():
    catalog = _catalog()
    t = ov.time_summary(catalog)
    wall = [60.0, 120.0, 90.0, 30.0, 300.0, 150.0]
    search = t["search"]
    assert search["n"] == 6 and search["median_s"] == pytest.approx(105.0) and search["total_h"] == pytest.approx(750 / 3600)
    assert (search["percentile_16_s"], search["percentile_84_s"]) == pytest.approx(tuple(np.percentile(wall, [16, 84])))
    assert t["whole_fit"]["median_s"] == pytest.approx(115.0) and t["whole_fit"]["total_h"] == pytest.approx(810 / 3600)
    assert t["median_likelihood_evals"] == pytest.approx(3500)
    older = ov.time_summary(catalog.drop(columns="total_time_s"))  # a catalogue from before the column
    assert older["whole_fit"]["n"] == 0 and older["search"] == search
    assert ov.failure_reasons(catalog) == [{"reason": "DataError: image.fits is not a FITS file", "n": 1}]


def test_to_inspect_lists_the_untrusted_and_failed_with_their_figures(tmp_path):
    catalog = _catalog()
    (tmp_path / "lenses" / "c").mkdir(parents=True)
    (tmp_path / "lenses" / "c" / "model_results.png").write_bytes(b"png")
    (tmp_path / "lenses" / "e").mkdir(parents=True)  # its figure renamed in its config: result.json says so
    (tmp_path / "lenses" / "e" / "fit.png").write_bytes(b"png")
    (tmp_path / "lenses" / "e" / "result.json").write_text(json.dumps({"files": {"results": "fit.png"}}))
    inspect = ov.to_inspect(catalog, tmp_path)
    assert inspect["lens_id"].tolist() == ["c", "e", "g", "h"]
    rows = inspect.set_index("lens_id")
    assert rows.loc["c", "figure"] == str(tmp_path / "lenses" / "c" / "model_results.png")
    assert rows.loc["e", "figure"] == str(tmp_path / "lenses" / "e" / "fit.png")
    assert rows.loc["c", "flags"] == "unmodelled_flux,arc_residuals" and rows.loc["c", "trusted"] is False
    assert rows.loc["c", "critical_flags"] == "arc_residuals" and rows.loc["g", "critical_flags"] == ""
    assert rows.loc["g", "reason"].startswith("DataError") and rows.loc["g", "folder"] == ""


def test_parameters_figure_has_a_panel_per_parameter_holding_every_ok_lens():
    catalog = _catalog()
    quantities = [quantity_for("lens_mass.0.theta_E"), quantity_for("lens_mass.0.q"), PAPER_QUANTITIES[2],
                  PAPER_QUANTITIES[3]]
    catalog[f"{quantities[2].name}_median"] = [10.0, np.nan, 30.0, 40.0, 50.0, 60.0, np.nan, np.nan]
    fig = ov.parameters_figure(catalog, quantities)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 4 and len(fig.axes) == 6  # a 2 x 3 grid, its last two hidden
    for ax, n_lenses in zip(panels, [6, 6, 5, 0]):  # the third lacks one median; the fourth is not in the catalogue
        # the stacked histogram's two layers (trusted, untrusted) hold every lens with a finite median
        assert sum(bar.get_height() for layer in ax.containers for bar in layer) == n_lenses
    assert panels[0].get_title() == "median 68 % half-width 2.5 %"  # relative, as in the parameter table
    assert panels[1].get_title() == "median 68 % half-width 0.01" and panels[3].get_title() == ""
    # an angle's width has its unit (it read "median 68 % half-width 1")
    catalog["lens_mass.0.phi_deg_lo68"] = catalog["lens_mass.0.phi_deg_median"] - 1.007
    catalog["lens_mass.0.phi_deg_hi68"] = catalog["lens_mass.0.phi_deg_median"] + 1.007
    fig = ov.parameters_figure(catalog, quantities)
    assert [ax for ax in fig.axes if ax.get_visible()][2].get_title() == ("median 68 % half-width 1.01 deg\n"
                                                                       "5 of the 6 ok lenses have a median")


def test_overview_figure_flags_panel_shows_why_lenses_are_untrusted():
    q = quantity_for("lens_mass.0.theta_E")
    for catalog, label, red in ((_catalog(), "critical on (made untrusted)", [1, 1, 0]),  # bottom to top
                                (_catalog().drop(columns="critical_flags"), "of them untrusted", [1, 2, 0])):
        fig = ov.overview_figure(catalog, q, ov.flag_table(catalog))
        panel = fig.axes[2]
        bars = {c.get_label(): [bar.get_width() for bar in c] for c in panel.containers}
        assert bars["all ok lenses"] == [1, 2, 2] and bars[label] == red
        assert [t.get_text() for t in panel.get_yticklabels()] == ["arc_residuals", "unmodelled_flux",
                                                                   "light_prior_edge"]


def test_overview_figure_flags_panel_says_how_many_flags_it_leaves_out():
    """The flags panel shows the 12 most frequent flags; a survey raising more lost the rest
    silently. Its axis label now says how many more there are (and nothing where all are shown)."""
    q = quantity_for("lens_mass.0.theta_E")
    catalog = _catalog()
    fig = ov.overview_figure(catalog, q, ov.flag_table(catalog))
    assert fig.axes[2].get_xlabel() == "lenses with the flag"
    many = [f"flag_{i:02d}" for i in range(15)]  # flag_00 on 6 lenses, ..., flag_05 on 1, the rest on 1
    catalog["flags"] = [",".join(many)] + [",".join(many[:6 - k]) for k in range(1, 6)] + [None, None]
    catalog["critical_flags"] = ""
    flags = ov.flag_table(catalog)
    assert len(flags) == 15
    panel = ov.overview_figure(catalog, q, flags).axes[2]
    assert len(panel.get_yticklabels()) == 12 and panel.get_yticklabels()[-1].get_text() == "flag_00"
    assert panel.get_xlabel() == "lenses with the flag\n(the 12 most frequent; 3 more flags in the flags table)"


def test_the_flags_panels_label_counts_one_flag_left_out_in_the_singular():
    """With 13 kinds of flag the panel's label read '(the 12 most frequent; 1 more flags in the
    flags table)'; one left out is '1 more flag'."""
    assert ov.flags_label(13) == "lenses with the flag\n(the 12 most frequent; 1 more flag in the flags table)"
    assert ov.flags_label(14) == "lenses with the flag\n(the 12 most frequent; 2 more flags in the flags table)"
    assert ov.flags_label(12) == ov.flags_label(0) == "lenses with the flag"


def test_overview_width_panel_gives_its_unit_in_plain_digits():
    """The width panel gave an Einstein radius's relative widths as fractions (0.02) where the
    parameters figure and the table give per cent, ticked '2.075 x 10^-2' over a range within a
    decade, and an angle's widths with no unit; now per cent, plain digits, and the unit."""
    catalog = _catalog()
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    fig.canvas.draw()
    panel = fig.axes[1]
    assert panel.get_ylabel() == "68 % half-width / median [%]"
    widths = np.concatenate([c.get_offsets()[:, 1] for c in panel.collections])
    assert sorted(widths) == pytest.approx([0.5, 1, 2, 3, 4, 10])  # the lenses' relative half-widths, in %
    ticks = [t.get_text() for t in panel.get_yticklabels() + panel.get_yticklabels(minor=True) if t.get_text()]
    assert "10" in ticks and not [t for t in ticks if "times" in t or "^" in t], ticks
    catalog["lens_mass.0.phi_deg_median"] = catalog["lens_mass.0.q_median"] * 100
    catalog["lens_mass.0.phi_deg_lo68"] = catalog["lens_mass.0.phi_deg_median"] - 2.0
    catalog["lens_mass.0.phi_deg_hi68"] = catalog["lens_mass.0.phi_deg_median"] + 2.0
    fig = ov.overview_figure(catalog, PAPER_QUANTITIES[2], ov.flag_table(catalog))
    assert fig.axes[1].get_ylabel() == "68 % half-width [deg]"


def test_overview_figures_show_inline_in_a_notebook():
    """Made without pyplot, they showed in a fresh notebook kernel only as ``<Figure size ...>``
    text, as the fit's figures once did."""
    catalog, q = _catalog(), quantity_for("lens_mass.0.theta_E")
    for fig in (ov.overview_figure(catalog, q, ov.flag_table(catalog)), ov.parameters_figure(catalog, [q])):
        assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_truth_writes_the_overview(tmp_path):
    catalog = _catalog()
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "8 lenses in" in text and "6 ok (4 trusted, 2 not), 1 failed, 1 with another status" in text
    assert "unmodelled_flux" in text and "Time per lens, the whole fit: median 115 s" in text
    assert "the search: median 105 s" in text
    assert "Failed (1): DataError: image.fits is not a FITS file" in text and "To inspect: 4 lenses" in text
    out = tmp_path / "report"
    saved = json.loads((out / "overview.json").read_text())
    assert saved["n_trusted"] == 4 and saved["n_to_inspect"] == 4 and saved["time"]["search"]["median_s"] == 105.0
    assert [p["parameter"] for p in saved["parameters"]] == ["lens_mass.0.theta_E", "lens_mass.0.q"]
    assert pd.read_csv(out / "inspect.csv")["lens_id"].tolist() == ["c", "e", "g", "h"]
    flags = pd.read_csv(out / "overview_flags.csv")
    assert flags["flag"].tolist()[0] == "light_prior_edge" and flags["n_critical"].tolist() == [0, 1, 1]
    assert [f["n_critical"] for f in saved["flags"]] == [0, 1, 1]
    assert (out / "overview.png").stat().st_size > 10_000
    assert (out / "overview_parameters.png").stat().st_size > 10_000

    # --trusted-only and --where select as they do for a comparison
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--trusted-only",
                                      "--where", "wall_time_s < 125", "-o", str(tmp_path / "r2")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r2" / "overview.json").read_text())
    assert saved["n_selected"] == 3 and saved["n_lenses"] == 8 and saved["n_ok"] == saved["n_trusted"] == 3
    assert "3 of 8 lenses in" in " ".join(result.output.split())


@pytest.mark.parametrize("where, selected", [
    ("trusted", ["a"]),
    ("not trusted", ["b"]),  # the failed lens is neither
    ("trusted | (status == 'failed')", ["a", "c"]),
    ("flags == ''", ["a", "c"]),
    ("warnings == ''", ["a", "b", "c"]),  # empty in every row: read from a CSV as numbers
])
def test_a_where_selects_the_same_lenses_of_catalog_csv_as_of_catalog_parquet(tmp_path, where, selected):
    """A CSV keeps no types: its empty text cells were NaN and 'trusted' (empty for a failed lens)
    loose objects, so '--where trusted' was refused on catalog.csv, 'not trusted' a TypeError,
    and 'trusted | (status == 'failed')' and "flags == ''" silently left lenses out."""
    from tinylens.survey.catalog import write_catalog
    from tinylens.survey.rows import failed_row

    theta = {"lens_mass.0.theta_E_median": 1.0, "lens_mass.0.theta_E_lo68": 0.9, "lens_mass.0.theta_E_hi68": 1.1}
    rows = {"a": {"status": "ok", "trusted": True, "flags": "", "critical_flags": "", **theta},
            "b": {"status": "ok", "trusted": False, "flags": "arc_residuals", "critical_flags": "arc_residuals", **theta},
            "c": failed_row("c", "DataError: image.fits is not a FITS file")}
    write_catalog(rows, tmp_path)
    for name in ("catalog.parquet", "catalog.csv"):
        out = tmp_path / f"report_{name}"
        result = CliRunner().invoke(app, ["report", str(tmp_path / name), "--where", where, "-o", str(out)])
        assert result.exit_code == 0, (name, result.output)
        saved = json.loads((out / "overview.json").read_text())
        assert saved["n_selected"] == len(selected), name
        assert saved["n_failed"] == ("c" in selected) and saved["n_trusted"] == ("a" in selected), name
        assert saved["n_ok"] == len(selected) - saved["n_failed"], name


def test_report_parameter_missing_from_the_catalogue_is_named(tmp_path):
    _catalog().to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--parameter", "source_light.0.q"])
    text = " ".join(result.output.split())
    assert result.exit_code != 0 and "Traceback" not in text
    assert "no column 'source_light.0.q_median', so --parameter source_light.0.q cannot be summarised" in text
    assert "lens_mass.0.theta_E" in text and not (tmp_path / "report").exists()


def test_a_cell_that_is_not_a_number_is_named_by_its_lens_id(tmp_path):
    """It was named by its row number ('holds 'abc' for 1')."""
    catalog = _catalog().astype({"lens_mass.0.theta_E_median": object})
    catalog.loc[1, "lens_mass.0.theta_E_median"] = "abc"
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in text, result.output
    assert "The catalogue column lens_mass.0.theta_E_median holds 'abc' for b, which is not a number" in text
    assert not (tmp_path / "report").exists()


def test_the_overview_of_one_ok_lens_gives_no_spread_of_the_lenses_medians(tmp_path):
    """report (no truth) of a catalogue with one ok lens (theta_E 1.187): the printed '16-84 % of
    lenses' read '1.19 to 1.19', a spread of one value that reads as lenses agreeing; it is now '-',
    as the comparison's NMAD of one lens, and overview_parameters.csv keeps its percentiles. Two
    lenses still get theirs, as numpy's percentiles of their medians."""
    from tinylens.results.report import plain_number

    def spread_cell(medians: list[float], out: str) -> str:
        n = len(medians)
        catalog = pd.DataFrame({"lens_id": [f"l{i}" for i in range(n + 1)], "status": ["ok"] * n + ["failed"],
                                "lens_mass.0.theta_E_median": [*medians, np.nan],
                                "lens_mass.0.theta_E_lo68": [m - 0.015 for m in medians] + [np.nan],
                                "lens_mass.0.theta_E_hi68": [m + 0.015 for m in medians] + [np.nan]})
        catalog.to_csv(tmp_path / f"{out}.csv", index=False)
        result = CliRunner().invoke(app, ["report", str(tmp_path / f"{out}.csv"), "-o", str(tmp_path / out)],
                                    terminal_width=200)
        assert result.exit_code == 0, result.output
        row = next(line for line in result.output.splitlines() if "lens_mass.0.theta_E" in line)
        cells = [cell.strip() for cell in row.split("\u2502")[1:-1]]
        assert cells[1] == str(n), cells
        return cells[3]

    assert spread_cell([1.187], "one") == "-"
    kept = pd.read_csv(tmp_path / "one" / "overview_parameters.csv").iloc[0]
    assert (kept["n"], kept["percentile_16"], kept["percentile_84"]) == (1, 1.187, 1.187)
    p16, p84 = np.percentile([1.187, 0.93], [16, 84])
    assert spread_cell([1.187, 0.93], "two") == f"{plain_number(p16)} to {plain_number(p84)}"


def test_an_all_failed_survey_still_gets_an_overview(tmp_path):
    """Every fit failed: no parameter to summarise and no figure, but the reasons and the list."""
    pd.DataFrame({"lens_id": ["a", "b", "c"], "status": "failed",
                  "reason": ["DataError: x", "DataError: x", "ConfigError: y"]}).to_csv(tmp_path / "c.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert ": 0 ok, 3 failed." in text and "Failed (2): DataError: x" in text
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())
    assert saved["failure_reasons"] == [{"reason": "DataError: x", "n": 2}, {"reason": "ConfigError: y", "n": 1}]
    assert saved["parameters"] == [] and not (tmp_path / "report" / "overview.png").exists()
    assert not (tmp_path / "report" / "overview_parameters.png").exists()


def test_failed_lenses_beyond_the_reasons_shown_are_counted_not_dropped(tmp_path):
    """Only the five most frequent reasons are printed, and a reason naming its lens's own files
    is one lens's alone: of seven such failures two went unmentioned, though '7 failed' above."""
    ids = [f"lens_{i}" for i in range(7)]
    pd.DataFrame({"lens_id": ids, "status": "failed",
                  "reason": [f"DataError: lenses/{i}/image.fits is not a FITS file" for i in ids]}
                 ).to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "7 failed" in text and text.count("Failed (1): DataError: lenses/lens_") == 5
    assert "Failed (2): for other reasons, not shown; every failed lens is listed with its reason in" in text
    inspect = pd.read_csv(tmp_path / "report" / "inspect.csv")
    assert inspect["lens_id"].tolist() == ids and inspect["reason"].str.startswith("DataError").all()



def test_a_catalogue_without_a_reason_column_does_not_say_reasons_are_left_out(tmp_path):
    """Without a 'reason' column no reason is known, none is printed: 'Failed (1): for another
    reason, not shown; every failed lens is listed with its reason in inspect.csv' said that one
    was, and that inspect.csv held it (its reason cell is empty)."""
    _catalog().drop(columns="reason").to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "1 failed" in text and "not shown" not in text and "with its reason" not in text
    assert ("Failed (1): reasons not recorded (the catalogue has no 'reason' column); every failed lens is listed "
            f"in {tmp_path / 'report' / 'inspect.csv'}.") in text
    inspect = pd.read_csv(tmp_path / "report" / "inspect.csv", keep_default_na=False)
    assert inspect.set_index("lens_id").loc["g", "reason"] == ""


def test_the_overview_names_a_folder_with_brackets_as_it_is(tmp_path):
    """The catalogue's path, the --where and the files written were printed as rich markup, so a
    survey folder 'survey [v2]' was printed 'survey ' and every path in it lost its '[v2]'."""
    folder = tmp_path / "survey [v2]"
    folder.mkdir()
    ids = [f"lens_{i}" for i in range(7)]
    pd.DataFrame({"lens_id": ids, "status": "failed",
                  "reason": [f"DataError: lenses/{i}/image.fits is not a FITS file" for i in ids]}
                 ).to_csv(folder / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(folder / "catalog.csv"), "--where", "lens_id != '[x]'"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"7 of 7 lenses in {folder / 'catalog.csv'} (selected: lens_id != '[x]')" in text
    assert f"every failed lens is listed with its reason in {folder / 'report' / 'inspect.csv'}." in text
    assert f"listed with their flags, folders and figures in {folder / 'report' / 'inspect.csv'}." in text
    assert f"Written: {folder / 'report' / 'overview.json'}, " in text


def test_figures_leave_the_users_backend_and_pyplot_figures_alone(tmp_path):
    """A notebook's backend and open figures survive tinylens's figures (they once switched
    matplotlib to Agg and left their own figures open in pyplot)."""
    import subprocess
    import sys

    catalog = tmp_path / "catalog.csv"
    _catalog().to_csv(catalog, index=False)
    script = f"""
import matplotlib.pyplot as plt
import pandas as pd
mine = plt.figure()
from tinylens.results import overview as ov, plots
from tinylens.results.report import quantity_for
catalog = pd.read_csv({str(catalog)!r})
q = quantity_for("lens_mass.0.theta_E")
figs = [ov.overview_figure(catalog, q, ov.flag_table(catalog)), ov.parameters_figure(catalog, [q])]
for i, fig in enumerate(figs):
    fig.savefig({str(tmp_path)!r} + f"/{{i}}.png")
print(plt.get_backend(), plt.get_fignums(), plt.fignum_exists(mine.number))
"""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["MPLBACKEND"] = "svg"  # a backend that is not Agg, as a notebook's inline one is not
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "[1]", "True"]
    assert all((tmp_path / f"{i}.png").stat().st_size > 10_000 for i in range(2))


def test_a_selection_without_an_ok_lens_draws_no_figure(tmp_path):
    """docs/survey.md: the two figures only when at least one lens is ok; a --where that keeps
    only the failed lenses of a catalogue with parameter columns drew them empty."""
    _catalog().to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "status != 'ok'"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())
    assert saved["n_selected"] == 2 and saved["n_ok"] == 0 and saved["n_to_inspect"] == 2
    assert not (tmp_path / "report" / "overview.png").exists()
    assert not (tmp_path / "report" / "overview_parameters.png").exists()



def test_a_where_on_a_truth_column_without_truth_says_it_needs_truth(tmp_path):
    """--where 'arc_snr_max >= 10' (docs/survey.md's example, a truth-table column) without --truth
    was answered "Use the columns of the catalogue or of the truth/reference table", though no
    truth table was given."""
    _catalog().to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "arc_snr_max >= 10"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "arc_snr_max" in text and "only with --truth" in text and "truth/reference table" not in text
    assert "e.g. --where 'arc_snr_max" not in text  # nor given as the example to follow

def _overview_of(catalog, tmp_path, monkeypatch) -> tuple[list[str], list[tuple[str, int]]]:
    """Run ``tinylens report`` on ``catalog`` alone (an overview); the parameters whose figure it
    drew (a list that later runs in the test extend), and (parameter, n) of overview.json."""
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    drawn = []
    original = ov.overview_figure
    monkeypatch.setattr(ov, "overview_figure", lambda cat, q, flags: drawn.append(q.name) or original(cat, q, flags))
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())["parameters"]
    return drawn, [(p["parameter"], p["n"]) for p in saved]


def test_the_overview_figure_shows_a_parameter_that_some_lens_has(tmp_path, monkeypatch):
    """The overview figure drew the first parameter's panels even when no ok lens had a finite
    median of it (two empty panels), while the next parameter had one for every lens."""
    catalog = _catalog().assign(**{"lens_mass.0.theta_E_median": np.nan})
    drawn, saved = _overview_of(catalog, tmp_path, monkeypatch)
    assert dict(saved) == {"lens_mass.0.theta_E": 0, "lens_mass.0.q": 6}
    assert drawn == ["lens_mass.0.q"]

    _catalog().to_csv(tmp_path / "catalog.csv", index=False)  # with both, the first (theta_E) as before
    drawn.clear()
    assert CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")]).exit_code == 0
    assert drawn == ["lens_mass.0.theta_E"]


def test_a_catalogue_without_a_trusted_column_does_not_call_every_fit_untrusted(tmp_path):
    """A catalogue without quality columns (an older tinylens's, or one made by hand) said
    '6 ok (0 trusted, 6 not)', drew every lens as untrusted and listed all of them to inspect."""
    catalog = _catalog().drop(columns=["trusted", "flags", "critical_flags"])
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0 trusted" not in text and "6 ok (trust not recorded" in text and "no 'trusted' column" in text
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())
    assert saved["n_ok"] == 6 and saved["n_trusted"] is None and saved["n_untrusted"] is None
    assert pd.read_csv(tmp_path / "report" / "inspect.csv")["lens_id"].tolist() == ["g", "h"]  # failed, queued
    q = quantity_for("lens_mass.0.theta_E")
    for fig in (ov.overview_figure(catalog, q, ov.flag_table(catalog)), ov.parameters_figure(catalog, [q])):
        labels = fig.axes[0].get_legend_handles_labels()[1] or [p.get_label() for p in fig.axes[0].containers]
        assert not any("untrusted" in label for label in labels), labels
        assert "untrusted" not in fig.get_suptitle() and "0 trusted" not in fig.get_suptitle()


def test_a_catalogue_without_a_flags_column_does_not_say_no_flag_was_raised(tmp_path):
    """Without a 'flags' column nothing is known of the flags: 'No quality flag is raised on any
    ok lens' (and 'no quality flag raised' in the figure) said the opposite of that."""
    catalog = _catalog().drop(columns=["flags", "critical_flags"])
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "No quality flag is raised" not in text and "no 'flags' column" in text
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    shown = " ".join(t.get_text() for t in fig.axes[2].texts)
    assert "not recorded" in shown and "no quality flag raised" not in shown
    with_flags = _catalog().assign(flags="", critical_flags="")  # recorded, and none raised: as before
    fig = ov.overview_figure(with_flags, quantity_for("lens_mass.0.theta_E"), ov.flag_table(with_flags))
    assert "no quality flag raised" in " ".join(t.get_text() for t in fig.axes[2].texts)


def test_a_catalogue_with_flags_but_no_trusted_column_counts_no_flagged_lens_untrusted(tmp_path):
    """Without a 'trusted' column the flag table still counted every flagged lens as untrusted
    (and the figure drew them so), though which fits are trusted is not known."""
    catalog = _catalog().drop(columns=["trusted", "critical_flags"])
    flags = ov.flag_table(catalog)
    assert flags["n_lenses"].tolist() == [2, 2, 1] and flags["n_untrusted"].isna().all(), flags
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), flags)
    assert not any("untrusted" in label for label in fig.axes[2].get_legend_handles_labels()[1])
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())
    assert all(row["n_untrusted"] is None for row in saved["flags"]), saved["flags"]


def _collapsed(catalog: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """``catalog`` with the 68 % intervals of ``ids`` shrunk onto their medians, as a nautilus fit
    stopped by n_like_max with an effective sample size of 1 writes them."""
    catalog = catalog.copy()
    rows = catalog["lens_id"].isin(ids)
    for name in ("lens_mass.0.theta_E", "lens_mass.0.q"):
        for end in ("lo68", "hi68"):
            catalog.loc[rows, f"{name}_{end}"] = catalog.loc[rows, f"{name}_median"]
    return catalog


def test_a_zero_width_interval_is_no_precision_of_0(tmp_path):
    """A lens whose posterior sits on one sample (lo68 == hi68) made the overview report
    half_width_68 = 0.0 for the survey (with --where picking it), a precise-looking 0; such widths
    are now counted apart (n_collapsed) and left out of the median, NaN/null when no other is."""
    catalog = _collapsed(_catalog(), ["a", "c"])
    theta = ov.parameter_table(catalog, [quantity_for("lens_mass.0.theta_E")]).iloc[0]
    assert theta["n"] == 6 and theta["n_collapsed"] == 2
    assert theta["half_width_68"] == pytest.approx(np.median([0.04, 0.02, 0.1, 0.045]))
    assert theta["relative_half_width_68"] == pytest.approx(np.median([0.02, 0.04, 0.1, 0.03]))
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "lens_id == 'a'"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0 (0 %)" not in text and "Zero width:" in text
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())
    theta = saved["parameters"][0]
    assert theta["half_width_68"] is None and theta["relative_half_width_68"] is None and theta["n_collapsed"] == 1
    table = pd.read_csv(tmp_path / "report" / "overview_parameters.csv")
    assert table["half_width_68"].isna().all() and table["n_collapsed"].tolist() == [1, 1]
    fig = ov.parameters_figure(catalog, [quantity_for("lens_mass.0.theta_E")])
    assert fig.axes[0].get_title() == "median 68 % half-width 3.5 %\nzero-width 68 % interval on 2 lenses"


def test_a_quantity_the_model_holds_fixed_is_not_called_a_collapsed_posterior(tmp_path):
    """A round source (e1 = e2 = 0 fixed) has q = 1 in every sample: its 68 % interval had no width
    on every lens, so the overview counted each as collapsed (n_collapsed 3 of 3) and said its
    posterior sat on one sample, 'a fit stopped long before it converged'. Its width of 0 is
    exact: a, b hold q fixed; p's 68 % interval of q has no width but its 99.7 % one has (one
    heavy sample), and z's posterior is on one sample: no interval of it has a width."""
    ends = ("lo997", "lo68", "median", "hi68", "hi997")

    def row(theta_ends, q_ends):
        """theta_E's and q's (lo997, lo68, median, hi68, hi997)."""
        return {**{f"lens_mass.0.theta_E_{k}": v for k, v in zip(ends, theta_ends)},
                **{f"source_light.0.q_{k}": v for k, v in zip(ends, q_ends)}}
    spread = [0.97, 0.99, 1.0, 1.01, 1.03]
    rows = {"a": row(spread, [1.0] * 5), "b": row(spread, [1.0] * 5), "p": row(spread, [0.7, 0.8, 0.8, 0.8, 0.9]),
            "z": row([1.1] * 5, [0.6] * 5)}
    catalog = pd.DataFrame([{"lens_id": k, "status": "ok", "trusted": True, **v} for k, v in rows.items()])
    theta, q = ov.parameter_table(catalog, [quantity_for("lens_mass.0.theta_E"), quantity_for("source_light.0.q")]
                                  ).to_dict(orient="records")
    assert theta["n_collapsed"] == 1 and theta["half_width_68"] == pytest.approx(0.01)  # z
    assert q["n_collapsed"] == 2 and q["half_width_68"] == 0.0  # p and z; a and b: exactly 0
    fixed_only = catalog[catalog["lens_id"].isin(["a", "b"])]
    fixed_only.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "-p", "source_light.0.q"])
    assert result.exit_code == 0, result.output
    assert "Zero width:" not in result.output and "stopped long before" not in result.output
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())["parameters"][0]
    assert saved["n_collapsed"] == 0 and saved["half_width_68"] == 0.0


@pytest.mark.parametrize("kept", [["a", "b"], ["a", "b", "c", "d", "e", "f"]])
def test_the_legends_of_the_overview_cover_no_bar(kept):
    """In a small survey the histograms' bars reach the top of their panels: the legend of the
    theta_E panel ('trusted (2)', 'untrusted (2)') lay over bars, as did 'median 74 s' over a
    bar of the wall-time panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import Rectangle

    catalog = _catalog()
    catalog = catalog[catalog["lens_id"].isin(kept)]
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legends = 0
    for ax in fig.axes:
        if ax.get_legend() is None:
            continue
        legends += 1
        if ax is fig.axes[1]:  # the width panel's legend, of points: test_the_width_panel_says_which_marker_is_which_trust
            continue
        box = ax.get_legend().get_window_extent(renderer)
        bars = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]
        assert bars and not any(box.overlaps(bar) for bar in bars), ax.get_xlabel()
    assert legends == 4


@pytest.mark.parametrize("drop, said", [((), "has a width"), (("_lo68", "_hi68"), "no 68 % interval"),
                                        (("_time_s",), "no wall time")])
def test_an_overview_panel_with_nothing_to_draw_says_why(drop, said):
    """Fits stopped at n_like_max (every 68 % interval of zero width), a catalogue without the
    68 % columns or without times: the precision or time panel was a blank frame with ticks from
    -0.04 to 0.04 and no word."""
    catalog = _catalog()
    if not drop:
        for side in ("lo68", "hi68"):
            catalog[f"lens_mass.0.theta_E_{side}"] = catalog["lens_mass.0.theta_E_median"]
    catalog = catalog.drop(columns=[c for c in catalog.columns if c.endswith(drop)] if drop else [])
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    panel = fig.axes[3 if "time" in said else 1]
    assert said in " ".join(t.get_text() for t in panel.texts)
    assert not panel.get_xticks().size and not panel.get_yticks().size
    other = fig.axes[1 if "time" in said else 3]
    assert not other.texts and other.get_yticks().size


def test_the_overview_summarises_the_main_deflector_wherever_the_catalogue_lists_it(tmp_path, monkeypatch):
    """A survey fitted with ``lens_mass_list: [SHEAR, SIE]`` writes its SIE as lens_mass.1.*: the
    overview summarised source_light.0.R_sersic and the like alone, with no word of the lens mass
    (nor a theta_E panel in overview.png); it now summarises the main deflector's theta_E and q,
    the first component with an Einstein radius, as the pipeline reads it."""
    moved = {c: c.replace("lens_mass.0.", "lens_mass.1.") for c in _catalog().columns if c.startswith("lens_mass.0.")}
    catalog = _catalog().rename(columns=moved).assign(**{"lens_mass.0.gamma1_median": 0.01})
    drawn, saved = _overview_of(catalog, tmp_path, monkeypatch)
    assert saved == [("lens_mass.1.theta_E", 6), ("lens_mass.1.q", 6)]
    assert drawn == ["lens_mass.1.theta_E"]
    assert [q.label for q in ov.default_quantities(catalog)] == [q.label for q in PAPER_QUANTITIES[:2]]
    # --parameter names its column as given
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "-p", "lens_mass.0.gamma1"])
    assert result.exit_code == 0, result.output


def test_a_survey_whose_every_lens_failed_does_not_say_its_ok_lenses_raised_no_flag(tmp_path):
    """With every lens failed the overview said 'No quality flag is raised on any ok lens.', as
    if there were ok lenses and they were clean; it now says that no lens is ok."""
    catalog = _catalog().assign(status="failed", reason="DataError: image.fits is not a FITS file",
                                trusted=None, flags=None, critical_flags=None)
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0 ok" in text and "No quality flag is raised" not in text
    assert "Quality flags: none to count, as no lens is ok" in text


def test_inspect_csv_does_not_call_a_fit_whose_trust_was_not_recorded_untrusted(tmp_path):
    """An ok lens fitted by a tinylens that did not assess quality yet has an empty 'trusted' cell
    beside lenses that have one; inspect.csv gave it trusted False, as if its quality flags had
    been checked and found wanting; it is now empty there (not recorded), and an untrusted lens
    is still False, a failed one empty."""
    catalog = _catalog()
    catalog.loc[catalog["lens_id"] == "d", ["trusted", "flags", "critical_flags"]] = [None, None, None]
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    inspect = pd.read_csv(tmp_path / "report" / "inspect.csv", dtype={"trusted": "boolean"}).set_index("lens_id")
    assert inspect.index.tolist() == ["c", "d", "e", "g", "h"]  # d, of unknown trust, is still to look at
    assert inspect.loc["c", "trusted"] == False and inspect.loc["e", "trusted"] == False  # noqa: E712
    assert pd.isna(inspect.loc["d", "trusted"]) and pd.isna(inspect.loc["g", "trusted"])


def test_the_report_names_the_lenses_whose_mask_reading_nothing_records(tmp_path):
    """A survey's lens fitted with a mask file before mask files were read as 0 = used (then
    non-zero = used) may have fitted the pixels its mask leaves out, but the report said nothing of
    it. Lenses whose result.json (info.mask_read_as) and inputs.json (the mask's read_as) both do
    not record how their mask was read are now named, with how to fit them again."""
    masked = {"dataset": {"data_path": "/l/image.fits", "mask_path": "/l/mask.fits"}}
    stamp = {"mask_path": {"size": 5760, "sha256": "0" * 64}}
    lenses = {  # result.json's config and info, and inputs.json (None: none)
        "a": (masked, {"precision": "float32"}, None),  # from before any record: named
        "b": (masked, {}, {"mask_path": {**stamp["mask_path"], "read_as": "0 = used"}}),  # the stamp records it
        "c": (masked, {"mask_read_as": "0 = used", "n_pixels_fitted": 800}, None),  # the result records it
        "d": (masked, {}, stamp),  # a stamp from before read_as: named
        "e": ({"dataset": {"data_path": "/l/image.fits"}}, {}, None),  # no mask file
        "g": (masked, {}, None),  # failed: no fit to doubt
    }
    for lens, (config, info, inputs) in lenses.items():
        folder = tmp_path / "lenses" / lens
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps({"config": config, "info": info}))
        if inputs is not None:
            (folder / "inputs.json").write_text(json.dumps(inputs))
    _catalog().to_csv(tmp_path / "catalog.csv", index=False)  # f: ok, without a folder
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (f"2 lenses of {tmp_path / 'catalog.csv'} (a, d) were fitted with a mask file whose reading their results "
            "do not record: by a tinylens from before mask files were read as 0 = used, which may have read it as "
            "non-zero = used and so fitted the pixels the mask leaves out. Run tinylens survey over the same --out "
            "again to fit them again.") in text
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "lens_id != 'a'",
                                      "-o", str(tmp_path / "r2")])
    assert result.exit_code == 0, result.output
    assert "1 lens of" in " ".join(result.output.split()) and "(d) was fitted with a mask file whose reading its" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "lens_id in ['b', 'c', 'e']",
                                      "-o", str(tmp_path / "r3")])
    assert result.exit_code == 0 and "mask file" not in result.output, result.output
    pd.DataFrame({"lens_id": list("abcdef"), "theta_E": [1.0, 2.0, 1.0, 0.5, 1.0, 1.5]}).to_csv(tmp_path / "ref.csv",
                                                                                                 index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--reference", str(tmp_path / "ref.csv"),
                                      "-o", str(tmp_path / "r4")])  # a comparison names them too
    assert result.exit_code == 0, result.output
    assert "2 lenses of" in " ".join(result.output.split()) and "(a, d) were fitted with a mask file" in " ".join(result.output.split())


def test_a_lens_whose_trust_was_not_recorded_is_counted_apart_not_as_untrusted(tmp_path):
    """Ok lenses with an empty 'trusted' cell (fits of a tinylens that did not assess quality yet,
    beside lenses that have one) were counted untrusted: '6 ok (2 trusted, 4 not)', their flags
    counted 'of them untrusted' in overview_flags.csv, and the figures drew them red as untrusted;
    they are now counted apart: '2 trusted, 2 not, 2 not recorded', and drawn grey."""
    catalog = _catalog()
    unknown = catalog["lens_id"].isin(["d", "f"])
    catalog.loc[unknown, ["trusted", "flags", "critical_flags"]] = [None, "unmodelled_flux", None]
    catalog.loc[catalog["lens_id"] == "a", "trusted"] = "False"  # untrusted: c, e, a
    n = ov.counts(catalog)
    assert (n["n_trusted"], n["n_untrusted"], n["n_trust_not_recorded"]) == (1, 3, 2)  # b; a, c, e; d, f
    assert ov.trust_text(n) == "1 trusted, 3 not, 2 not recorded"
    flags = ov.flag_table(catalog).set_index("flag")
    assert flags.loc["unmodelled_flux", "n_lenses"] == 4 and flags.loc["unmodelled_flux", "n_untrusted"] == 2  # c, e

    q = quantity_for("lens_mass.0.theta_E")
    for fig in (ov.overview_figure(catalog, q, ov.flag_table(catalog)), ov.parameters_figure(catalog, [q])):
        layers = {layer[0].get_label(): sum(bar.get_height() for bar in layer) for layer in fig.axes[0].containers}
        assert layers == {"trusted (1)": 1, "untrusted (3)": 3, "trust not recorded (2)": 2}, layers
    assert " ".join(fig.get_suptitle().split()).endswith("trusted (1, blue), untrusted (3, red) and trust not recorded (2, grey)")
    fig = ov.overview_figure(catalog, q, ov.flag_table(catalog))
    assert "(1 trusted, 3 not, 2 not recorded)" in fig.get_suptitle()
    red = {c.get_label(): [bar.get_width() for bar in c] for c in fig.axes[2].containers}["critical on (made untrusted)"]
    assert sum(red) == 2  # arc_residuals on c, unmodelled_flux on e; none on d or f

    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "6 ok (1 trusted, 3 not, 2 not recorded), 1 failed" in text
    assert "To inspect: 7 lenses (untrusted, trust not recorded, failed or another status)" in text
    saved = json.loads((tmp_path / "report" / "overview.json").read_text())
    assert (saved["n_trusted"], saved["n_untrusted"], saved["n_trust_not_recorded"]) == (1, 3, 2)
    table = pd.read_csv(tmp_path / "report" / "overview_flags.csv").set_index("flag")
    assert table.loc["unmodelled_flux", "n_untrusted"] == 2
    inspect = pd.read_csv(tmp_path / "report" / "inspect.csv", dtype={"trusted": "boolean"}).set_index("lens_id")
    assert pd.isna(inspect.loc["d", "trusted"]) and inspect.loc["a", "trusted"] == False  # noqa: E712
    # every ok lens's trust recorded: as before, no 'not recorded' anywhere
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "lens_id not in ['d', 'f']",
                                      "-o", str(tmp_path / "r2")], env={"COLUMNS": "400"})
    text = " ".join(result.output.split())
    assert "4 ok (1 trusted, 3 not), 1 failed" in text and "not recorded" not in text
    assert "To inspect: 5 lenses (untrusted, failed or another status)" in text


@pytest.mark.parametrize("n_parameters", [1, 2, 3])
def test_the_titles_of_the_overview_figures_fit_inside_them(n_parameters):
    """The parameters figure is 4 inches wide per parameter: its title ('Posterior medians of the
    6 ok lenses: trusted (4, blue) and untrusted (2, red)') ran past both edges of the figure of
    one parameter (and of two, with lenses whose trust is not recorded); it is now broken into
    lines that fit, clear of the panels' titles."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    catalog = _catalog()
    catalog.loc[catalog["lens_id"] == "d", "trusted"] = None
    quantities = [quantity_for("lens_mass.0.theta_E"), quantity_for("lens_mass.0.q"), PAPER_QUANTITIES[2]][:n_parameters]
    said = ["Posterior medians of the 6 ok lenses: trusted (3, blue), untrusted (2, red) and trust not recorded (1, grey)",
            "8 lenses: 6 ok (3 trusted, 2 not, 1 not recorded), 1 failed"]
    for fig, text in zip((ov.parameters_figure(catalog, quantities),
                          ov.overview_figure(catalog, quantities[0], ov.flag_table(catalog))), said):
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        title = fig.get_suptitle()
        box = fig._suptitle.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1, (title, box, fig.bbox)
        assert not any(box.overlaps(ax.title.get_window_extent(renderer)) for ax in fig.axes if ax.get_title())
        assert " ".join(title.split()) == text  # the same words, in lines


def test_a_trusted_cell_that_is_neither_true_nor_false_is_named(tmp_path):
    """A catalogue made by hand with 'yes' and 'no' in its trusted column was read as if every lens
    were untrusted ('6 ok (0 trusted, 6 not)'), and --trusted-only said no lens was
    trusted; such a cell is now refused by its lens id, while True/False in any case, 1/0 and empty
    cells are read as before."""
    catalog = _catalog()
    catalog["trusted"] = ["yes", "yes", "no", "yes", "no", "yes", None, None]
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    pd.DataFrame({"lens_id": list("abcdef"), "lens_mass.0.theta_E": 1.0}).to_csv(tmp_path / "truth.csv", index=False)
    for extra in ([], ["--trusted-only"], ["--truth", str(tmp_path / "truth.csv")]):
        result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), *extra], env={"COLUMNS": "400"})
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and "Traceback" not in text, (extra, result.output)
        assert (f"The 'trusted' column of {tmp_path / 'catalog.csv'} holds 'yes' for a, which is neither True nor "
                "False (6 such values)") in text, text
        assert not (tmp_path / "report").exists()
    catalog["trusted"] = ["TRUE", "1", "false", "True", "0", None, None, None]
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "6 ok (3 trusted, 2 not, 1 not recorded)" in " ".join(result.output.split())


def test_the_width_panel_of_lenses_with_one_width_has_tick_labels_that_differ():
    """Lenses all measured to the same relative width (1 %, up to rounding, as a mock survey's
    may be) gave the width panel's log axis a span of a few parts in 10^16: the rounding spread
    the lenses from its bottom to its top, as if their widths differed, with no tick label on
    the axis (or '1' at every tick); it now spans a factor of 4 around them, ticked 0.6, 1, 2."""
    catalog = _catalog()
    theta = catalog["lens_mass.0.theta_E_median"]
    catalog["lens_mass.0.theta_E_lo68"], catalog["lens_mass.0.theta_E_hi68"] = 0.99 * theta, 1.01 * theta
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    fig.canvas.draw()
    panel = fig.axes[1]
    assert np.concatenate([c.get_offsets()[:, 1] for c in panel.collections]).tolist() == pytest.approx([1.0] * 6)
    low, high = panel.get_ylim()
    shown = [t.get_text() for t in panel.get_yticklabels() + panel.get_yticklabels(minor=True)
             if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(shown) >= 2 and len(set(shown)) == len(shown) and "1" in shown, shown
    assert low == pytest.approx(0.5) and high == pytest.approx(2.0)


def test_a_selection_without_an_ok_lens_prints_no_table_of_medians(tmp_path):
    """With no ok lens selected (--where status != 'ok', or a survey whose every fit failed, of a
    catalogue with parameter columns) the overview printed 'Posterior medians across the ok
    lenses' as a table of N = 0 and dashes; it now says there are none, as it does of the flags."""
    _catalog().to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--where", "status != 'ok'"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Posterior medians: none to summarise, as no lens is ok." in text
    assert "Posterior medians across" not in text and "lens_mass.0.theta_E" not in text
    saved = pd.read_csv(tmp_path / "report" / "overview_parameters.csv")  # the table is still written, N = 0
    assert saved["parameter"].tolist() == ["lens_mass.0.theta_E", "lens_mass.0.q"] and (saved["n"] == 0).all()


def test_status_values_other_than_ok_and_failed_are_named(tmp_path):
    """A catalogue made by hand with 'OK' and 'FAILED' (or no status at all) was summarised as
    '0 ok, 0 failed, 8 with another status' with no word of which, and its lenses were listed
    'To inspect: 8 lenses (untrusted or failed)', though none is either; the values are now named,
    and the list says what its lenses are. With no lens ok, '0 ok' has no '(0 trusted, 0 not)'."""
    catalog = _catalog().assign(status=["OK"] * 6 + ["FAILED", "queued"])
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert ("0 ok, 0 failed, 8 with another status ('OK' x6, 'FAILED', 'queued': only 'ok' "
            "and 'failed' are counted).") in text
    assert "To inspect: 8 lenses (another status)," in text
    catalog.assign(status=None).to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "-o", str(tmp_path / "r2")],
                                env={"COLUMNS": "400"})
    assert "8 with another status ('' x8: only 'ok' and 'failed' are counted)" in " ".join(result.output.split())
    _catalog().to_csv(tmp_path / "catalog.csv", index=False)  # one queued lens beside ok and failed ones
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "-o", str(tmp_path / "r3")],
                                env={"COLUMNS": "400"})
    text = " ".join(result.output.split())
    assert "1 failed, 1 with another status ('queued': only 'ok' and 'failed' are counted)." in text
    assert "To inspect: 4 lenses (untrusted, failed or another status)," in text


def test_a_panel_of_medians_with_no_lens_says_why():
    """A parameter no ok lens has a median of (its column empty, as a catalogue cut by hand may
    have it, or not in the catalogue at all) was an empty frame in overview_parameters.png, ticked
    0 to 1, with no word; so was overview.png's histogram when no parameter had one."""
    catalog = _catalog().assign(**{"lens_mass.0.q_median": np.nan})
    quantities = [quantity_for("lens_mass.0.theta_E"), quantity_for("lens_mass.0.q"), PAPER_QUANTITIES[2]]
    fig = ov.parameters_figure(catalog, quantities)
    theta, q, phi = fig.axes[:3]
    assert not theta.texts and theta.containers
    assert [t.get_text() for t in q.texts] == ["no ok lens has a lens_mass.0.q_median"]
    assert [t.get_text() for t in phi.texts] == [f"no column {PAPER_QUANTITIES[2].name}_median\nin the catalogue"]
    assert not q.get_yticks().size and not phi.get_yticks().size
    empty = catalog.assign(**{"lens_mass.0.theta_E_median": np.nan})
    fig = ov.overview_figure(empty, quantities[0], ov.flag_table(empty))
    assert [t.get_text() for t in fig.axes[0].texts] == ["no ok lens has a lens_mass.0.theta_E_median"]
    assert not ov.overview_figure(catalog, quantities[0], ov.flag_table(catalog)).axes[0].texts


def test_trusted_only_of_a_catalogue_that_records_no_trust_says_so(tmp_path):
    """Ok lenses whose 'trusted' cells are all empty (fits of a tinylens that did not assess quality
    yet) were refused by --trusted-only as 'No lens ... is trusted (see its 'flags' column)', as if
    their flags had been checked and found wanting; it now says that no trust is recorded."""
    catalog = _catalog().assign(trusted=None)
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    pd.DataFrame({"lens_id": list("abcdef"), "lens_mass.0.theta_E": 1.0}).to_csv(tmp_path / "truth.csv", index=False)
    for extra in ([], ["--truth", str(tmp_path / "truth.csv")]):
        result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--trusted-only", *extra],
                                    env={"COLUMNS": "400"})
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and "Traceback" not in text, result.output
        assert f"No ok lens of {tmp_path / 'catalog.csv'} has its trust recorded" in text and "is trusted (" not in text
    catalog.assign(trusted=["False"] * 6 + [None, None]).to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--trusted-only"], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "is trusted (see its 'flags' column)" in " ".join(result.output.split())


@pytest.mark.parametrize("flags", [None, ""])
def test_a_flags_panel_with_no_flag_has_no_axis_of_counts(flags):
    """Without a flag to count (none raised, or no 'flags' column) the flags panel said so but kept
    an x axis ticked 0.0 to 1.0 under 'lenses with the flag', unlike the width and time panels
    with nothing to draw; it now has no ticks, as they do."""
    catalog = _catalog().drop(columns=["flags", "critical_flags"]) if flags is None else _catalog().assign(flags="")
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    panel = fig.axes[2]
    said = "quality flags not recorded" if flags is None else "no quality flag raised"
    assert [t.get_text() for t in panel.texts] == [said]
    assert not panel.get_xticks().size and not panel.get_yticks().size


def test_times_that_leave_lenses_out_say_how_many_they_cover(tmp_path):
    """Rows of an older tinylens have no total_time_s: 'the whole fit: median 160 s (...), 0.14 h in all'
    was the sum over the rows that have it, read as the survey's whole cost, and the time panel
    drew those lenses alone under 'wall time per lens [s] (the whole fit)'; both now say how many
    of the ok lenses the times cover, and nothing more where every ok lens is timed."""
    catalog = _catalog()
    catalog.loc[catalog["lens_id"].isin(["a", "b", "c"]), "total_time_s"] = np.nan  # d, e, f: 40, 310, 160 s
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"the whole fit: median 160 s (16-84 %: {np.percentile([40, 160, 310], 16):.0f}-" in text
    assert f"{510 / 3600:.2f} h in all (3 of the 6 ok lenses timed); the search: median 105 s" in text
    assert "0.21 h in all; median 3,500 likelihood calls" in text  # the search: every ok lens timed
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    assert fig.axes[3].get_xlabel() == "wall time per lens [s] (the whole fit; 3 of the 6 ok lenses timed)"
    fig = ov.overview_figure(_catalog(), quantity_for("lens_mass.0.theta_E"), ov.flag_table(_catalog()))
    assert fig.axes[3].get_xlabel() == "wall time per lens [s] (the whole fit)"


def test_the_width_panel_of_one_lens_draws_without_a_warning_of_identical_limits():
    """One lens of theta_E 1 +- 0.1 (a relative width of 10.000000000000002 % in floats) made
    matplotlib's own autoscale of the log axis warn 'Attempting to set identical low and high
    ylims makes transformation singular'; the panel now spans a factor of 4 around the width, unwarned."""
    import warnings

    catalog = _catalog().iloc[[0, 6]].assign(**{"lens_mass.0.theta_E_lo68": 0.9, "lens_mass.0.theta_E_hi68": 1.1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
        fig.canvas.draw()
    panel = fig.axes[1]
    assert panel.get_yscale() == "log"
    assert panel.get_ylim() == pytest.approx((5.0, 20.0))
    assert np.concatenate([c.get_offsets()[:, 1] for c in panel.collections]).tolist() == pytest.approx([10.0])


def test_the_histograms_legend_counts_each_groups_lenses_not_only_those_with_a_median():
    """Of 4 trusted lenses, one without a theta_E median (its cell empty), the legend read
    'trusted (3)' under a title of '4 trusted'; it now says '3 of 4 with a median', and a group
    whose every lens has one keeps its count alone."""
    catalog = _catalog()
    catalog.loc[catalog["lens_id"] == "a", "lens_mass.0.theta_E_median"] = np.nan  # a trusted lens
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "trusted (3 of 4 with a median)", "untrusted (2)"]
    assert "4 trusted, 2 not" in fig._suptitle.get_text()
    bars = [sum(p.get_height() for p in container) for container in fig.axes[0].containers]
    assert bars == [3, 2]
    untrusted = catalog.assign(trusted=None)  # one group, 'trust not recorded', of 6 ok lenses
    fig = ov.overview_figure(untrusted, quantity_for("lens_mass.0.theta_E"), ov.flag_table(untrusted))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "trusted (0)", "untrusted (0)", "trust not recorded (5 of 6 with a median)"]
    no_column = catalog.drop(columns="trusted")
    fig = ov.overview_figure(no_column, quantity_for("lens_mass.0.theta_E"), ov.flag_table(no_column))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["ok (5 of 6 with a median)"]


def test_a_parameters_panel_says_how_many_ok_lenses_it_leaves_out_for_want_of_a_median():
    """The parameters figure is titled 'Posterior medians of the 6 ok lenses: trusted (4, blue)
    ...', while its theta_E panel drew 5 (one lens's median empty) with no word of it; that panel
    now says '5 of the 6 ok lenses have a median', and a panel of all six says nothing of it."""
    catalog = _catalog()
    catalog.loc[catalog["lens_id"] == "a", "lens_mass.0.theta_E_median"] = np.nan
    fig = ov.parameters_figure(catalog, [quantity_for("lens_mass.0.theta_E"), quantity_for("lens_mass.0.q")])
    theta, q = fig.axes[:2]
    assert "6 ok lenses" in fig._suptitle.get_text()
    assert theta.get_title().splitlines()[-1] == "5 of the 6 ok lenses have a median"
    assert sum(p.get_height() for container in theta.containers for p in container) == 5
    assert "have a median" not in q.get_title()


def test_the_overview_counts_one_ok_lens_in_the_singular():
    """A survey of one ok lens had its parameters figure titled 'Posterior medians of the 1 ok
    lenses', its times '(0 of the 1 ok lenses timed)', and a panel where one of six ok lenses has a
    median said '1 of the 6 ok lenses have a median'; each now agrees with its count."""
    catalog = _catalog()
    quantities = [quantity_for("lens_mass.0.theta_E"), quantity_for("lens_mass.0.q")]
    one = catalog[catalog["lens_id"] == "a"].reset_index(drop=True)
    assert " ".join(ov.parameters_figure(one, quantities)._suptitle.get_text().split()) == \
        "Posterior medians of the 1 ok lens: trusted (1, blue) and untrusted (0, red)"
    assert ov.timed_text(0, 1) == " (0 of the 1 ok lens timed)"
    assert ov.timed_text(1, 6) == " (1 of the 6 ok lenses timed)"
    catalog.loc[catalog["lens_id"] != "a", "lens_mass.0.theta_E_median"] = np.nan
    theta = ov.parameters_figure(catalog, quantities).axes[0]
    assert theta.get_title().splitlines()[-1] == "1 of the 6 ok lenses has a median"


@pytest.mark.parametrize("medians, hint", [({"theta_E_median": [1.0, 1.2]}, "name one of those it has with --parameter: theta_E."),
                                           ({}, "it has no column <parameter>_median at all.")])
def test_a_catalogue_with_none_of_the_papers_medians_says_why_no_parameter_is_summarised(tmp_path, medians, hint):
    """A catalogue holding none of the paper's medians (made by another program, or naming its
    columns otherwise) was summarised with no parameter and no figure, saying nothing of why."""
    pd.DataFrame({"lens_id": ["a", "b"], "status": ["ok", "ok"], **medians}).to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert ("Posterior medians: none summarised and no figure drawn, as the catalogue has none of the paper's "
            "parameters' columns (lens_mass.0.theta_E_median, lens_mass.0.q_median, ") in text and hint in text
    assert not (tmp_path / "report" / "overview.png").exists()
    assert json.loads((tmp_path / "report" / "overview.json").read_text())["parameters"] == []


def test_a_relative_half_width_over_100_per_cent_is_written_as_a_number_not_an_exponent(tmp_path):
    """A relative 68 % half-width of 1.25 (a posterior from 0.5 to 5.5 around a median of 2) was
    titled 'median 68 % half-width 1.2e+02 %' in overview_parameters.png and printed '(1.2e+02 %)'
    in the parameter table; both now say 125 %."""
    catalog = _catalog()
    ok = catalog["status"] == "ok"
    catalog.loc[ok, "lens_mass.0.theta_E_median"] = 2.0
    catalog.loc[ok, "lens_mass.0.theta_E_lo68"] = 0.5
    catalog.loc[ok, "lens_mass.0.theta_E_hi68"] = 5.5  # half-width 2.5, over the median 2: 125 %
    fig = ov.parameters_figure(catalog, [quantity_for("lens_mass.0.theta_E")])
    assert fig.axes[0].get_title() == "median 68 % half-width 125 %"
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "-p", "lens_mass.0.theta_E"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "2.5 (125 %)" in result.output and "e+02" not in result.output


@pytest.mark.parametrize("medians", [[0.7] * 6, [0.7], [0.97, 0.98, 0.99, 0.995, 0.999, 1.0]])
def test_the_axis_of_an_axis_ratio_stays_within_0_and_1(medians):
    """Six lenses all at q = 0.7 (numpy pads one value by 0.5 either side) drew q's histogram on
    an axis from 0.2 to 1.2, one lens's from -0.3, and medians up to 1 ran to 1.0015 in the
    axes' margin: an axis ratio lies in [0, 1], so both panels of q's medians now keep to it, the
    bars still holding every lens's median."""
    catalog = _catalog().iloc[: len(medians)].copy()
    catalog["lens_mass.0.q_median"] = medians
    q = quantity_for("lens_mass.0.q")
    overview = ov.overview_figure(catalog, q, ov.flag_table(catalog))
    panels = [ov.parameters_figure(catalog, [q]).axes[0]]
    panels += [ax for ax in overview.axes if ax.get_xlabel().endswith("(posterior median)")]
    assert len(panels) == 3
    for ax in panels:
        left, right = ax.get_xlim()
        assert 0 <= left < min(medians) and max(medians) <= right <= 1, (left, right)
    bars = [p for p in panels[0].patches if p.get_height() > 0]
    assert sum(p.get_height() for p in bars) == len(medians)
    for value in set(medians):  # each median inside a drawn bar, every bar inside [0, 1]
        assert any(p.get_x() <= value <= p.get_x() + p.get_width() for p in bars)
    assert all(0 <= p.get_x() and p.get_x() + p.get_width() <= 1 + 1e-12 for p in bars)


def test_the_axis_of_an_einstein_radius_does_not_run_below_0():
    """One lens of theta_E 0.3 arcsec drew its histogram from -0.2 arcsec."""
    catalog = _catalog().iloc[:1].copy()
    catalog["lens_mass.0.theta_E_median"] = 0.3
    ax = ov.parameters_figure(catalog, [quantity_for("lens_mass.0.theta_E")]).axes[0]
    left, right = ax.get_xlim()
    assert 0 <= left < 0.3 < right


def test_medians_past_a_physical_range_are_shown_not_clipped_away():
    """A catalogue whose q medians lie past 1 (not a tinylens fit's) keeps them on the axis."""
    catalog = _catalog().iloc[:2].copy()
    catalog["lens_mass.0.q_median"] = [1.3, 1.3]
    ax = ov.parameters_figure(catalog, [quantity_for("lens_mass.0.q")]).axes[0]
    assert ax.get_xlim()[1] > 1.3


def test_one_lens_to_inspect_is_listed_with_its_flags_in_the_singular(tmp_path):
    """One untrusted lens was printed 'To inspect: 1 lens (untrusted), listed with their flags,
    folders and figures'; it now has its flags, folder and figure, and two keep the plural."""
    catalog = _catalog()
    ok = catalog["status"] == "ok"
    one = catalog[ok].assign(trusted=["True", "True", "False", "True", "True", "True"])
    two = catalog[ok].assign(trusted=["True", "True", "False", "True", "False", "True"])
    for frame, n, listed in ((one, "1 lens", "its flags, folder and figure"),
                             (two, "2 lenses", "their flags, folders and figures")):
        frame.to_csv(tmp_path / "catalog.csv", index=False)
        result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "--out", str(tmp_path / "rep")])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert f"To inspect: {n} (untrusted), listed with {listed} in" in text, text


def _docs_inspect_reader():
    """The call docs/survey.md (section 9) gives to read inspect.csv, as a function of its path."""
    import textwrap
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "survey.md").read_text()
    block = doc[doc.index("## 9."):].split("```python", 1)[1].split("```", 1)[0]
    assert "inspect = pd.read_csv(path" in block, block

    def read(path):
        scope = {"pd": pd, "path": path}
        exec(textwrap.dedent(block), scope)
        return scope["inspect"]
    return read


@pytest.mark.parametrize("failed", [False, True])
def test_inspect_csv_read_as_the_docs_say_gives_text_and_trust_whether_or_not_a_lens_failed(tmp_path, failed):
    """docs/survey.md said to read inspect.csv with dtype={"trusted": "boolean"} alone; with no
    failed lens its empty `reason` column came as float NaN (and with failed lenses alone `flags`,
    `folder` and `figure` did), an id 007 as 7. Read as the docs now say, every text column is text
    ("" where empty), ids stay as written, and `trusted` is False for an untrusted lens, <NA> for a
    failed one."""
    catalog = pd.DataFrame({"lens_id": ["007", "008", "009"], "status": ["ok", "ok", "failed" if failed else "ok"],
                            "reason": ["", "", "DataError: image.fits is not a FITS file" if failed else ""],
                            "trusted": [True, False, None if failed else False],
                            "flags": ["", "arc_residuals", None if failed else "unmodelled_flux"],
                            "critical_flags": ["", "arc_residuals", None if failed else "unmodelled_flux"],
                            "lens_mass.0.theta_E_median": [1.0, 1.1, np.nan if failed else 1.2],
                            "lens_mass.0.theta_E_lo68": [0.99, 1.09, np.nan if failed else 1.19],
                            "lens_mass.0.theta_E_hi68": [1.01, 1.11, np.nan if failed else 1.21]})
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    inspect = _docs_inspect_reader()(tmp_path / "report" / "inspect.csv")
    assert inspect["lens_id"].tolist() == ["008", "009"]
    for column in ("status", "flags", "critical_flags", "reason", "folder", "figure"):
        assert all(isinstance(v, str) for v in inspect[column]), (column, inspect[column].tolist())
    assert inspect["reason"].tolist() == ["", "DataError: image.fits is not a FITS file" if failed else ""]
    assert inspect["folder"].tolist() == ["", ""]  # no lenses/ folder beside this catalogue
    assert str(inspect["trusted"].dtype) == "boolean"
    assert inspect["trusted"].iloc[0] == False  # noqa: E712
    assert pd.isna(inspect["trusted"].iloc[1]) if failed else inspect["trusted"].iloc[1] == False  # noqa: E712
    # the failed lens's selection by text works on either file
    assert inspect[inspect["reason"].str.startswith("DataError")]["lens_id"].tolist() == (["009"] if failed else [])


def _docs_table_columns(doc: str, heading: str) -> list[str]:
    """The names in the first cells of the table that follows ``heading`` in ``doc`` (a cell such
    as "`percentile_16`, `percentile_84`" names two)."""
    import re

    rows = [line for line in doc[doc.index(heading):].split("\n\n", 2)[1].splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])]


def test_the_overview_tables_columns_are_the_ones_docs_survey_md_explains(tmp_path):
    """docs/survey.md section 9 named overview_parameters.csv and overview_flags.csv but not their
    columns (half_width_68, relative_half_width_68, n_critical, ...) nor their units; the tables
    it now gives list exactly the columns tinylens report writes, in order, and inspect.csv's, and
    relative_half_width_68 is a fraction as it says (theta_E's relative half-widths of _catalog:
    0.005-0.1, median 0.025), empty for q."""
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "survey.md").read_text()
    doc = doc[doc.index("## 9."):]
    catalog = _catalog()
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    parameters = pd.read_csv(out / "overview_parameters.csv").set_index("parameter")
    assert _docs_table_columns(doc, "`overview_parameters.csv` has") == ["parameter", *parameters.columns]
    flags = pd.read_csv(out / "overview_flags.csv")
    assert _docs_table_columns(doc, "`overview_flags.csv` has") == list(flags.columns)
    said = doc[doc.index("`inspect.csv` has the columns"):].split(".\n", 1)[0]
    assert re.findall(r"`([^`]+)`", said)[1:] == list(pd.read_csv(out / "inspect.csv").columns)
    assert parameters.loc["lens_mass.0.theta_E", "relative_half_width_68"] == pytest.approx(0.025)
    assert pd.isna(parameters.loc["lens_mass.0.q", "relative_half_width_68"])
    assert parameters.loc["lens_mass.0.q", "half_width_68"] == pytest.approx(0.01)  # 0.01, 0.02, 0.01, 0.01, 0.05, 0.01


def test_what_docs_survey_md_says_of_a_zero_half_width_is_what_the_overview_table_holds(tmp_path):
    """docs/survey.md said half_width_68 is empty 'when no lens's interval has a width' and counted
    every zero-width 68 % interval under n_collapsed; a quantity the model holds fixed (a round
    source's q = 1 in every sample, on two lenses) has no width on any lens, yet its half_width_68
    is 0 and n_collapsed 0 (its width is exact), while the same q on two posteriors that sit on one
    sample is empty with n_collapsed 2: the docs now say both."""
    from pathlib import Path

    ends = ("lo997", "lo68", "median", "hi68", "hi997")

    def row(lens_id, theta_ends, q_ends):
        return {"lens_id": lens_id, "status": "ok", "trusted": True,
                **{f"lens_mass.0.theta_E_{k}": v for k, v in zip(ends, theta_ends)},
                **{f"source_light.0.q_{k}": v for k, v in zip(ends, q_ends)}}
    found = {}
    for case, rows in (("fixed", [row("a", [0.97, 0.99, 1.0, 1.01, 1.03], [1.0] * 5),
                                  row("b", [0.96, 0.99, 1.0, 1.02, 1.04], [1.0] * 5)]),
                       ("collapsed", [row("y", [1.1] * 5, [0.6] * 5), row("z", [1.2] * 5, [0.7] * 5)])):
        folder = tmp_path / case
        folder.mkdir()
        pd.DataFrame(rows).to_csv(folder / "catalog.csv", index=False)
        result = CliRunner().invoke(app, ["report", str(folder / "catalog.csv"), "-p", "source_light.0.q"])
        assert result.exit_code == 0, result.output
        found[case] = pd.read_csv(folder / "report" / "overview_parameters.csv").set_index("parameter").loc[
            "source_light.0.q"]
    assert found["fixed"]["half_width_68"] == 0.0 and found["fixed"]["n_collapsed"] == 0
    assert pd.isna(found["collapsed"]["half_width_68"]) and found["collapsed"]["n_collapsed"] == 2

    lines = (Path(__file__).parents[2] / "docs" / "survey.md").read_text().splitlines()
    half = next(line for line in lines if line.startswith("| `half_width_68` |"))
    collapsed_row = next(line for line in lines if line.startswith("| `n_collapsed` |"))
    assert "no lens's interval has a width" not in half and "0 for a quantity the model holds fixed" in half, half
    assert "holds the quantity fixed" in collapsed_row, collapsed_row


def test_position_angles_across_the_90_degree_cut_are_summarised_about_their_direction():
    """Four lenses whose mass is oriented within 2 deg of the y-axis, two catalogued at 88 and 89
    deg and two at -89 and -88 deg (the same direction, 180 deg apart): the overview gave their
    median position angle as 0 deg (from -88.5 to 88.5 for the 16th-84th percentiles), across
    the sky from every one of them; it is now 90 deg, its percentiles those of 88, 89, 91 and
    92 deg, the one piece of the circle the lenses lie on."""
    catalog = _catalog().iloc[:4].copy()
    catalog["lens_mass.0.phi_deg_median"] = [88.0, 89.0, -89.0, -88.0]
    catalog["lens_mass.0.phi_deg_lo68"] = catalog["lens_mass.0.phi_deg_median"] - 1.0
    catalog["lens_mass.0.phi_deg_hi68"] = catalog["lens_mass.0.phi_deg_median"] + 1.0
    row = ov.parameter_row(catalog, quantity_for("lens_mass.0.phi_deg"))
    same_direction = np.array([88.0, 89.0, 91.0, 92.0])  # -89 and -88 deg, turned by the period
    assert row["median"] == pytest.approx(90.0)
    assert (row["percentile_16"], row["percentile_84"]) == pytest.approx(tuple(np.percentile(same_direction, [16, 84])))
    assert row["half_width_68"] == pytest.approx(1.0)
    # lenses well away from the cut keep the plain median and percentiles
    catalog["lens_mass.0.phi_deg_median"] = [-30.0, 10.0, 20.0, 40.0]
    row = ov.parameter_row(catalog, quantity_for("lens_mass.0.phi_deg"))
    assert (row["median"], row["percentile_16"], row["percentile_84"]) == pytest.approx(
        tuple(np.percentile([-30.0, 10.0, 20.0, 40.0], [50, 16, 84])))
    # a median past the cut is given within (-90, 90], its percentiles beside it
    catalog = _catalog().iloc[:5].copy()
    catalog["lens_mass.0.phi_deg_median"] = [80.0, 80.0, -89.0, -88.0, -87.0]  # about 87 deg; median 91
    row = ov.parameter_row(catalog, quantity_for("lens_mass.0.phi_deg"))
    assert row["median"] == pytest.approx(-89.0)
    assert (row["percentile_16"], row["percentile_84"]) == pytest.approx(
        tuple(np.percentile([80.0, 80.0, 91.0, 92.0, 93.0], [16, 84]) - 180.0))


def test_values_and_half_widths_are_printed_in_plain_digits_not_exponents(tmp_path):
    """A survey summarised by its source flux (some 10 000 data units) and its lens centre
    (half-widths of 0.000045 arcsec) was printed with exponents, median '1.022e+04', '8.31e+03
    to 1.02e+04' and a half-width '4.5e-05', and overview_parameters.png was titled 'median 68 %
    half-width 4.5e-05'; each is now in plain digits, to the same significant figures."""
    catalog = _catalog()
    ok = catalog["status"] == "ok"
    fluxes = np.array([10218.9, 8307.4, 12004.0, 9800.0, 10500.0, 11000.0])
    catalog.loc[ok, "source.flux_median"] = fluxes
    catalog.loc[ok, "source.flux_lo68"] = fluxes - 150.0
    catalog.loc[ok, "source.flux_hi68"] = fluxes + 150.0
    catalog.loc[ok, "lens_mass.0.center_x_median"] = 0.01
    catalog.loc[ok, "lens_mass.0.center_x_lo68"] = 0.01 - 0.000045
    catalog.loc[ok, "lens_mass.0.center_x_hi68"] = 0.01 + 0.000045
    centre = quantity_for("lens_mass.0.center_x")
    title = ov.parameters_figure(catalog, [centre]).axes[0].get_title()
    assert "0.000045" in title and "e-" not in title, title
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "catalog.csv"), "-p", "source.flux",
                                      "-p", "lens_mass.0.center_x"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    p16, p50, p84 = np.percentile(fluxes, [16, 50, 84])
    expected = [f"{float(f'{p50:.4g}'):.0f}", f"{float(f'{p16:.3g}'):.0f} to {float(f'{p84:.3g}'):.0f}", "0.000045"]
    for text in expected:
        assert text in result.output, (text, result.output)
    assert "e+0" not in result.output and "e-0" not in result.output, result.output


def test_position_angle_medians_past_the_90_degree_cut_are_drawn_within_it():
    """A lens's phi median is unwrapped about its own posterior, so one oriented along the y-axis
    can be catalogued at 91.5 deg (or -91); the overview's histograms and its half-width panel drew
    it there, past the (-90, 90] the position angle is given in, a bar 180 deg from the lenses of
    its direction at -89 deg. It is drawn at 91.5 - 180 = -88.5 deg (-91: 89)."""
    catalog = _catalog()
    catalog["lens_mass.0.phi_deg_median"] = [88.0, 91.5, -89.0, -91.0, 10.0, -30.0, np.nan, np.nan]
    catalog["lens_mass.0.phi_deg_lo68"] = catalog["lens_mass.0.phi_deg_median"] - 1.0
    catalog["lens_mass.0.phi_deg_hi68"] = catalog["lens_mass.0.phi_deg_median"] + 2.0
    drawn = np.array([88.0, -88.5, -89.0, 89.0, 10.0, -30.0])  # each in (-90, 90], by hand
    q = quantity_for("lens_mass.0.phi_deg")
    for fig in (ov.overview_figure(catalog, q, ov.flag_table(catalog)), ov.parameters_figure(catalog, [q])):
        bars = [(p.get_x(), p.get_x() + p.get_width(), p.get_height()) for p in fig.axes[0].patches]
        full = [(lo, hi, n) for lo, hi, n in bars if n > 0]
        assert sum(n for _, _, n in full) == len(drawn)  # every lens drawn once
        assert all(-90.0 <= lo and hi <= 90.0 for lo, hi, _ in full), full
        for value in drawn:
            assert any(lo <= value <= hi for lo, hi, _ in full), (value, full)
    points = np.concatenate([c.get_offsets()[:, 0] for c in ov.overview_figure(catalog, q, ov.flag_table(catalog)).axes[1].collections])
    assert sorted(points) == pytest.approx(sorted(drawn))  # the half-width panel: the same places
    row = ov.parameter_row(ov._ok(catalog), q)  # the table's numbers: as they were (taken about the lenses' mean)
    assert -90.0 < row["median"] <= 90.0


@pytest.mark.parametrize("value, digits, expected", [
    (9999999, 3, "1e+07"), (1e7, 3, "1e+07"), (-9999999, 3, "-1e+07"), (9999999, 8, "9999999"),
    (9.9999996e-7, 3, "0.000001"), (1e-6, 3, "0.000001"), (9.9e-7, 3, "9.9e-07"), (10219, 4, "10220"),
    (4.5e-5, 2, "0.000045")])
def test_plain_number_chooses_digits_or_an_exponent_by_the_number_it_shows(value, digits, expected):
    """plain_number decided on an exponent before rounding: 9999999 to three figures printed
    10000000 while 1e7 printed 1e+07, and 9.9999996e-07 printed 1e-06 while 1e-6 printed 0.000001.
    The two spellings of one shown number are now the same."""
    from tinylens.results.report import plain_number

    assert plain_number(value, digits) == expected


@pytest.mark.parametrize("value, expected", [(1234.5, "1000"), (0.000456, "0.0005"), (-7.3, "-7"), (9.6, "10"),
                                             (1.5e7, "2e+07"), (3e-9, "3e-09"), (0.0, "0")])
def test_plain_number_to_zero_digits_is_one_figure_as_python_writes_it(value, expected):
    """plain_number(x, 0) raised numpy's 'precision must be greater than 0 if fractional=False'
    (a ValueError) for any number in plain range, where Python's .0g gives one figure; it now
    gives one figure, as plain_number(x, 1) does."""
    from tinylens.results.report import plain_number

    assert plain_number(value, 0) == expected == plain_number(value, 1)


def test_the_time_panel_of_a_survey_with_one_fit_of_days_still_shows_the_others_spread():
    """18 lenses fitted in 40 to 290 s and one in 2 days (a fit left to its timeout) drew the time
    panel linear from 0 to 500,000 s: 18 lenses in its first bar, the median's line on the axis.
    Times spanning more than WIDE_TIMES are binned and drawn on a log axis in plain digits."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    times = np.r_[np.linspace(40.0, 290.0, 18), 172800.0]
    catalog = pd.concat([_catalog().iloc[[0]]] * 19, ignore_index=True).assign(
        lens_id=[f"l{i}" for i in range(19)], wall_time_s=times, total_time_s=times)
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    FigureCanvasAgg(fig).draw()
    panel = fig.axes[3]
    heights = [p.get_height() for p in panel.patches]
    assert sum(heights) == 19 and max(heights) <= 9, heights  # the 18 over several bars, not one
    assert panel.get_xscale() == "log"
    labels = [t.get_text() for t in panel.get_xticklabels() if t.get_text()]
    assert "100" in labels and "100000" in labels and not [t for t in labels if "e" in t or "^" in t], labels
    median = next(line for line in panel.lines if line.get_linestyle() == "--").get_xdata()[0]
    assert median == pytest.approx(np.median(times)) and panel.get_xlim()[0] < median / 2  # not on the axis
    # a survey of 30 to 300 s keeps its plain linear axis
    plain = ov.overview_figure(_catalog(), quantity_for("lens_mass.0.theta_E"), ov.flag_table(_catalog()))
    assert plain.axes[3].get_xscale() == "linear"


@pytest.mark.parametrize("trust", ["recorded", "one not recorded", "not recorded"])
@pytest.mark.parametrize("zero_width", [False, True])
def test_the_width_panel_says_which_marker_is_which_trust(trust, zero_width):
    """overview.png's width panel drew untrusted lenses as red crosses and trusted ones as blue dots
    with no legend saying so. It now has one above the panel, one entry per group with that group's
    marker and colour, clear of every point and of the panel's 'zero-width ... not shown' line
    (the legend's title); a catalogue that records no trust, one group, keeps its panel as it was."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    catalog = _catalog()
    if trust == "one not recorded":
        catalog.loc[catalog["lens_id"] == "d", "trusted"] = None
    if trust == "not recorded":
        catalog = catalog.drop(columns="trusted")
    if zero_width:
        catalog.loc[catalog["lens_id"] == "a", ["lens_mass.0.theta_E_lo68", "lens_mass.0.theta_E_hi68"]] = 1.0
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    panel = fig.axes[1]
    points = np.concatenate([c.get_offsets() for c in panel.collections])
    assert len(points) == (5 if zero_width else 6)
    said = "zero-width 68 % interval on 1 lens, not shown"
    legend = panel.get_legend()
    if trust == "not recorded":
        assert legend is None and panel.get_title() == (said if zero_width else "")
        return
    expected = ["trusted", "untrusted", *(["trust not recorded"] if trust == "one not recorded" else [])]
    assert [t.get_text() for t in legend.get_texts()] == expected
    for handle, drawn in zip(legend.legend_handles, panel.collections):  # the marker and colour of its points
        assert drawn.get_label() == handle.get_label()
        assert np.allclose(handle.get_paths()[0].vertices, drawn.get_paths()[0].vertices)
        assert np.allclose(handle.get_facecolor()[0], drawn.get_facecolor()[0])
    box = legend.get_window_extent(renderer)
    assert not any(box.contains(*p) for p in panel.transData.transform(points))
    assert box.y0 >= panel.get_window_extent(renderer).y1 - 1  # above the panel: it covers no point
    assert legend.get_title().get_text() == (said if zero_width else "") and panel.get_title() == ""
    title = fig._suptitle.get_window_extent(renderer)
    assert not box.overlaps(title) and box.x0 >= 0 and box.x1 <= fig.bbox.x1


@pytest.mark.parametrize("case", ["no 68 % columns", "untrusted of zero width"])
def test_the_width_panels_legend_names_only_the_groups_it_draws(case):
    """The width panel's legend (trusted, untrusted, trust not recorded) listed every group of the
    catalogue, one whose lenses have no width drawn too: the untrusted lenses' 68 % intervals of zero
    width (not shown) still had an 'untrusted' cross in the legend, and a catalogue without 68 %
    columns had 'trusted' and 'untrusted' above a panel that says it has no interval at all."""
    catalog = _catalog()
    if case == "no 68 % columns":
        catalog = catalog.drop(columns=["lens_mass.0.theta_E_lo68", "lens_mass.0.theta_E_hi68"])
    else:
        untrusted = catalog["lens_id"].isin(["c", "e"])
        for column in ("median", "lo68", "hi68"):
            catalog.loc[untrusted, f"lens_mass.0.theta_E_{column}"] = 1.0
    fig = ov.overview_figure(catalog, quantity_for("lens_mass.0.theta_E"), ov.flag_table(catalog))
    panel = fig.axes[1]
    drawn = [c.get_label() for c in panel.collections if len(c.get_offsets())]
    legend = panel.get_legend()
    if case == "no 68 % columns":
        assert drawn == [] and legend is None
        assert any("no 68 % interval" in t.get_text() for t in panel.texts)
    else:
        assert drawn == ["trusted"]
        assert [t.get_text() for t in legend.get_texts()] == ["trusted"]
        assert legend.get_title().get_text() == "zero-width 68 % interval on 2 lenses, not shown"


@pytest.mark.parametrize("low, high, exponent", [(1e4, 1e8, True), (3e6, 2e7, True), (1e-8, 1e-4, True),
                                                 (3.0, 5e5, False), (0.4, 3.0, False)])
def test_a_log_axis_past_the_plain_range_labels_every_tick_with_an_exponent_one_style(low, high, exponent):
    """The overview's log axes (wall time, 68 % half-widths) labelled ticks by plain_number, plain
    digits within PLAIN_RANGE and exponents past it: an axis of 1e4 to 1e8 read '10000', '100000',
    '1000000', '1e+07', '1e+08', one of 3e6 to 2e7 '2000000', '3000000' beside '2e+07', two styles
    on one axis. An axis reaching past the range now labels every tick with an exponent; one within
    it keeps plain digits."""
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_formatter(ov.plain_log_formatter())
    ax.xaxis.set_minor_formatter(ov.plain_log_formatter(minor=True))
    fig.canvas.draw()
    labelled = [(t.get_position()[0], t.get_text().replace("\N{MINUS SIGN}", "-"))
                for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True) if t.get_text()
                and low <= t.get_position()[0] <= high]
    assert len(labelled) >= 2, labelled
    assert all(("e" in text) == exponent for _, text in labelled), labelled
    assert [float(text) for _, text in labelled] == pytest.approx([x for x, _ in labelled], rel=1e-3)
