"""The files a survey lens's fit writes into its output folder are the user's (named in the
config's ``output``) or tinylens's own, reserved names: a user cannot pick a name that clashes."""

from __future__ import annotations

from tinylens import filenames
from tinylens.config import load_config
from tinylens.fit import file_names
from tinylens.survey import runner


def test_every_file_a_lens_fit_writes_is_reserved_or_chosen_by_the_user(tmp_path, mock_survey):
    template = runner.load_template(mock_survey["template"])
    template["inference"]["settings"].update(n_like_max=400, seed=1)  # stops early: its checkpoints stay
    template["output"] = {"keep_checkpoint": True, "draw_figures": "all",
                          "tables": {"samples": "my_samples.csv", "summary": "my_summary.csv"},
                          "figures": {"results": "my_model.png", "corner": "my_corner.png"},
                          "datasets": {"subplot": "my_data.png"}}
    lens = runner.Lens("lens_b", mock_survey["lenses"] / "lens_b")
    folder = lens.output(tmp_path)
    config = runner.lens_config(template, lens, tmp_path)
    row = runner.fit_lens(lens.lens_id, config, str(folder))
    assert row["status"] == "ok", row

    chosen = set(file_names(load_config(config)[0]).values())
    written = {path.name for path in folder.iterdir()}
    assert chosen <= written  # the user's names were taken
    assert {"checkpoint.hdf5", "checkpoint.pipeline.json", "row.json"} <= written  # a fit's and a survey's own
    assert written - chosen <= set(filenames.RESERVED), written - chosen - set(filenames.RESERVED)
