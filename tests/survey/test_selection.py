"""``tinylens survey --only``: the lens ids it reads from a list, a table or a text file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tinylens.errors import TinyLensError
from tinylens.survey.discovery import Lens
from tinylens.survey.selection import read_lens_ids, select_lenses


def test_ids_separated_by_commas_in_order_each_once():
    assert read_lens_ids("lens_b, lens_a,,lens_b ") == ["lens_b", "lens_a"]


def test_ids_from_inspect_csv_and_parquet(tmp_path):
    """inspect.csv of 'tinylens report' lists the lenses to look at; ids like 0007 stay text."""
    frame = pd.DataFrame({"lens_id": ["0007", "lens_c", "0007"], "status": ["ok", "failed", "ok"],
                          "flags": ["unmodelled_flux", "", "unmodelled_flux"]})
    frame.to_csv(tmp_path / "inspect.csv", index=False)
    assert read_lens_ids(str(tmp_path / "inspect.csv")) == ["0007", "lens_c"]
    frame.rename(columns={"lens_id": "name"}).to_parquet(tmp_path / "chosen.parquet")  # an id alias
    assert read_lens_ids(str(tmp_path / "chosen.parquet")) == ["0007", "lens_c"]


def _ids_read_as_a_table(tmp_path, name: str) -> None:
    """--only of a table written by write_table as ``name`` gives its ids as a CSV's (0007 stays
    text, each once); one with no id column, or missing, is refused so."""
    from tinylens.results.tables import write_table

    frame = pd.DataFrame({"lens_id": ["0007", "lens_c", "0007"], "status": ["ok", "failed", "ok"]})
    write_table(tmp_path / name, frame)
    assert read_lens_ids(str(tmp_path / name)) == ["0007", "lens_c"]
    write_table(tmp_path / name, frame.rename(columns={"lens_id": "lens"}))
    with pytest.raises(TinyLensError, match="has no lens id column"):
        read_lens_ids(str(tmp_path / name))
    with pytest.raises(TinyLensError, match="does not exist"):
        read_lens_ids(str(tmp_path / f"missing_{name}"))


@pytest.mark.parametrize("name", ["inspect.fits", "inspect.fits.gz", "inspect.ecsv", "inspect.ecsv.xz"])
def test_ids_from_a_fits_or_ecsv_table(tmp_path, name):
    """A FITS or ECSV --only table was read as a text file of one id per line: an ECSV's header
    lines and values became ids ('lens_id status', '0007 ok'), a FITS file's header one long id or
    'cannot be read as text'; it is now read as a table, its ids as a CSV's (0007 stays text)."""
    _ids_read_as_a_table(tmp_path, name)


@pytest.mark.parametrize("name", ["inspect.csv.gz", "inspect.csv.bz2", "inspect.csv.xz", "inspect.csv.zip"])
def test_ids_from_a_compressed_csv_table(tmp_path, name):
    """A compressed CSV --only table (as write_table writes it, and tinylens report reads it) was
    read as a text file of ids and refused ('cannot be read as text'); it is now read as a table,
    its ids as a plain CSV's (0007 stays text), a missing one said not to exist."""
    _ids_read_as_a_table(tmp_path, name)


@pytest.mark.parametrize("name", ["inspect.parquet.gz", "inspect.pq.gz"])
def test_a_compressed_parquet_table_is_refused_by_its_name(tmp_path, monkeypatch, name):
    """A gzipped Parquet --only table was read as a text file of ids ('cannot be read as text'), and
    a missing one as an id; both are now named as a table: a compressed Parquet file refused so,
    Parquet compressing its columns inside the file, a missing one said not to exist."""
    import gzip

    pd.DataFrame({"lens_id": ["lens_a"]}).to_parquet(tmp_path / "plain.parquet")
    (tmp_path / name).write_bytes(gzip.compress((tmp_path / "plain.parquet").read_bytes()))
    plain = name.removesuffix(".gz")
    with pytest.raises(TinyLensError) as caught:
        read_lens_ids(str(tmp_path / name))
    assert str(caught.value) == (
        f"The --only table {tmp_path / name} is a Parquet table compressed as .gz, by its name; a Parquet table is "
        f"read only as written, uncompressed, for it compresses its columns inside the file: decompress it to "
        f"{plain}, or write it as {plain} (e.g. pandas DataFrame.to_parquet).")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TinyLensError, match="does not exist"):
        read_lens_ids(f"missing_{name}")  # no such file here: not taken for a lens id


def test_ids_from_a_text_file(tmp_path):
    (tmp_path / "redo.txt").write_text("# lenses to fit again\nlens_a\n\n lens_c  # faint arc\n")
    assert read_lens_ids(str(tmp_path / "redo.txt")) == ["lens_a", "lens_c"]


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (None, "missing.csv", "does not exist"),
        ("a,b\n1,2\n", "t.csv", "has no lens id column"),
        ("# nothing\n\n", "empty.txt", "names no lens"),
        (None, ",,", "names no lens"),
    ],
)
def test_bad_selections_are_named(tmp_path, content, name, expected):
    value = name if content is None and "," in name else str(tmp_path / name)
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(TinyLensError, match=expected) as err:
        read_lens_ids(value)
    assert name in str(err.value)


def test_a_table_with_an_id_column_and_no_rows_lists_no_lens_and_other_empty_lists_are_mistakes(tmp_path):
    """An inspect.csv of a survey whose lenses are all trusted is its header alone: it lists no
    lens on purpose ([]), where a table whose rows have no id, or an empty CSV file, is a mistake."""
    from tinylens.results.overview import INSPECT_COLUMNS

    pd.DataFrame(columns=list(INSPECT_COLUMNS)).to_csv(tmp_path / "inspect.csv", index=False)
    assert read_lens_ids(str(tmp_path / "inspect.csv")) == []
    pd.DataFrame({"name": pd.Series([], dtype=str)}).to_parquet(tmp_path / "none.parquet")
    assert read_lens_ids(str(tmp_path / "none.parquet")) == []
    (tmp_path / "blank_ids.csv").write_text("lens_id,status\n,ok\n")
    with pytest.raises(TinyLensError, match="blank_ids.csv names no lens"):
        read_lens_ids(str(tmp_path / "blank_ids.csv"))
    (tmp_path / "zero.csv").write_text("")
    with pytest.raises(TinyLensError, match="zero.csv could not be read as a CSV table"):
        read_lens_ids(str(tmp_path / "zero.csv"))


def test_select_lenses_refuses_ids_that_are_not_lens_folders(tmp_path):
    lenses = [Lens(n, tmp_path / n) for n in ("lens_a", "lens_b", "lens_c")]
    assert [lens.lens_id for lens in select_lenses(lenses, ["lens_c", "lens_a"], tmp_path)] == ["lens_c", "lens_a"]
    with pytest.raises(TinyLensError, match=r"--only names 2 lenses with no lens folder in .*: lens_x, lens_y\. "):
        select_lenses(lenses, ["lens_a", "lens_x", "lens_y"], Path(tmp_path))
    with pytest.raises(TinyLensError, match=r"--only names 1 lens with no lens folder in .*: lens_x\. "):
        select_lenses(lenses, ["lens_a", "lens_x"], Path(tmp_path))
