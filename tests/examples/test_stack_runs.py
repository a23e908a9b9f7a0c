"""examples/mocks/stack_runs.py: two runs with the same lens names stack into one sample that
joins each fit with its own truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts import load_script
from tinylens.results.report import PAPER_QUANTITIES, comparison_frame

THETA = "lens_mass.0.theta_E"


def _run(tmp_path, label: str, truths: list[float], deviations: list[float]):
    ids = [f"lens_{i:05d}" for i in range(len(truths))]
    fitted = np.array(truths) * (1 + np.array(deviations))
    catalog = pd.DataFrame({"lens_id": ids, "status": "ok", f"{THETA}_median": fitted})
    truth = pd.DataFrame({"lens_id": ids, THETA: truths, "arc_snr_total": [30.0] * len(ids)})
    paths = (tmp_path / f"{label}_catalog.csv", tmp_path / f"{label}_truth.csv")
    catalog.to_csv(paths[0], index=False)
    truth.to_csv(paths[1], index=False)
    return label, str(paths[0]), str(paths[1])


def test_same_names_from_two_runs_join_their_own_truths(tmp_path):
    module = load_script("examples/mocks/stack_runs.py")
    runs = [_run(tmp_path, "s1", [1.0, 2.0], [0.01, -0.02]), _run(tmp_path, "s2", [0.5, 1.5, 0.8], [0.0, 0.03, -0.01])]
    module.main([str(tmp_path / "out"), *[a for r in runs for a in ("--run", *r)]])
    catalog = pd.read_csv(tmp_path / "out" / "catalog.csv")
    truth = pd.read_csv(tmp_path / "out" / "truth.csv")
    assert len(catalog) == len(truth) == 5 and catalog["lens_id"].is_unique
    assert "s2/lens_00001" in set(catalog["lens_id"])
    theta = next(q for q in PAPER_QUANTITIES if q.name == THETA)
    joined = comparison_frame(catalog, truth, [theta]).set_index("lens_id")
    assert len(joined) == 5
    # each fit meets its own run's truth: the deviations are the ones put in
    np.testing.assert_allclose(joined.loc[["s1/lens_00000", "s1/lens_00001", "s2/lens_00000", "s2/lens_00001",
                                           "s2/lens_00002"], f"{THETA}_dev"], [0.01, -0.02, 0.0, 0.03, -0.01], atol=1e-12)


def test_a_label_given_again_replaces_the_lenses_it_refits(tmp_path):
    module = load_script("examples/mocks/stack_runs.py")
    first = _run(tmp_path, "s1", [1.0, 2.0, 1.5], [0.01, 0.02, 0.03])
    refit = _run(tmp_path, "refit", [1.0, 2.0], [0.0, -0.005])  # lens_00000 and lens_00001 again
    catalog, truth = module.stack([first, ("s1", refit[1], first[2])])
    assert sorted(catalog["lens_id"]) == ["s1/lens_00000", "s1/lens_00001", "s1/lens_00002"] and len(truth) == 3
    theta = catalog.set_index("lens_id")[f"{THETA}_median"]
    np.testing.assert_allclose(theta[["s1/lens_00000", "s1/lens_00001", "s1/lens_00002"]], [1.0, 1.99, 1.545])


def test_a_label_given_again_with_another_truth_is_refused(tmp_path):
    module = load_script("examples/mocks/stack_runs.py")
    run, other = _run(tmp_path, "s1", [1.0], [0.0]), _run(tmp_path, "s2", [1.0], [0.0])
    with pytest.raises(ValueError, match="two truth tables"):
        module.stack([run, ("s1", other[1], other[2])])


def test_a_catalogue_with_lenses_its_truth_lacks_is_refused(tmp_path):
    module = load_script("examples/mocks/stack_runs.py")
    big = _run(tmp_path, "big", [1.0, 2.0, 1.5], [0.0, 0.0, 0.0])
    small = _run(tmp_path, "small", [1.0], [0.0])
    with pytest.raises(ValueError, match="lens_00001"):
        module.stack([("s1", big[1], small[2])])
    with pytest.raises(SystemExit, match="not in"):
        module.main([str(tmp_path / "out"), "--run", "s1", big[1], small[2]])
    assert not (tmp_path / "out" / "catalog.csv").exists()


def test_a_truth_table_given_as_the_catalogue_is_refused(tmp_path):
    """Catalogue and truth table swapped were stacked ('2 fits and 2 true lenses') and only
    ``tinylens report`` refused the result; now stack_runs says which file is not a catalogue."""
    module = load_script("examples/mocks/stack_runs.py")
    label, catalog, truth = _run(tmp_path, "s1", [1.0, 2.0], [0.0, 0.0])
    with pytest.raises(SystemExit, match=f"the catalogue {truth} has no 'status' column"):
        module.main([str(tmp_path / "out"), "--run", label, truth, catalog])
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_a_file_or_would_replace_an_input_is_refused(tmp_path, capsys):
    """OUT a file was a FileExistsError traceback; OUT the population's folder overwrote its
    truth.csv with the stacked one."""
    module = load_script("examples/mocks/stack_runs.py")
    label, catalog, truth = _run(tmp_path, "s1", [1.0, 2.0], [0.0, 0.0])
    (tmp_path / "pop").mkdir()
    population_truth = tmp_path / "pop" / "truth.csv"
    pd.read_csv(truth).to_csv(population_truth, index=False)
    before = population_truth.read_text()
    for out, message in [(catalog, "is a file"), (str(tmp_path / "pop"), f"would replace the input {population_truth}")]:
        with pytest.raises(SystemExit) as exc:
            module.main([out, "--run", label, catalog, str(population_truth)])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    assert population_truth.read_text() == before
