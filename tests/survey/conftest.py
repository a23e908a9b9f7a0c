"""Fixtures of the survey tests; the mock lenses are made by ``survey_mocks``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from survey_mocks import THETA_E, template_config, write_broken_lens, write_lens

#: How long a local cluster of these tests keeps a nanny whose worker is gone. distributed's
#: SpecCluster closes a nanny (for good) when, distributed.deploy.lost-worker-timeout (15 s) after one of
#: its workers was removed, no worker of its name is connected: a test that kills its worker again and
#: again (each restart taking ~7-12 s on 2 loaded cores) could hit that moment between two restarts, and
#: its survey, given the scheduler's address, then waited for ever for a worker (seen: 'Closing Nanny ...
#: Reason: nanny-close' 15 s after a death, test_a_lens_killed_while_waiting_is_resubmitted_... hung).
LOST_WORKER_TIMEOUT = "1h"


@pytest.fixture(autouse=True)
def nannies_kept_while_they_restart():
    """A nanny of a test's local cluster is never closed for a worker it is still starting again."""
    import dask
    import distributed  # noqa: F401 - its defaults loaded first: leaving the set below must not drop them

    with dask.config.set({"distributed.deploy.lost-worker-timeout": LOST_WORKER_TIMEOUT}):
        yield


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
