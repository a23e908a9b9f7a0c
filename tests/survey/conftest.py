"""Fixtures of the survey tests; the mock lenses are made by ``survey_mocks``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from survey_mocks import THETA_E, template_config, write_broken_lens, write_lens


@pytest.fixture(scope="session")
def mock_survey(tmp_path_factory) -> dict[str, Path]:
    """``lenses`` (lens_a..lens_c, lens_c with a mask, and a broken lens_bad) and ``template``."""
    root = tmp_path_factory.mktemp("survey")
    lenses = root / "lenses"
    for i, (name, theta_e) in enumerate(THETA_E.items()):
        write_lens(lenses / name, theta_e, seed=i, mask=name == "lens_c")
    write_broken_lens(lenses / "lens_bad")
    (lenses / "notes").mkdir()  # a folder without lens files is not a lens
    template = root / "template.yaml"
    template.write_text(yaml.safe_dump(template_config(), sort_keys=False))
    return {"lenses": lenses, "template": template}
