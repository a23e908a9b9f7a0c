"""output.tables names as TinyLensGpu reads them: it writes each table with astropy's
``Table.write``, in the format the name's suffix says, so ``result_samples.fits`` is a FITS table."""

from __future__ import annotations

import re

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


def _read_back(path, kind):
    """The table at ``path`` as each format's own reader reads it, by the format named (not guessed)."""
    import pandas as pd

    if kind == "json":
        return pd.read_json(path, precise_float=True)  # pandas decompresses by the name's end
    return Table.read(path, format={"fits": "fits", "ecsv": "ascii.ecsv"}[kind]).to_pandas()


@pytest.mark.parametrize("name, kind, magic", [
    ("result_samples.json.gz", "json", b"\x1f\x8b"), ("result_samples.ecsv.gz", "ecsv", b"\x1f\x8b"),
    ("result_samples.json.bz2", "json", b"BZh"), ("result_samples.ecsv.xz", "ecsv", b"\xfd7zXZ"),
    ("result_samples.fits.gz", "fits", b"\x1f\x8b"), ("result_samples.FITS.GZ", "fits", b"\x1f\x8b"),
    ("result_samples.fit.bz2", "fits", b"BZh"), ("result_samples.fts.xz", "fits", b"\xfd7zXZ"),
])
def test_a_compressed_json_ecsv_or_fits_name_is_that_format_compressed(tmp_path, name, kind, magic):
    """result_samples.json.gz, .ecsv.gz (and .fits.bz2, .FITS.GZ...) were written as a compressed
    CSV (or, .FITS.GZ, an uncompressed FITS file) under that name, which pandas.read_json and
    astropy refuse; each is now the format its name says, compressed as its name says, and
    reads back as the frame written."""
    import pandas as pd

    rng = np.random.default_rng(3)
    frame = samples_frame(["lens_mass.0.theta_E", "lens_mass.0.e1"], rng.random((6, 2)), rng.random(6) + 0.1,
                          -rng.random(6))
    path = write_table(tmp_path / name, frame)
    assert path.read_bytes()[:len(magic)] == magic
    pd.testing.assert_frame_equal(_read_back(path, kind), frame, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("name, fragment", [
    ("result_samples.parquet.gz", "a Parquet table compresses its columns itself"),
    ("result_samples.pq.xz", "a Parquet table compresses its columns itself"),
    ("result_samples.json.zip", "a JSON table is compressed as .gz, .bz2 or .xz only, not as .zip"),
    ("result_samples.fits.zst", "a FITS table is compressed as .gz, .bz2 or .xz only, not as .zst"),
    ("result_samples.ecsv.zip", "an ECSV table is compressed as .gz, .bz2 or .xz only, not as .zip"),  # not 'a ECSV'
])
def test_a_table_name_no_file_of_its_format_can_be_written_under_is_refused(tmp_path, name, fragment):
    """result_samples.parquet.gz was a gzipped CSV under that name; a name whose format takes no
    such compression is now refused by the config, before any work, and by write_table, which
    writes nothing."""
    from tinylens.config.loader import load_config
    from tinylens.errors import ConfigError

    with pytest.raises(ValueError, match=re.escape(fragment)):
        write_table(tmp_path / name, _frames()["summary"])
    assert list(tmp_path.iterdir()) == []
    config = {"dataset": {"data_path": "a.fits", "noise_path": "b.fits", "psf_path": "c.fits", "pixel_scale": 0.05},
              "model_components": {"lens_mass_list": [], "source_light_list": [], "lens_light_list": []},
              "output": {"tables": {"samples": name}}}
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "output.tables.samples" in str(err.value) and fragment in str(err.value) and name in str(err.value)


@pytest.mark.parametrize("name", ["result_samples.csv.gz", "result_samples.gz", "result_samples.txt.bz2"])
def test_a_compressed_csv_name_is_still_a_compressed_csv(tmp_path, name):
    import pandas as pd

    frame = _frames()["samples"]
    pd.testing.assert_frame_equal(pd.read_csv(write_table(tmp_path / name, frame)), frame, rtol=0, atol=0)


@pytest.mark.parametrize("name, member", [
    ("result_samples.csv.zip", "result_samples.csv"), ("result_samples.csv.tar", "result_samples.csv"),
    ("result_samples.csv.tar.gz", "result_samples.csv"), ("result_samples.csv.tar.bz2", "result_samples.csv"),
    ("result_samples.csv.tar.xz", "result_samples.csv"), ("Samples.CSV.TAR.GZ", "Samples.CSV"),
])
def test_a_csv_name_of_an_archive_is_that_archive_of_one_file_named_as_the_table(tmp_path, name, member):
    """A CSV table is written to a hidden temporary file and renamed, and pandas named a zip or
    tar archive's one file after that temporary name ('.result_samples.csv.unfinished-0an9mcex',
    a hidden file for whoever unpacks it), and took a .tar.gz name's compression from the last
    suffix alone: a gzipped CSV, no tar, which pandas.read_csv (and tar) then refused. Each is
    now the archive its name says, of one file named as the table without the archive's suffix."""
    import tarfile
    import zipfile

    import pandas as pd

    frame = _frames()["samples"]
    path = write_table(tmp_path / name, frame)
    if name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist() == [member]
    else:
        magic = {".gz": b"\x1f\x8b", ".bz2": b"BZh", ".xz": b"\xfd7zXZ"}.get(path.suffix.lower(), b"")
        assert path.read_bytes().startswith(magic)  # compressed as the name's last suffix says
        with tarfile.open(path) as archive:  # any compression, told by the bytes
            assert archive.getnames() == [member]
    pd.testing.assert_frame_equal(pd.read_csv(path), frame, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_zstandard_csv_name_is_refused_where_zstandard_is_not_installed(tmp_path, monkeypatch):
    """pandas writes a .zst CSV only with the zstandard package: without it such a name passed the
    config and a finished fit then failed as it wrote its tables ('ImportError: Import zstandard
    failed'), its result.json unwritten. It is now refused when the config is read, where the
    package is not installed, and taken where it is."""
    from tinylens.config.loader import load_config
    from tinylens.config.schema import Tables
    from tinylens.errors import ConfigError
    from tinylens.results import table_formats

    installed: set[str] = set()
    monkeypatch.setattr(table_formats, "find_spec", lambda name: object() if name in installed else None,
                        raising=False)
    config = {"dataset": {"data_path": "a.fits", "noise_path": "b.fits", "psf_path": "c.fits", "pixel_scale": 0.05},
              "model_components": {"lens_mass_list": [], "source_light_list": [], "lens_light_list": []},
              "output": {"tables": {"samples": "result_samples.csv.zst"}}}
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert ("output.tables.samples: cannot be written as its name says: a table compressed as .zst needs the "
            "zstandard package, which is not installed here (pip install zstandard); name it result_samples.csv.gz "
            "or result_samples.csv; got 'result_samples.csv.zst'.") in str(err.value)
    with pytest.raises(ValueError, match="needs the zstandard package"):
        write_table(tmp_path / "result_samples.csv.zst", _frames()["summary"])
    assert list(tmp_path.iterdir()) == []
    installed.add("zstandard")
    assert Tables(samples="result_samples.csv.zst").samples == "result_samples.csv.zst"


def test_a_true_false_column_with_missing_values_is_refused_as_fits_and_kept_missing_in_ecsv(tmp_path):
    """write_table wrote a nullable boolean column (a catalogue's ``trusted``, missing for a
    failed lens) to FITS as True in every missing row, and astropy read it back so: a failed
    lens became trusted. FITS logical columns hold no missing value astropy reads back, so such
    a frame is now refused as FITS, naming the column and rows and writing nothing; ECSV keeps
    the missing value (read back masked), and a boolean column with none missing is FITS as before."""
    import pandas as pd

    frame = pd.DataFrame({"lens_id": ["a", "b", "c"], "trusted": pd.array([True, None, False], dtype="boolean")})
    with pytest.raises(ValueError) as err:
        write_table(tmp_path / "catalog.fits", frame)
    assert str(err.value) == (
        f"Table {tmp_path / 'catalog.fits'} cannot be written as FITS: its true/false column 'trusted' is missing in "
        "row 1 (counting from 0), which a FITS logical column cannot hold (it would read back as True or False); "
        "name it .ecsv or .parquet, which keep a missing value missing.")
    assert list(tmp_path.iterdir()) == []
    several = pd.DataFrame({"trusted": pd.array([None] * 7 + [True], dtype="boolean")})  # said 'row(s)' for any
    with pytest.raises(ValueError, match=r"'trusted' is missing in rows 0, 1, 2, 3, 4 and 2 more \(counting from 0\)"):
        write_table(tmp_path / "catalog.fits", several)
    read = Table.read(write_table(tmp_path / "catalog.ecsv", frame), format="ascii.ecsv")
    assert list(read["trusted"].mask) == [False, True, False] and read["trusted"][[0, 2]].tolist() == [True, False]
    whole = frame.assign(trusted=pd.array([True, True, False], dtype="boolean"))
    assert list(Table.read(write_table(tmp_path / "whole.fits", whole), format="fits")["trusted"]) == [True, True, False]


@pytest.mark.parametrize("values, types", [([1.0, "a"], "float, str"), ([1, 2], "int"), (["a", None], "NoneType, str")])
def test_a_column_of_python_objects_is_refused_as_fits_naming_the_file_and_column(tmp_path, values, types):
    """An object column, as a catalogue built by hand gives (``converged = [True, None]``), went to
    astropy, which raised a TypeError ('Column ... contains unsupported object types or mixed
    types', or 'len() of unsized object') naming neither the file nor what to do, or a VerifyError
    for text with a None. It is now a ValueError naming the file and column, before any writing: a
    true/false one with a missing value as a nullable boolean column is, any other of objects other
    than text with what they are; a text column, with NaN for a missing value, is FITS as before."""
    import pandas as pd

    where = f"Table {tmp_path / 'catalog.fits'} cannot be written as FITS: "
    frame = pd.DataFrame({"lens_id": ["a", "b"], "converged": pd.Series([True, None], dtype=object)})
    with pytest.raises(ValueError) as err:
        write_table(tmp_path / "catalog.fits", frame)
    assert str(err.value).startswith(where + "its true/false column 'converged' is missing in row 1 (counting "
                                     "from 0), which a FITS logical column cannot hold"), err.value
    frame = pd.DataFrame({"lens_id": ["a", "b"], "note": pd.Series(values, dtype=object)})
    with pytest.raises(ValueError) as err:
        write_table(tmp_path / "catalog.fits", frame)
    assert str(err.value) == where + (
        f"its column 'note' holds Python objects ({types}; pandas dtype object), which a FITS column cannot hold; give "
        "it one type (frame['note'].astype(float) for numbers, .fillna('') for text) or name it .ecsv, which keeps them.")
    assert list(tmp_path.iterdir()) == []
    text = pd.DataFrame({"lens_id": ["a", "b"], "note": pd.Series(["x", np.nan], dtype=object)})
    read = Table.read(write_table(tmp_path / "text.fits", text), format="fits")["note"]
    assert read[0] == "x" and list(read.mask) == [False, True]


@pytest.mark.parametrize("name", ["catalog.parquet", "catalog.pq"])
@pytest.mark.parametrize("values, types", [([1.0, "a"], "float, str"), (["a", 1.0], "float, str"), ([[1], 2], "int, list")])
def test_a_column_of_mixed_python_objects_is_refused_as_parquet_naming_the_file_and_column(tmp_path, name, values, types):
    """An object column of several types (``[1.0, 'a']``) went to pyarrow, which raised its
    ArrowInvalid or ArrowTypeError ('Could not convert 'a' with type str: tried to convert to
    double') naming neither the file nor what to do. It is now a ValueError naming the file and
    column, and nothing is written; a text column with a missing value is Parquet as before."""
    import pandas as pd

    frame = pd.DataFrame({"lens_id": ["a", "b"], "note": pd.Series(values, dtype=object)})
    with pytest.raises(ValueError) as err:
        write_table(tmp_path / name, frame)
    assert str(err.value).startswith(f"Table {tmp_path / name} cannot be written as Parquet: its column 'note' holds "
                                     f"Python objects ({types}; pandas dtype object) that a Parquet column cannot "
                                     "hold ("), err.value
    assert str(err.value).endswith("; give it one type (frame['note'].astype(float) for numbers, .astype(str) for "
                                   "text) or name it .ecsv, which keeps them."), err.value
    assert list(tmp_path.iterdir()) == []
    text = pd.DataFrame({"lens_id": ["a", "b"], "note": pd.Series(["x", None], dtype=object)})
    read = pd.read_parquet(write_table(tmp_path / name, text))["note"]
    assert read[0] == "x" and read.isna().tolist() == [False, True]


@pytest.mark.parametrize("name, kind", [("catalog.fits", "FITS"), ("catalog.fits.gz", "FITS"), ("catalog.ecsv", "ECSV"),
                                        ("catalog.json", "JSON"), ("catalog.json.gz", "JSON"),
                                        ("catalog.parquet", "Parquet")])
def test_a_table_other_than_csv_with_a_column_name_held_twice_is_refused_naming_the_file_and_column(tmp_path, name, kind):
    """fits_problem took each column as frame[name], which for a name held twice is a DataFrame,
    so write_table of such a frame under a .fits name raised a ValueError about a Series' truth
    value, and one whose check got past it (or under an .ecsv name) astropy's AttributeError
    ('DataFrame' object has no attribute 'dtype'); each is now a ValueError naming the file and
    the column, with nothing written. Under a .json name pandas wrote the records with the last
    column of the name alone (a UserWarning its only sign): data lost without an error; under a
    .parquet name pandas refused it ('Duplicate column names found'), naming no file (and before
    that its check of object columns raised AttributeError, taking the name's columns for one)."""
    import pandas as pd

    for values in ([1.0, 2.0], ["a", "b"], [True, None]):
        frame = pd.DataFrame([values], columns=["x", "x"])
        with pytest.raises(ValueError) as info:
            write_table(tmp_path / name, frame)
        assert str(info.value) == (
            f"Table {tmp_path / name} cannot be written as {kind}: its column name 'x' is held more than once "
            f"(columns 0, 1, counting from 0), which a {kind} table cannot hold; give each column its own name.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["result_samples.ecsv", "result_samples.fits", "result_samples.fits.gz"])
def test_an_ecsv_or_fits_table_carries_each_parameters_unit_and_what_its_columns_hold(tmp_path, name):
    """An ECSV or FITS table, which can carry units and descriptions, carried none: theta_E, the
    centres and R_sersic (arcsec, as the README says) read back with no unit. Each parameter
    column now has its unit (an offset its parameter's; e1 none), and the columns tinylens makes
    (weight, log_likelihood; the summary's median, percentiles, kind) a description; the
    values read back as written."""
    import pandas as pd

    rng = np.random.default_rng(1)
    names = ["lens_mass.0.theta_E", "lens_mass.0.e1", "lens_light.0.center_x_offset", "source_light.0.R_sersic",
             "lens_mass.0.center_y"]
    samples = samples_frame(names, rng.random((5, 5)), np.ones(5), -rng.random(5))
    fmt = "ascii.ecsv" if name.endswith(".ecsv") else "fits"
    read = Table.read(write_table(tmp_path / name, samples), format=fmt)
    units = {c: None if read[c].unit is None else read[c].unit.to_string() for c in read.colnames}
    assert units == {"lens_mass.0.theta_E": "arcsec", "lens_mass.0.e1": None, "lens_light.0.center_x_offset": "arcsec",
                     "source_light.0.R_sersic": "arcsec", "lens_mass.0.center_y": "arcsec", "weight": None,
                     "log_likelihood": None}
    assert "posterior weight" in read["weight"].description and "log-likelihood" in read["log_likelihood"].description
    pd.testing.assert_frame_equal(read.to_pandas(), samples, rtol=0, atol=0)
    summary = Table.read(write_table(tmp_path / name.replace("samples", "summary"), _frames()["summary"]), format=fmt)
    assert "median" in summary["median"].description and "99.7 %" in summary["percentile_99.865"].description
    assert all(summary[c].unit is None for c in summary.colnames)  # one row per quantity: units differ by row


def test_the_external_shears_centre_is_in_arcsec_in_a_table_and_on_a_figure(tmp_path):
    """A SHEAR's ra_0 and dec_0, positions about which it shears (x - ra_0, in the image's arcsec
    coordinates, as a centre_x), read back from an ECSV table with no unit and had none on the
    corner plot's axis; they are now arcsec, as the centres are (gamma1 still has none)."""
    from tinylens.results.plots import label

    names = ["lens_mass.1.gamma1", "lens_mass.1.ra_0", "lens_mass.1.dec_0", "lens_mass.1.dec_0_offset"]
    samples = samples_frame(names, np.full((2, 4), 0.1), np.ones(2), np.zeros(2))
    read = Table.read(write_table(tmp_path / "result_samples.ecsv", samples), format="ascii.ecsv")
    assert [None if read[c].unit is None else read[c].unit.to_string() for c in names] == [None, *["arcsec"] * 3]
    assert label("lens_mass.1.ra_0").endswith("[arcsec]") and label("lens_mass.1.dec_0").endswith("[arcsec]")
    assert "[" not in label("lens_mass.1.gamma1")


@pytest.mark.parametrize("name", ["result_samples.csv", "result_samples.parquet"])
def test_a_csv_or_parquet_table_has_no_unit_columns_or_metadata_added(tmp_path, name):
    import pandas as pd

    frame = _frames()["samples"]
    path = write_table(tmp_path / name, frame)
    read = pd.read_csv(path) if name.endswith(".csv") else pd.read_parquet(path)
    pd.testing.assert_frame_equal(read, frame, rtol=0, atol=0)
    if name.endswith(".csv"):
        assert path.read_text() == frame.to_csv(index=False)
