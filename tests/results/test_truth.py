"""True values of simulated lenses: the truth.json files of demo and simulate-population, read
back keyed like the fitted parameters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinylens.errors import DataError
from tinylens.results.truth import check_truth, flat_params, read_truth


def test_flat_params_names_each_value_like_a_fitted_parameter():
    components = {"lens_mass": [{"theta_E": 1.2, "e1": 0.1}, {"gamma1": 0.01}], "source_light": [{"R_sersic": np.float32(0.25)}]}
    assert flat_params(components) == pytest.approx({
        "lens_mass.0.theta_E": 1.2, "lens_mass.0.e1": 0.1, "lens_mass.1.gamma1": 0.01, "source_light.0.R_sersic": 0.25})


def test_read_truth_takes_params_or_a_flat_object(tmp_path):
    nested = tmp_path / "truth.json"
    nested.write_text(json.dumps({"description": "x", "params": {"lens_mass.0.theta_E": 1.5}, "derived": {"q": "text"}}))
    assert read_truth(nested) == {"lens_mass.0.theta_E": 1.5}
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"lens_mass.0.theta_E": 2, "source_light.0.n_sersic": 1.5}))
    assert read_truth(flat) == {"lens_mass.0.theta_E": 2.0, "source_light.0.n_sersic": 1.5}


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "expected a JSON object of true values"),
    ("{}", "expected a JSON object of true values"),
    ('{"a": true}', "a is not a finite number"),
    ('{"a": NaN}', "a is not a finite number"),
    ('{"a": 1' + "0" * 400 + "}", "a is not a finite number"),
    ("\x00\xff", "not a JSON file"),
])
def test_read_truth_names_the_file_and_key_of_a_bad_value(tmp_path, text, message):
    path = tmp_path / "t.json"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(DataError, match="t.json") as info:
        read_truth(path)
    assert message in str(info.value)


def test_check_truth_keeps_free_parameters_in_their_order_and_refuses_none():
    names = ("lens_mass.0.theta_E", "source_light.0.R_sersic")
    truth = {"source_light.0.R_sersic": 0.2, "lens_mass.0.center_x": 0.0, "lens_mass.0.theta_E": 1.1}
    assert list(check_truth(truth, names).items()) == [("lens_mass.0.theta_E", 1.1), ("source_light.0.R_sersic", 0.2)]
    with pytest.raises(DataError, match="mine: none of its parameters"):
        check_truth({"theta_E": 1.0}, names, "mine")
    with pytest.raises(DataError, match="lens_mass.0.theta_E is not a finite number"):
        check_truth({"lens_mass.0.theta_E": float("inf")}, names)


@pytest.mark.parametrize("truth", [3, [1.2, 0.2], None])
def test_check_truth_refuses_what_is_no_mapping_naming_its_type(truth):
    with pytest.raises(DataError, match=f"truth: expected a mapping of parameter name to true value.*got {type(truth).__name__}"):
        check_truth(truth, ("lens_mass.0.theta_E",))


def test_check_truth_takes_a_pandas_series():
    import pandas as pd

    assert check_truth(pd.Series({"lens_mass.0.theta_E": 1.1}), ("lens_mass.0.theta_E",)) == {"lens_mass.0.theta_E": 1.1}


def test_check_truth_takes_a_row_of_simulate_populations_truth_table(tmp_path):
    """A row of simulate-population's truth table (``pd.read_csv("mocks/truth.csv").iloc[0]``), given
    to ``tinylens.fit(..., truth=row)``, was refused: 'the true value of lens_id is not a finite number'.
    Its ``lens_id``, the name of no parameter, is now dropped as its derived numbers are; a value
    of a parameter that is no number is still refused, and a row of no parameter is said to be one."""
    import pandas as pd

    (tmp_path / "truth.csv").write_text("lens_id,lens_mass.0.theta_E,source_light.0.R_sersic,arc_snr_max,source.mag\n"
                                        "lens_00000,1.25,0.2,12.5,24.1\n")
    row = pd.read_csv(tmp_path / "truth.csv").iloc[0]
    names = ("lens_mass.0.theta_E", "source_light.0.R_sersic")
    assert check_truth(row, names) == {"lens_mass.0.theta_E": 1.25, "source_light.0.R_sersic": 0.2}
    with pytest.raises(DataError, match="lens_mass.0.theta_E is not a finite number"):
        check_truth({"lens_id": "lens_00000", "lens_mass.0.theta_E": "1.25"}, names)
    with pytest.raises(DataError, match=r"none of its parameters \(lens_id, arc_snr_max\)"):
        check_truth({"lens_id": "lens_00000", "arc_snr_max": 12.5}, names)


POPULATION_MASS = {"lens_mass.0.theta_E": 1.3, "lens_mass.0.e1": 0.1, "lens_mass.0.e2": -0.2, "lens_mass.0.center_x": 0.01,
                   "lens_mass.0.center_y": -0.02, "lens_mass.1.gamma1": 0.03, "lens_mass.1.gamma2": -0.04}


def test_the_truth_of_a_model_listing_its_shear_first_is_that_of_each_component():
    """simulate-population's truth lists [SIE, SHEAR]; a model of [SHEAR, SIE] got no mass truth
    at all (its names lens_mass.0.gamma1, lens_mass.1.theta_E... are none of the truth's)."""
    names = ("lens_mass.0.gamma1", "lens_mass.0.gamma2", "lens_mass.1.theta_E", "lens_mass.1.e1", "lens_mass.1.e2",
             "lens_mass.1.center_x", "lens_mass.1.center_y", "source_light.0.R_sersic")
    kept = check_truth({**POPULATION_MASS, "source_light.0.R_sersic": 0.2}, names)
    assert kept == {"lens_mass.0.gamma1": 0.03, "lens_mass.0.gamma2": -0.04, "lens_mass.1.theta_E": 1.3,
                    "lens_mass.1.e1": 0.1, "lens_mass.1.e2": -0.2, "lens_mass.1.center_x": 0.01,
                    "lens_mass.1.center_y": -0.02, "source_light.0.R_sersic": 0.2}


def test_a_truth_component_goes_to_the_model_component_sharing_most_names():
    """A satellite SIS listed before the main SIE: theta_E and the centre are both's, the
    ellipticity the SIE's alone; components of one kind and names keep their index."""
    names = ("lens_mass.0.theta_E", "lens_mass.0.center_x", "lens_mass.1.theta_E", "lens_mass.1.e1",
             "lens_mass.1.center_x", "lens_light.0.R_sersic", "lens_light.1.R_sersic")
    truth = {"lens_mass.0.theta_E": 1.3, "lens_mass.0.e1": 0.1, "lens_mass.0.center_x": 0.0,
             "lens_mass.1.theta_E": 0.2, "lens_mass.1.center_x": 2.0,
             "lens_light.0.R_sersic": 1.0, "lens_light.1.R_sersic": 3.0}
    assert check_truth(truth, names) == {"lens_mass.0.theta_E": 0.2, "lens_mass.0.center_x": 2.0,
                                         "lens_mass.1.theta_E": 1.3, "lens_mass.1.e1": 0.1,
                                         "lens_mass.1.center_x": 0.0, "lens_light.0.R_sersic": 1.0,
                                         "lens_light.1.R_sersic": 3.0}
    same_order = ("lens_mass.0.theta_E", "lens_mass.0.e1", "lens_mass.1.gamma1")
    assert check_truth(POPULATION_MASS, same_order) == {"lens_mass.0.theta_E": 1.3, "lens_mass.0.e1": 0.1,
                                                        "lens_mass.1.gamma1": 0.03}


def test_a_true_value_that_is_no_number_is_shown_in_the_message():
    """``truth={"lens_mass.0.theta_E": "1.2"}`` (a number quoted in a hand-written truth.json, a
    value read from a text table) said only "the true value of lens_mass.0.theta_E is not a
    finite number", leaving the user to find what it was; the message shows the value and its
    type, a long one cut."""
    names = ("lens_mass.0.theta_E", "source_light.0.R_sersic")
    with pytest.raises(DataError) as info:
        check_truth({"lens_mass.0.theta_E": "1.2", "source_light.0.R_sersic": 0.2}, names)
    assert str(info.value) == ("truth: the true value of lens_mass.0.theta_E is not a finite number "
                               "(got lens_mass.0.theta_E = str '1.2').")
    with pytest.raises(DataError) as info:
        check_truth({"lens_mass.0.theta_E": None, "source_light.0.R_sersic": 10**400}, names, "mine")
    assert str(info.value).startswith("mine: the true value of lens_mass.0.theta_E, source_light.0.R_sersic is not "
                                      "a finite number (got lens_mass.0.theta_E = NoneType None, "
                                      "source_light.0.R_sersic = int 1000000")
    assert str(info.value).endswith(f"= int 1{'0' * 36}... (401 characters)).") and len(str(info.value)) < 250


def test_a_true_value_held_in_a_0d_array_is_taken_as_its_number():
    """``truth={"lens_mass.0.theta_E": np.array(1.2)}`` (``np.asarray`` of a number, ``arr[..., 0]``
    of a 1-D array, or any JAX result, such as ``jnp.median(draws)``) was refused as 'not a finite number', though np.float64(1.2) was taken: a
    0-d array of integers or floats is its number now. One of booleans, of complex numbers, of NaN
    or of more than one value is still refused."""
    import jax.numpy as jnp

    names = ("lens_mass.0.theta_E", "lens_mass.0.e1", "source_light.0.n_sersic")
    truth = {"lens_mass.0.theta_E": np.array(1.2), "lens_mass.0.e1": jnp.asarray(-0.25),
             "source_light.0.n_sersic": np.array(4, dtype=np.int16)}
    kept = check_truth(truth, names)
    assert kept == {"lens_mass.0.theta_E": 1.2, "lens_mass.0.e1": -0.25, "source_light.0.n_sersic": 4.0}
    assert all(type(value) is float for value in kept.values())
    for bad in (np.array(True), np.array(1 + 2j), np.array(np.nan), np.array(np.inf), jnp.asarray(np.nan)):
        with pytest.raises(DataError, match=r"^truth: the true value of lens_mass\.0\.theta_E is not a finite number"):
            check_truth({"lens_mass.0.theta_E": bad, "lens_mass.0.e1": 0.1}, names)


def test_a_masked_true_value_is_refused_not_taken_as_the_number_under_its_mask():
    """An astropy table read from a truth CSV with an empty cell holds it masked: its row gives
    ``np.ma.masked``, a 0-d array of floats whose ``item()`` is 0.0. Taking 0-d arrays as their
    number (f562afa) took it as a true value of 0.0, and np.ma.array(2.5, mask=True) as 2.5,
    where each was refused as no finite number before; they are refused again, and an
    unmasked 0-d masked array is still its number."""
    from astropy.table import MaskedColumn, Table

    names = ("lens_mass.0.theta_E", "lens_mass.0.e1")
    table = Table({"lens_id": ["lens_00000", "lens_00001"],
                   "lens_mass.0.theta_E": MaskedColumn([1.2, 1.3], mask=[True, False]), "lens_mass.0.e1": [0.1, 0.2]})
    assert table[0]["lens_mass.0.theta_E"] is np.ma.masked
    for truth in (table[0], {"lens_mass.0.theta_E": np.ma.array(2.5, mask=True), "lens_mass.0.e1": 0.1}):
        with pytest.raises(DataError, match=r"^truth: the true value of lens_mass\.0\.theta_E is not a finite number "
                                            r"\(got lens_mass\.0\.theta_E = Masked"):
            check_truth(truth, names)
    assert check_truth(table[1], names) == {"lens_mass.0.theta_E": 1.3, "lens_mass.0.e1": 0.2}
    assert check_truth({"lens_mass.0.theta_E": np.ma.array(2.5, mask=False), "lens_mass.0.e1": 0.1}, names) == {
        "lens_mass.0.theta_E": 2.5, "lens_mass.0.e1": 0.1}


def test_a_true_value_in_a_file_that_is_no_number_is_shown_as_read(tmp_path):
    path = tmp_path / "truth.json"
    path.write_text('{"params": {"lens_mass.0.theta_E": true, "lens_mass.0.e1": 0.1}}')
    with pytest.raises(DataError, match=r"truth\.json: the true value of lens_mass\.0\.theta_E is not a finite number "
                                        r"\(got lens_mass\.0\.theta_E = bool True\)\."):
        read_truth(path)


@pytest.mark.parametrize(("name", "table"), [("truth.fits", "a FITS table"), ("truth.fits.gz", "a FITS table"),
                                             ("truth.ecsv", "an ECSV table"), ("truth.csv.gz", "a CSV table"),
                                             ("truth.pq", "a Parquet table"), ("truth.csv", "simulate-population's truth.csv")])
def test_a_table_of_many_lenses_in_any_table_format_is_named_so(tmp_path, name, table):
    """--truth truth.fits (a population's truth table as FITS or ECSV, or a compressed CSV) was
    refused as not JSON, without the hint a truth.csv gets that it is a table of many lenses and
    which lens's truth.json a fit takes; every table name report --truth reads now gets it."""
    import pandas as pd

    from tinylens.results.tables import write_table

    (tmp_path / "lens_00001").mkdir()
    (tmp_path / "lens_00001" / "truth.json").write_text('{"params": {"lens_mass.0.theta_E": 1.0}}')
    write_table(tmp_path / name, pd.DataFrame({"lens_id": ["lens_00001"], "lens_mass.0.theta_E": [1.0]}))
    with pytest.raises(DataError) as err:
        read_truth(tmp_path / name)
    assert str(err.value).startswith(f"{tmp_path / name}: not a JSON file of true parameter values"), err.value
    assert str(err.value).endswith(f" It is a table of many lenses ({table}, which 'tinylens report --truth' reads); a "
                                   f"fit takes its lens's own truth.json, in the lens's folder "
                                   f"(e.g. {tmp_path / 'lens_00001' / 'truth.json'})."), err.value


@pytest.mark.parametrize(("name", "text", "said"), [("truth.csv", "", "0 bytes"), ("truth.json", "", "0 bytes"),
                                                   ("truth.csv", " \n\n", "white space only")])
def test_an_empty_truth_file_is_said_to_be_empty(tmp_path, name, text, said):
    """--truth of an empty file (0 bytes, or blank lines) was refused as 'not a JSON file
    (Expecting value: line 1 column 1 (char 0))' and, named .csv, said to be 'a table of many
    lenses', which it is not: it is said to be empty, and what to give instead."""
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as err:
        read_truth(tmp_path / name)
    assert str(err.value) == (f"The truth file {tmp_path / name} is empty ({said}): give the truth.json of tinylens "
                              "demo or simulate-population."), err.value


@pytest.mark.parametrize(("name", "text"), [("truth.csv", "lens_id,lens_mass.0.theta_E\n"),
                                            ("truth.ecsv", "# %ECSV 1.0\n# ---\nlens_id lens_mass.0.theta_E\n")])
def test_a_truth_table_of_a_header_line_only_is_said_to_have_no_rows(tmp_path, name, text):
    """--truth truth.csv holding only its header line was said to be 'a table of many lenses': it
    is said to be a table with no rows, and which lens's truth.json a fit takes."""
    (tmp_path / "lens_00001").mkdir()
    (tmp_path / "lens_00001" / "truth.json").write_text('{"params": {"lens_mass.0.theta_E": 1.0}}')
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as err:
        read_truth(tmp_path / name)
    assert str(err.value).endswith(" It is a table with no rows (a header line only); a fit takes its lens's own "
                                   f"truth.json, in the lens's folder (e.g. {tmp_path / 'lens_00001' / 'truth.json'})."), err.value
    assert "many lenses" not in str(err.value)


def test_a_json_or_text_file_gets_no_table_hint(tmp_path):
    (tmp_path / "truth.txt").write_text("lens_mass.0.theta_E 1.0\n")
    with pytest.raises(DataError) as err:
        read_truth(tmp_path / "truth.txt")
    assert "table of many lenses" not in str(err.value)


@pytest.mark.parametrize("select", ["one row", "all rows", "dict of lists"])
def test_a_table_of_true_values_is_refused_with_how_to_give_one_row(tmp_path, select):
    """``truth=table[table.lens_id == "lens_00000"]``, the pandas way to pick one lens of
    simulate-population's truth.csv, is a one-row DataFrame, not the row (a Series): its items are
    its columns, and it was refused as 'the true value of lens_mass.0.theta_E, ... and 28 more is
    not a finite number', each column printed over several lines. It is now said to be a table
    of that many rows, with how to give one row; the row itself is still taken."""
    import pandas as pd

    (tmp_path / "truth.csv").write_text("lens_id,lens_mass.0.theta_E,source_light.0.R_sersic,arc_snr_max\n"
                                        "lens_00000,1.25,0.2,12.5\nlens_00001,0.9,0.3,8.0\n")
    table = pd.read_csv(tmp_path / "truth.csv")
    truth, rows = {"one row": (table[table.lens_id == "lens_00000"], "DataFrame of 1 row"),
                   "all rows": (table, "DataFrame of 2 rows"),
                   "dict of lists": ({"lens_mass.0.theta_E": [1.25, 0.9]}, "dict of 2 rows")}[select]
    names = ("lens_mass.0.theta_E", "source_light.0.R_sersic")
    with pytest.raises(DataError) as info:
        check_truth(truth, names, "mine")
    message = str(info.value)
    assert message.startswith(f"mine: got a table ({rows}, a column of values per parameter); give the true values "
                              "of one lens, one row of it: table.iloc[0]")
    assert "not a finite number" not in message and "\n" not in message
    row = table.set_index("lens_id").loc["lens_00000"]  # as the message says
    assert check_truth(row, names) == {"lens_mass.0.theta_E": 1.25, "source_light.0.R_sersic": 0.2}


def test_an_astropy_row_of_the_truth_table_is_taken_as_a_pandas_row_is(tmp_path):
    """``Table.read("mocks/truth.csv")[0]``, simulate-population's truth table read with astropy, was
    refused as 'expected a mapping of parameter name to true value ...; got Row': a Row has keys
    and values but no items. It is now taken as the pandas row is (its lens_id dropped), and the
    whole astropy Table is said to be a table, with table[0] to give."""
    from astropy.table import Table

    (tmp_path / "truth.csv").write_text("lens_id,lens_mass.0.theta_E,source_light.0.R_sersic,arc_snr_max\n"
                                        "lens_00000,1.25,0.2,12.5\nlens_00001,0.9,0.3,8.0\n")
    table = Table.read(tmp_path / "truth.csv", format="ascii.csv")
    names = ("lens_mass.0.theta_E", "source_light.0.R_sersic")
    assert check_truth(table[1], names) == {"lens_mass.0.theta_E": 0.9, "source_light.0.R_sersic": 0.3}
    with pytest.raises(DataError, match=r"mine: got a table \(Table of 2 rows.*of an astropy Table, table\[0\]\)\.$"):
        check_truth(table, names, "mine")


def _fit_result(truth):
    """A FitResult as tinylens.fit returns it (here made by hand, without fitting), whose truth is ``truth``."""
    from tinylens import FitResult
    from tinylens.results.tables import summarize, summary_frame

    names = ("lens_mass.0.theta_E", "source_light.0.R_sersic")
    samples = np.random.default_rng(0).normal([1.2, 0.3], 0.01, size=(20, 2))
    weights = np.full(20, 1 / 20)
    params = summarize(dict(zip(names, samples.T)), weights)
    return FitResult(
        method="nautilus", param_names=names, median={n: s["median"] for n, s in params.items()},
        max_likelihood=dict(zip(names, samples[0].tolist())), max_log_likelihood=1.0,
        interval_68={n: s["interval_68"] for n, s in params.items()},
        interval_997={n: s["interval_997"] for n, s in params.items()}, log_evidence=1.0,
        n_likelihood_evals=100, wall_time_s=1.0, converged=True, derived={}, quality={"trusted": True, "flags": []},
        versions={"tinylens": "0"}, config={"dataset": {"data_path": "image.fits"}}, config_dir=".", files={},
        info={}, output_dir=Path("output"), samples=samples, weights=weights, log_likelihood=np.zeros(20),
        summary=summary_frame(params, {}, 1.0), truth=truth)


@pytest.mark.parametrize("truth", [{"lens_mass.0.theta_E": 1.1}, None])
def test_a_fit_result_given_as_the_truth_is_told_to_give_its_truth(tmp_path, truth):
    """``tinylens.fit(cfg, truth=result)`` (a FitResult, not its truth) was refused as 'expected a mapping
    ...; got FitResult FitResult of image.fits: nautilus, converged, 1,234 likeliho.', its repr cut at 60
    characters and nothing said of what to give; it now names the FitResult and says to give
    result.truth or a truth.json's path, and where the result's truth is None (its fit was given none, or
    it was read back with read_result), says so."""
    import tinylens
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path / "lens")
    before = sorted(p.name for p in config.parent.iterdir())
    result = _fit_result(truth)
    with pytest.raises(DataError) as err:
        tinylens.fit(config, truth=result, progress=False)
    message = str(err.value)
    assert message.startswith("truth: expected a mapping") and "got a FitResult" in message, message
    assert "give result.truth" in message and "the path of a truth.json" in message, message
    assert ("this one's is None" in message) is (truth is None), message
    assert " ".join(repr(result).split())[:40] not in message, message  # no cut repr of the result
    assert sorted(p.name for p in config.parent.iterdir()) == before  # nothing written
    if truth is not None:  # the hint holds: the result's truth is one a fit takes
        assert check_truth(result.truth, result.param_names) == truth
