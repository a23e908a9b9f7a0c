"""output.tables names as TinyLensGpu reads them: it writes each table with astropy's
``Table.write``, in the format the name's suffix says, so ``result_samples.fits`` is a FITS table."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from tinylens.results.tables import samples_frame, summarize, summary_frame, write_table


def _frames():
    rng = np.random.default_rng(0)
    stats = summarize({"lens_mass.0.theta_E": rng.random(50), "source_light.0.R_sersic": rng.random(50)})
    summary = summary_frame(stats, {"lens_mass.0.q": stats["lens_mass.0.theta_E"]}, -12.5)
    samples = samples_frame(["lens_mass.0.theta_E", "lens_mass.0.e1"], rng.random((6, 2)), np.ones(6), -rng.random(6))
    return {"summary": summary, "samples": samples}


@pytest.mark.parametrize("name", ["result_samples.fits", "result_samples.FIT", "result_samples.fits.gz",
                                  "result_samples.ecsv"])
@pytest.mark.parametrize("table", ["samples", "summary"])
def test_a_fits_or_ecsv_table_name_is_written_in_that_format(tmp_path, name, table):
    """Such a name was written as CSV text, a file FITS and ECSV readers refuse."""
    frame = _frames()[table]
    path = write_table(tmp_path / name, frame)
    read = Table.read(path, format="ascii.ecsv" if name.endswith(".ecsv") else "fits")
    assert read.colnames == list(frame.columns)
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            np.testing.assert_array_equal(np.ma.filled(read[column], np.nan), frame[column].to_numpy())
        else:
            assert list(read[column]) == list(frame[column])
