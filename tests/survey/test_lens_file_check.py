"""The dry run's check of every lens's files (survey_template.refused_files), from their FITS headers."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import yaml
from astropy.io import fits
from typer.testing import CliRunner

import tinylens
from tinylens.cli.main import app
from tinylens.data.fits_io import write_fits_image
from tinylens.errors import ConfigError, ConfigTypeError, ConfigValueError, DataError
from tinylens.survey import discovery
from tinylens.survey import rows as survey_rows
from tinylens.survey import runner
from tinylens.survey import task
from tinylens.survey import template as survey_template
from survey_mocks import SHAPE, template_config, write_lens


def _lenses(root: Path) -> dict[str, str]:
    """Lens folders under ``root/lenses``, made by copying one good lens, each but the good ones
    with one fault; returns what each fault is (``""``: none)."""
    good = write_lens(root / "good", 1.0, seed=0)
    lenses = root / "lenses"
    faults = {"lens_00": "", "lens_01": "image not FITS", "lens_02": "noise missing", "lens_03": "noise of another shape",
              "lens_04": "even PSF", "lens_05": "mask of another shape", "lens_06": "image a cube",
              "lens_07": "", "lens_08": "", "lens_09": "image one row"}
    for name in faults:
        shutil.copytree(good, lenses / name)
    (lenses / "lens_01" / "image.fits").write_bytes(np.random.default_rng(1).bytes(2880))
    (lenses / "lens_02" / "noise.fits").unlink()
    write_fits_image(lenses / "lens_03" / "noise.fits", np.ones((SHAPE[0] - 2, SHAPE[1])))
    write_fits_image(lenses / "lens_04" / "psf.fits", np.ones((4, 4)))
    write_fits_image(lenses / "lens_05" / "mask.fits", np.ones((SHAPE[0], SHAPE[1] + 1)))
    write_fits_image(lenses / "lens_06" / "image.fits", np.ones((3, *SHAPE)))
    write_fits_image(lenses / "lens_09" / "image.fits", np.ones((1, SHAPE[1])))
    # good lenses in the other forms a lens file may take: gzipped, tile-compressed, a mask of the right shape
    image = lenses / "lens_07" / "image.fits"
    image.with_name("image.fits.gz").write_bytes(gzip.compress(image.read_bytes()))
    image.unlink()
    noise = lenses / "lens_08" / "noise.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(fits.getdata(noise))]).writeto(noise.with_name("noise.fits.fz"))
    noise.unlink()
    write_fits_image(lenses / "lens_00" / "mask.fits", np.zeros(SHAPE))  # 0: pixel fitted
    return faults


def _load_error(template: dict, lens: discovery.Lens, out: Path) -> str:
    """The DataError that loading ``lens``'s config for its fit raises (``""``: none)."""
    try:
        tinylens.load(survey_template.lens_config(template, lens, out))
    except DataError as exc:
        return str(exc)
    return ""


def test_a_dry_run_names_every_lens_whose_files_its_fit_would_refuse_as_the_fit_says_it(tmp_path):
    """The dry run checked the template with the first lens to fit only, so a lens whose file was
    missing, not FITS or of another shape than its image, anywhere among thousands, was found
    only when its fit failed, hours into the run. survey_plan now reads the headers of every lens
    to fit ('refused'), with for each the very message its fit gives (tinylens.load, which reads
    the pixels, is the truth here), and names no good lens (gzipped, tile-compressed, masked)."""
    faults = _lenses(tmp_path)
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(template_config()))
    out = tmp_path / "out"
    plan = runner.survey_plan(tmp_path / "lenses", template, out, check=False)
    assert sorted(plan["refused"]) == sorted(name for name, fault in faults.items() if fault)
    config = survey_template.load_template(template)
    for lens in discovery.find_lenses(tmp_path / "lenses"):
        assert plan["refused"].get(lens.lens_id, "") == _load_error(config, lens, out), lens.lens_id
    assert str(tmp_path / "lenses" / "lens_02" / "noise.fits") in plan["refused"]["lens_02"]
    assert not out.exists()
    # a template's own mask of another shape than the lenses' images: every lens without a mask of its own
    config = template_config()
    write_fits_image(tmp_path / "mask.fits", np.ones((8, 8)))
    config["dataset"]["mask_path"] = "mask.fits"  # relative to the template
    template.write_text(yaml.safe_dump(config))
    plan = runner.survey_plan(tmp_path / "lenses", template, out, check=False, only=["lens_00", "lens_07", "lens_08"])
    assert sorted(plan["refused"]) == ["lens_07", "lens_08"]
    assert f"The mask {tmp_path / 'mask.fits'} has shape 8 x 8" in plan["refused"]["lens_07"]


def test_the_dry_run_cli_lists_each_refused_lens_with_its_file(tmp_path):
    faults = _lenses(tmp_path)
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(template_config()))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["survey", str(tmp_path / "lenses"), "-c", str(template), "--out", str(out),
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not out.exists()
    bad = [name for name, fault in faults.items() if fault]
    assert f"{len(bad)} lenses to fit will fail on their files" in " ".join(result.output.split())
    listed = [line.split(":")[0].strip() for line in result.output.splitlines() if line.startswith("  lens_")]
    assert listed == bad
    assert "the template works (checked with lens_00" in " ".join(result.output.split())


@pytest.mark.parametrize("n", [20, 23])
def test_the_dry_run_lists_at_most_twenty_refused_lenses_and_names_the_others(tmp_path, n):
    """A mask of another shape than the images refuses every lens alike (here each lens's own; a
    template's is now refused as the template's), and the dry run printed its long message once
    for each lens, thousands of lines for a survey of thousands; it now lists the first 20 lenses with their messages and names the others on one
    line ('... and 3 more lenses whose files would be refused: ...'); 20 or fewer are all listed."""
    good = write_lens(tmp_path / "good", 1.0, seed=0)
    write_fits_image(good / "mask.fits", np.ones((8, 8)))  # each lens's own mask, of the wrong shape (a template's: refused at once)
    ids = [f"lens_{i:02d}" for i in range(n)]
    for lens_id in ids:
        shutil.copytree(good, tmp_path / "lenses" / lens_id)
    config = template_config()
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["survey", str(tmp_path / "lenses"), "-c", str(template), "--out", str(out),
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not out.exists()
    text = " ".join(result.output.split())
    assert f"{n} lenses to fit will fail on their files" in text
    shown = [line for line in result.output.splitlines() if line.startswith("  lens_")]
    assert [line.split(":")[0].strip() for line in shown] == ids[:20]
    assert all("has shape 8 x 8" in line for line in shown)
    more = [line for line in result.output.splitlines() if line.startswith("  ... and")]
    if n > 20:
        assert more == [f"  ... and {n - 20} more lenses whose files would be refused: {', '.join(ids[20:])}"]
    else:
        assert more == []


@pytest.mark.parametrize("shape", [(5, 7), (1, 6, 9), (6, 9, 1)])
def test_read_fits_shape_gives_the_shape_read_fits_image_reads(tmp_path, shape):
    from tinylens.data.fits_io import read_fits_image, read_fits_shape

    path = write_fits_image(tmp_path / "a.fits", np.zeros(shape))
    assert read_fits_shape(path, "x")[0] == read_fits_image(path, "x").shape


def whole_fits_bytes(tmp_path, ext: str) -> tuple[bytes, int]:
    """A 5 x 7 image's FITS file as bytes (in the primary HDU, or in [1] where ``ext`` is "[1]") and the byte
    its pixels end at: its last 2880-byte block holds the pixels, then padding."""
    image = np.arange(35.0).reshape(5, 7)
    whole = tmp_path / "whole.fits"
    hdus = [fits.PrimaryHDU(image)] if not ext else [fits.PrimaryHDU(), fits.ImageHDU(image)]
    fits.HDUList(hdus).writeto(whole)
    raw = whole.read_bytes()
    return raw, len(raw) - 2880 + image.nbytes


@pytest.mark.parametrize("ext", ["", "[1]"])
def test_read_fits_shape_refuses_a_file_cut_short_as_read_fits_image_does(tmp_path, ext):
    """A FITS file cut short (a download or copy stopped), its header whole, was passed by
    read_fits_shape, which reads headers alone, so the dry run said nothing of a lens whose fit
    would refuse it; it is now refused where read_fits_image (the truth here) refuses it, in its
    pixels or right after its header, and passed where only the padding after its pixels is
    missing, which read_fits_image reads."""
    from tinylens.data.fits_io import read_fits_image, read_fits_shape

    raw, data_end = whole_fits_bytes(tmp_path, ext)
    for cut, refused in ((len(raw) - 2880, True), (data_end - 8, True), (data_end, False), (len(raw), False)):
        path = tmp_path / f"cut{cut}.fits"
        path.write_bytes(raw[:cut])
        try:
            read_fits_image(f"{path}{ext}", "x")
        except DataError:
            assert refused, cut
        else:
            assert not refused, cut
        if refused:
            with pytest.raises(DataError, match="could not be read as a FITS image") as raised:
                read_fits_shape(f"{path}{ext}", "x")
            assert str(path) in str(raised.value) and f"{cut} bytes long" in str(raised.value)
        else:
            assert read_fits_shape(f"{path}{ext}", "x")[0] == (5, 7)


def test_a_dry_run_checks_the_template_with_a_lens_whose_files_are_not_refused(tmp_path):
    """The dry run checked the template with the first three lenses to fit; where their files were
    broken it said the template could not be checked, though a later lens's were fine. It now tries
    the lenses whose files are not refused first, and checks it with one of them."""
    _lenses(tmp_path)
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(template_config()))
    plan = runner.survey_plan(tmp_path / "lenses", template, tmp_path / "out",
                              only=["lens_01", "lens_02", "lens_03", "lens_04", "lens_07"])
    assert plan["checked_with"] == "lens_07" and plan["broken"] == {}
    assert sorted(plan["refused"]) == ["lens_01", "lens_02", "lens_03", "lens_04"]


@pytest.mark.parametrize("first_fine", [True, False])
def test_a_survey_refuses_a_broken_template_up_front_though_its_first_lenses_files_are_broken(tmp_path, first_fine):
    """A survey checked the template with its first three lenses to fit; where their files were
    broken (not FITS, missing, of another shape) it started without a check, and a template's
    mistake then failed every lens one by one. It now tries the lenses whose files their FITS
    headers pass first, so the template is refused before any fit, as with a first lens that is fine."""
    good = write_lens(tmp_path / "good", 1.0, seed=0)
    ids = ["lens_0", "lens_1", "lens_2", "lens_3"]
    for lens_id in ids:
        shutil.copytree(good, tmp_path / "lenses" / lens_id)
    broken = ids[1:] if first_fine else ids[:3]
    (tmp_path / "lenses" / broken[0] / "image.fits").write_bytes(np.random.default_rng(1).bytes(2880))
    (tmp_path / "lenses" / broken[1] / "noise.fits").unlink()
    write_fits_image(tmp_path / "lenses" / broken[2] / "noise.fits", np.ones((SHAPE[0] - 2, SHAPE[1])))
    config = template_config()
    config["inference"]["settings"]["nlives"] = 100  # no setting of nautilus's: the template's mistake
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    with mock.patch.object(runner, "_fit_lenses", return_value=None) as fitted, mock.patch.object(runner, "dask_client"):
        result = CliRunner().invoke(app, ["survey", str(tmp_path / "lenses"), "-c", str(template), "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    fine = "lens_0" if first_fine else "lens_3"
    assert text.startswith("Error:") and f"does not work (checked with lens {fine})" in text, text
    assert "inference.settings.nlives" in text and "Traceback" not in result.output
    assert not fitted.called and not out.exists()


def test_the_lenses_a_template_is_checked_with_are_header_checked_only_as_far_as_needed(monkeypatch):
    """The check's choice reads the headers lens by lens and stops at ``tries`` lenses that pass,
    so a healthy survey of thousands pays for a few header checks; where fewer pass, the first
    refused lenses fill up the tries, as before."""
    lenses = [discovery.Lens(f"lens_{i:03d}", Path(f"/nowhere/lens_{i:03d}")) for i in range(500)]
    bad: set[str] = set()
    read: list[str] = []

    def headers(chosen, template):
        read.extend(lens.lens_id for lens in chosen)
        return {lens.lens_id: "broken" for lens in chosen if lens.lens_id in bad}

    monkeypatch.setattr(survey_template, "refused_files", headers)
    assert list(survey_template.template_lenses({}, lenses, 3)) == lenses[:3] and len(read) == 3
    bad.update(lens.lens_id for lens in lenses[:3])
    read.clear()
    assert list(survey_template.template_lenses({}, lenses, 3)) == lenses[3:6] and len(read) == 6
    bad.update(lens.lens_id for lens in lenses[5:])
    assert list(survey_template.template_lenses({}, lenses, 3)) == [lenses[3], lenses[4], lenses[0]]
    bad.update(lens.lens_id for lens in lenses)
    assert list(survey_template.template_lenses({}, lenses, 3)) == lenses[:3]
    read.clear()
    known = {lens.lens_id: "broken" for lens in lenses[:2]}
    assert list(survey_template.template_lenses({}, lenses, 3, refused=known)) == lenses[2:5] and read == []


@pytest.mark.parametrize("gzipped", [False, True])
def test_read_fits_shape_reads_a_named_hdu_as_far_as_read_fits_image_does(tmp_path, gzipped):
    """read_fits_shape found the image's data offset with HDUList.fileinfo, which reads every HDU
    of the file: a file with a block it cannot read after the named image (drz.fits[SCI]) was
    refused by the dry run though its fit reads it, and a gzipped HST file was decompressed whole
    (0.8 s for three 2000 x 2000 extensions, 0.3 s to its SCI). It now reads a named HDU's headers
    only as far as read_fits_image does, and every HDU's where none is named, as read_fits_image
    does to find the first image (read_fits_image, which reads the pixels, is the truth here)."""
    from tinylens.data.fits_io import read_fits_image, read_fits_shape

    image = np.arange(35.0).reshape(5, 7)
    whole = tmp_path / "whole.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image, name="SCI")]).writeto(whole)
    raw = whole.read_bytes() + np.random.default_rng(3).bytes(2880)  # a block after the image that is no header
    path = tmp_path / ("junk.fits.gz" if gzipped else "junk.fits")
    path.write_bytes(gzip.compress(raw) if gzipped else raw)
    for ext in ("[SCI]", "[1]", ""):
        try:
            read_fits_image(f"{path}{ext}", "x")
        except DataError as exc:
            with pytest.raises(DataError) as raised:
                read_fits_shape(f"{path}{ext}", "x")
            assert str(raised.value) == str(exc), ext
        else:
            assert ext, "the file is read where no HDU is named: nothing is tested there"
            assert read_fits_shape(f"{path}{ext}", "x")[0] == (5, 7), ext


def _zipped(raw: bytes) -> bytes:
    import io
    import zipfile

    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("image.fits", raw)
    return stream.getvalue()


@pytest.mark.parametrize("ext", ["", "[1]"])
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zip"])
def test_read_fits_shape_refuses_a_compressed_file_cut_short_as_read_fits_image_does(tmp_path, ext, suffix):
    """A FITS file cut short and then compressed (image.fits.gz whose gzip stream is whole) was
    passed by the dry run, whose length check applied to plain files only, though its fit refuses
    it ('buffer is too small for requested array'): 251 of 286 cuts of a 64 x 64 image, gzipped,
    mismatched. It is now refused where read_fits_image (the truth here) refuses it, and passed
    where only the padding after the pixels is missing; a compressed stream itself cut short was
    and is refused by both."""
    import bz2

    from tinylens.data.fits_io import read_fits_image, read_fits_shape

    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".zip": _zipped}[suffix]
    raw, data_end = whole_fits_bytes(tmp_path, ext)
    cases = [(f"content{cut}", compress(raw[:cut]), cut < data_end)
             for cut in (len(raw) - 2880, data_end - 8, data_end - 1, data_end, len(raw))]
    if suffix == ".gz":
        stream = gzip.compress(raw)
        cases.append(("stream", stream[:len(stream) // 2], True))
    for name, blob, refused in cases:
        path = tmp_path / f"{name}.fits{suffix}"
        path.write_bytes(blob)
        try:
            read_fits_image(f"{path}{ext}", "x")
        except DataError as exc:
            assert refused, name
            fit_says = str(exc)
        else:
            assert not refused, name
        if refused:
            with pytest.raises(DataError) as raised:
                read_fits_shape(f"{path}{ext}", "x")
            if name == "stream":  # astropy's own refusal, as the fit gives it
                assert str(raised.value) == fit_says
            else:
                assert "could not be read as a FITS image" in str(raised.value), name
                assert str(path) in str(raised.value) and "decompressed, it ends before byte" in str(raised.value)
        else:
            assert read_fits_shape(f"{path}{ext}", "x")[0] == (5, 7), name


def _with_card(path: Path, key: str, value: str) -> None:
    """Write the card ``key = value`` (its value as FITS text, "" for none) over ``key``'s card in
    the primary header of ``path``, or where its END card is (END moved on a card), as a broken
    writer would."""
    raw = bytearray(path.read_bytes())
    cards = [raw[i:i + 8] for i in range(0, 2880, 80)]
    start = 80 * (cards.index(key.ljust(8).encode()) if key.ljust(8).encode() in cards else cards.index(b"END     "))
    if raw[start:start + 8] == b"END     ":
        assert start + 160 <= 2880, "no room in the header's block"
        raw[start + 80:start + 160] = raw[start:start + 80]
    raw[start:start + 80] = f"{key:<8}= {value:>20}".ljust(80).encode()
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(("key", "value", "shown"), [("BITPIX", "12", "BITPIX = 12"), ("BITPIX", "-16", "BITPIX = -16"),
                                                     ("BSCALE", "'abc'", "BSCALE = 'abc'"),
                                                     ("BZERO", "(1.0, 2.0)", "BZERO = (1+2j)"),
                                                     ("BSCALE", "", "BSCALE = no value")])
def test_a_dry_run_refuses_an_image_whose_header_makes_its_pixels_unreadable_as_its_fit_does(tmp_path, key, value,
                                                                                                shown):
    """An image whose BITPIX is none of the FITS standard's, or whose BSCALE or BZERO is not a
    number, passed the dry run, which reads headers alone, while its fit refused it with astropy's
    or numpy's words ('could not be read as a FITS image (12)', '(ufunc 'multiply' did not contain
    a loop ...)'). The keyword is now checked from the header, so the dry run refuses the lens as
    its fit does (tinylens.load, which reads the pixels, is the truth here), in the same words,
    which name the keyword and its value."""
    good = write_lens(tmp_path / "good", 1.0, seed=0)
    for lens_id in ("lens_0", "lens_1"):
        shutil.copytree(good, tmp_path / "lenses" / lens_id)
    image = tmp_path / "lenses" / "lens_1" / "image.fits"
    _with_card(image, key, value)
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(template_config()))
    out = tmp_path / "out"
    plan = runner.survey_plan(tmp_path / "lenses", template, out, check=False)
    fit_says = _load_error(survey_template.load_template(template), discovery.find_lenses(tmp_path / "lenses")[1], out)
    assert fit_says and f"{image}: its image's header gives {shown}" in fit_says
    assert plan["refused"] == {"lens_1": fit_says}


def test_where_every_lens_is_refused_the_lenses_a_template_is_checked_with_are_looked_for_among_the_first_only(
        monkeypatch):
    """Where every lens's files were refused (a template's mask of another shape than every
    image), the choice of the lenses to check the template with read the headers of every lens
    before the survey started: 300 lenses of 100 x 100 pixels, 3.1-4.3 s, ~10 ms a lens, minutes
    for a survey of ten thousand. It now looks among the first TEMPLATE_LENS_SEARCH lenses only
    (0.4-0.45 s there), then takes the first refused, as before; a lens that passes among them is
    still found, and refusals already known (the dry run's, read for every lens) are used whole."""
    lenses = [discovery.Lens(f"lens_{i:04d}", Path(f"/nowhere/lens_{i:04d}")) for i in range(2000)]
    good: set[str] = set()
    read: list[str] = []

    def headers(chosen, template):
        read.extend(lens.lens_id for lens in chosen)
        return {lens.lens_id: "broken" for lens in chosen if lens.lens_id not in good}

    monkeypatch.setattr(survey_template, "refused_files", headers)
    search = survey_template.TEMPLATE_LENS_SEARCH
    assert 3 < search <= 100
    assert list(survey_template.template_lenses({}, lenses, 3)) == lenses[:3]
    assert read == [lens.lens_id for lens in lenses[:search]]
    good.add(lenses[search - 1].lens_id)  # the last one looked at passes: it is checked first
    read.clear()
    assert list(survey_template.template_lenses({}, lenses, 3)) == [lenses[search - 1], lenses[0], lenses[1]]
    assert len(read) == search
    known = {lens.lens_id: "broken" for lens in lenses if lens.lens_id != "lens_1500"}
    read.clear()
    assert list(survey_template.template_lenses({}, lenses, 3, refused=known)) == [lenses[1500], lenses[0], lenses[1]]
    assert read == []


def big_mask_survey(tmp_path):
    """Three lens folders of SHAPE images (lens_a, lens_b, and lens_own with a mask.fits of its own)
    and a template whose own mask is 8 pixels larger on each axis: ``(lenses, template, out, mask)``."""
    lenses = tmp_path / "lenses"
    write_lens(lenses / "lens_a", 1.0, seed=0)
    write_lens(lenses / "lens_b", 1.0, seed=1)
    write_lens(lenses / "lens_own", 1.0, seed=2, mask=True)
    mask = tmp_path / "big_mask.fits"
    write_fits_image(mask, np.zeros((SHAPE[0] + 8, SHAPE[1] + 8)))
    config = template_config()
    config["dataset"]["mask_path"] = mask.name
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    return lenses, template, tmp_path / "out", mask


def test_a_template_mask_of_another_shape_than_every_image_is_refused_at_once_naming_the_key_and_shapes(tmp_path):
    """A template whose own mask (dataset.mask_path) had another shape than every lens's image:
    each lens's refusal was taken for that lens's own, the template check returned None, and the
    survey started and failed every lens one by one (3 of 3 failed, ~15 s on this machine). It is
    now refused at once, as the template's, naming the key, the mask's shape and the images',
    before the output folder is made; a lens with a mask.fits of its own is not counted, and one
    image of the mask's shape makes it the other lenses' mismatch, as before."""
    lenses, template, out, _ = big_mask_survey(tmp_path)  # lens_own: its own mask.fits, the template's not used
    (lenses / "lens_own" / "noise.fits").unlink()  # broken alike, so that no lens compiles a likelihood here

    with mock.patch.object(runner, "dask_client", side_effect=AssertionError("the survey started")):
        with pytest.raises(survey_template.ConfigValueError) as raised:  # a wrong value of the template's (was the plain ConfigError)
            runner.run_survey(lenses, template, out, workers=1, progress=False)
    assert isinstance(raised.value, ValueError)
    text = " ".join(str(raised.value).split())
    assert "dataset.mask_path" in text and str(template) in text
    assert f"{SHAPE[0] + 8} x {SHAPE[1] + 8}" in text and f"{SHAPE[0]} x {SHAPE[1]} (2 lenses: lens_a, lens_b)" in text
    assert "lens_own" not in text
    assert not out.exists()
    with pytest.raises(survey_template.ConfigError, match="dataset.mask_path"):
        runner.survey_plan(lenses, template, out)

    matching = lenses / "lens_z"  # an image of the mask's shape (its noise missing: it fails alone)
    matching.mkdir()
    write_fits_image(matching / "image.fits", np.ones((SHAPE[0] + 8, SHAPE[1] + 8)))
    shutil.copy(lenses / "lens_a" / "psf.fits", matching / "psf.fits")
    plan = runner.survey_plan(lenses, template, out)
    assert plan["checked_with"] is None and set(plan["broken"]) == {"lens_a", "lens_b", "lens_own"}
    assert "has shape" in plan["broken"]["lens_a"] and "noise" in plan["refused"]["lens_z"]


def test_a_template_mask_fitting_no_lens_that_uses_it_is_refused_though_a_lens_with_its_own_mask_works(tmp_path):
    """The template check ran check_template_mask only where every lens it tried had broken data:
    a lens with a mask.fits of its own, whose files pass, was tried first and worked, so that a
    template whose own mask (40 x 40) fitted none of the other lenses' images (32 x 32) passed the
    dry run and the run, and each of those lenses failed one by one, though docs/survey.md says
    such a template is refused at once. It is now refused, naming the lenses that use the mask and
    not the one with its own; a template mask of the images' shape still passes, with the lens
    with its own mask checked first."""
    lenses, template, out, mask = big_mask_survey(tmp_path)  # lens_own's mask.fits, of its image's shape: it works
    # the truth, from the files: the lenses without a mask of their own have images of another shape than the mask
    assert set(survey_template.refused_files(discovery.find_lenses(lenses), survey_template.load_template(template))) == {"lens_a", "lens_b"}

    with pytest.raises(survey_template.ConfigError) as raised:
        runner.survey_plan(lenses, template, out)
    text = " ".join(str(raised.value).split())
    assert "dataset.mask_path" in text and f"{SHAPE[0]} x {SHAPE[1]} (2 lenses: lens_a, lens_b)" in text, text
    assert "lens_own" not in text
    assert not out.exists()

    write_fits_image(mask, np.zeros(SHAPE))  # of the images' shape, every pixel used: the template works
    plan = runner.survey_plan(lenses, template, out)
    assert plan["checked_with"] == "lens_a" and plan["refused"] == {}


@pytest.mark.parametrize("fault", ["missing", "not FITS", "a cube"])
def test_a_template_mask_that_cannot_be_read_is_refused_at_once_naming_the_file(tmp_path, fault):
    """A template whose own mask (dataset.mask_path) could not be read (missing, not FITS, no 2-D
    image in it) was left to each fit: every lens tried by the template check failed on it, was
    taken for a lens with broken data, and the survey started and failed every lens alike, the
    dry run listing each with the same message (3 of 3 refused here). It is now refused once, as
    the template's, naming the file, before the output folder is made, as a wrong value of its key (a
    ConfigValueError, which a plain ConfigError was not); where every lens has a
    mask.fits of its own the template's is not read and the survey goes on."""
    lenses, template, out, mask = big_mask_survey(tmp_path)
    if fault == "missing":
        mask.unlink()
    elif fault == "not FITS":
        mask.write_text("SIMPLE? no: a text file\n")
    else:
        write_fits_image(mask, np.zeros((3, *SHAPE)))
    (lenses / "lens_own" / "noise.fits").unlink()  # broken alike: no lens loads, none compiles a likelihood here
    config = survey_template.load_template(template)
    # the truth: each lens without a mask.fits of its own is refused by its fit on the template's mask, naming it
    for lens in discovery.find_lenses(lenses):
        if lens.lens_id != "lens_own":
            assert "dataset.mask_path" in _load_error(config, lens, out) and str(mask) in _load_error(config, lens, out)

    with mock.patch.object(runner, "dask_client", side_effect=AssertionError("the survey started")):
        with pytest.raises(survey_template.ConfigValueError) as raised:  # a wrong value of the template's key: a ValueError too
            runner.run_survey(lenses, template, out, workers=1, progress=False)
    assert isinstance(raised.value, ValueError)
    text = " ".join(str(raised.value).split())
    assert str(template) in text and "dataset.mask_path" in text and str(mask) in text, text
    assert "(2 lenses: lens_a, lens_b)" in text and "lens_own" not in text, text
    assert not out.exists()
    with pytest.raises(survey_template.ConfigValueError, match="dataset.mask_path"):
        runner.survey_plan(lenses, template, out)
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(template), "--out", str(out), "--dry-run"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "dataset.mask_path" in result.output, result.output

    for lens_id in ("lens_a", "lens_b"):  # every lens with a mask of its own: the template's is never read
        write_fits_image(lenses / lens_id / "mask.fits", np.zeros(SHAPE))
    plan = runner.survey_plan(lenses, template, out)
    assert plan["checked_with"] == "lens_a" and set(plan["refused"]) == {"lens_own"}


@pytest.mark.parametrize("mask", [{"type": "circle", "r_max": 0.5, "center_x": 30.0},  # a centre in pixels
                                  {"type": "annulus", "r_min": 3.0, "r_max": 40.0}])  # beyond the image's corners
def test_a_template_circle_or_annulus_that_leaves_no_pixel_of_any_image_is_refused_at_once(tmp_path, mask):
    """A template's dataset.mask (circle or annulus, arcsec from the image's centre) that covered
    no pixel of any lens's image (a centre or radius given in pixels) failed every lens the
    template check tried, each taken for a lens with broken data: the dry run said nothing of it
    (no lens listed as refused, 3 of 3 'broken') and the run started and failed every lens alike.
    It is now refused as the template's, naming dataset.mask, where it leaves too few pixels in
    the image of every lens; one lens whose image it covers makes the others' failures their own."""
    lenses = tmp_path / "lenses"
    for i in range(3):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    config = template_config()
    config["dataset"]["mask"] = mask
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "out"
    # the truth: each lens's fit refuses its image, for the pixels dataset.mask leaves
    for lens in discovery.find_lenses(lenses):
        assert "dataset.mask alone" in _load_error(survey_template.load_template(template), lens, out)

    with mock.patch.object(runner, "dask_client", side_effect=AssertionError("the survey started")):
        with pytest.raises(survey_template.ConfigError) as raised:
            runner.run_survey(lenses, template, out, workers=1, progress=False)
    text = " ".join(str(raised.value).split())
    assert str(template) in text and f"dataset.mask alone ({mask['type']}" in text, text
    assert f"{SHAPE[0]} x {SHAPE[1]} (3 lenses: lens_0, lens_1, lens_2)" in text, text
    assert not out.exists()
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(template), "--out", str(out), "--dry-run"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "dataset.mask" in result.output, result.output
    assert not out.exists()

    big = lenses / "lens_big"  # an image wide enough for the mask (its noise missing: it fails alone)
    big.mkdir()
    write_fits_image(big / "image.fits", np.ones((1000, 1000)))
    shutil.copy(lenses / "lens_0" / "psf.fits", big / "psf.fits")
    plan = runner.survey_plan(lenses, template, out)
    assert plan["checked_with"] is None and set(plan["broken"]) == {"lens_0", "lens_1", "lens_2"}
    assert "noise" in plan["refused"]["lens_big"]


@pytest.mark.parametrize("circle", [False, True])  # through check_histories alone, or check_shape_mask first
def test_a_template_checked_with_no_lens_is_refused_as_the_templates_not_in_a_bare_config_error(tmp_path, circle):
    """check_template with tries=0 tries no lens, so that the checks run after its loop where no
    lens loaded (the template's dataset.mask, dynesty's history) validated the template for the
    first time: a template that is not valid (a pixel_scale of -1) raised a bare 'Invalid
    configuration mapping', naming neither the template nor a lens, where one tried is refused
    as 'The template ... does not work (checked with lens lens_0)'. It is now worded so too."""
    lenses = tmp_path / "lenses"
    for i in range(2):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    config = template_config()
    config["dataset"]["pixel_scale"] = -1
    if circle:
        config["dataset"]["mask"] = {"type": "circle", "r_max": 1.0}
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded, found, out = survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out"
    # the truth: the template as a lens tried reads it is refused as the template's, naming the key
    with pytest.raises(survey_template.ConfigError) as tried:
        survey_template.check_template(loaded, found, out, name="template T")
    assert str(tried.value).startswith("The template T does not work (checked with lens lens_0): ")
    assert "dataset.pixel_scale" in str(tried.value)

    with pytest.raises(survey_template.ConfigError) as raised:
        survey_template.check_template(loaded, found, out, tries=0, name="template T")
    # the same complaint, but not said to be checked with lens_0: no lens was tried (see below)
    assert str(raised.value) == str(tried.value).replace("(checked with lens lens_0)",
                                                         "(checked with no lens's data: no lens was tried)")


@pytest.mark.parametrize("value, kind", [(-1, ConfigValueError), ("abc", ConfigTypeError)])
def test_a_templates_wrong_value_keeps_the_class_its_config_raises(tmp_path, value, kind):
    """A template whose dataset.pixel_scale is -1 (a wrong value) or 'abc' (a value of the wrong
    kind) makes tinylens.load of a lens's config raise ConfigValueError or ConfigTypeError, but the
    survey re-raised it, naming the template, as a plain ConfigError, so that a Python caller of
    check_template or run_survey catching ValueError / TypeError missed it. The class is now kept,
    whether a lens was tried or none, the message as it was."""
    lenses = tmp_path / "lenses"
    for i in range(2):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    config = template_config()
    config["dataset"]["pixel_scale"] = value
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded, found, out = survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out"
    with pytest.raises(ConfigError) as direct:  # the truth: the class a lens's own config raises
        tinylens.load(survey_template.lens_config(loaded, found[0], out))
    assert type(direct.value) is kind
    for tries, how in ((3, "checked with lens lens_0"), (0, "checked with no lens's data: no lens was tried")):
        with pytest.raises(ConfigError) as raised:
            survey_template.check_template(loaded, found, out, tries=tries, name="template T")
        assert type(raised.value) is kind
        assert str(raised.value) == f"The template T does not work ({how}): {direct.value}"
    with pytest.raises(kind) as surveyed:
        runner.run_survey(lenses, template, out, workers=1, progress=False)
    assert "dataset.pixel_scale" in str(surveyed.value) and "does not work (checked with lens lens_0)" in str(surveyed.value)
    assert not out.exists()


def _lenses_without_noise_and_a_template_of_nlive_minus_5(tmp_path):
    """Three lenses, lens_0 to lens_2, in ``tmp_path / "lenses"``, each without its noise.fits, and
    ``tmp_path / "template.yaml"``, the survey template with nautilus's nlive set to -5, a setting
    its fits refuse whatever the lens; the lenses' folder and the template's path."""
    lenses = tmp_path / "lenses"
    for i in range(3):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
        (lenses / f"lens_{i}" / "noise.fits").unlink()
    config = template_config()
    config["inference"]["settings"] = {**(config["inference"].get("settings") or {}), "nlive": -5}
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    return lenses, template


def test_a_template_refused_where_no_lens_loaded_says_so_not_that_a_lens_checked_it(tmp_path):
    """Where every lens the template check tried had broken data (no noise.fits), a setting the
    template's fits refuse (nautilus's nlive of -5) was reported as 'The template ... does not work
    (checked with lens lens_0)', though lens_0 never loaded: the user went looking for what was
    wrong with lens_0's files. It now says that no lens's data were read and names the lenses
    tried, each of which has broken data."""
    lenses, template = _lenses_without_noise_and_a_template_of_nlive_minus_5(tmp_path)
    loaded, found, out = survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out"
    # the truth: none of the three loads, each for its data
    broken: dict[str, str] = {}
    good = template_config()
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(good, sort_keys=False))
    assert survey_template.check_template(survey_template.load_template(tmp_path / "good.yaml"), found, out, broken=broken) is None
    assert sorted(broken) == ["lens_0", "lens_1", "lens_2"]

    with pytest.raises(survey_template.ConfigError) as raised:
        survey_template.check_template(loaded, found, out, name="template T")
    text = " ".join(str(raised.value).split())
    assert "checked with lens" not in text, text
    assert text.startswith("The template T does not work (checked with no lens's data: every lens tried has broken "
                           "data (3 lenses: lens_0, lens_1, lens_2)): "), text
    assert "nlive" in text, text


def test_a_template_prior_warning_is_said_once_naming_the_template_where_no_lens_loaded(tmp_path):
    """Where every lens the template check tried had broken data (no noise.fits), a prior reaching
    outside its parameter's values (theta_E uniform from -1 to 1.5: 40 % of it below 0) was warned of
    twice: 'The template T: model_components...theta_E: 40 % of the prior ...', from the lenses
    tried, then the same text again not naming the template, as the settings' check without a lens
    (check_unloaded_settings) built the model once more with its warnings. It is said once, naming
    the template."""
    import warnings

    from tinylens.errors import ConfigWarning

    lenses = tmp_path / "lenses"
    for i in range(2):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
        (lenses / f"lens_{i}" / "noise.fits").unlink()  # every lens's data broken: none loads
    config = template_config()
    config["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [-1.0, 1.5]
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    broken: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checked = survey_template.check_template(survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out",
                                        name="template T", broken=broken)
    assert checked is None and sorted(broken) == ["lens_0", "lens_1"]  # no lens loaded
    said = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning) and "of the prior" in str(w.message)]
    assert len(said) == 1, said
    assert said[0].startswith("The template T: model_components.lens_mass_list[0].params.theta_E: 40 % of the prior"), said


def test_a_template_checked_with_no_lens_loaded_is_validated_once_for_its_mask_and_history(tmp_path, monkeypatch):
    """Where no lens loaded (tries=0 here), check_template validated the template twice for the
    checks that need no lens's data: once for its dataset.mask (check_shape_mask), once again for
    dynesty's history (check_histories). It is now validated once, and both checks still pass it."""
    from tinylens.config import loader

    lenses = tmp_path / "lenses"
    for i in range(2):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    config = template_config()
    config["dataset"]["mask"] = {"type": "circle", "r_max": 1.0}  # leaves enough pixels: nothing raised
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded, found = survey_template.load_template(template), discovery.find_lenses(lenses)
    calls = []
    real = loader.load_config
    monkeypatch.setattr(loader, "load_config", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert survey_template.check_template(loaded, found, tmp_path / "out", tries=0) is None
    assert len(calls) == 1


@pytest.mark.parametrize("key, value, said", [("settings", {"nlive": -5}, "nlive"),
                                              ("settings", {"n_liev": 100}, "n_liev"),
                                              ("corner", ["lens_mass.0.theta_e"], "output.corner_parameters")])
def test_a_bad_sampler_setting_is_refused_though_no_lens_of_the_template_check_loads(tmp_path, key, value, said):
    """Where every lens the template check tried had broken data, tinylens.fitting.checks.check_settings (the
    sampler's settings, output.corner_parameters) was never run: a template with nautilus's nlive
    of -5 passed the dry run (3 of 3 lenses 'broken', checked_with None) and the run started, each
    lens failing on its data and the bad setting found only on the first lens that loaded. Those
    checks need only the model's free parameters, from model_components: they are now run so too,
    the template refused as one whose lens loaded is, before the output folder is made."""
    lenses = tmp_path / "lenses"
    for i in range(3):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    config = template_config()
    if key == "settings":
        config["inference"]["settings"] = {**(config["inference"].get("settings") or {}), **value}
    else:
        config.setdefault("output", {})["corner_parameters"] = value
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "out"
    # the truth: with a lens whose data load, the fit's own check refuses the setting, naming it
    with pytest.raises(survey_template.ConfigError, match=said):
        survey_template.check_template(survey_template.load_template(template), discovery.find_lenses(lenses), out)
    for i in range(3):
        (lenses / f"lens_{i}" / "noise.fits").unlink()  # every lens's data broken: none loads

    with mock.patch.object(runner, "dask_client", side_effect=AssertionError("the survey started")):
        with pytest.raises(survey_template.ConfigError) as raised:
            runner.run_survey(lenses, template, out, workers=1, progress=False)
    text = " ".join(str(raised.value).split())
    assert text.startswith("The template") and str(template) in text and said in text, text
    assert not out.exists()
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(template), "--out", str(out), "--dry-run"])
    assert result.exit_code == 2 and "Traceback" not in result.output and said in result.output, result.output
    assert not out.exists()


def test_one_lens_of_many_on_an_unreadable_template_mask_is_said_to_hold_up_the_whole_survey(tmp_path):
    """Where only one lens of three used the template's mask (the others with a mask.fits of their
    own) and that mask could not be read, the survey was refused, as it should be (the same rule
    as a mask of the wrong shape), but the message said only that every lens without a mask.fits
    would be refused (1 lens: lens_a), not that this one lens refuses the whole survey, nor that
    giving it its own mask or moving it out of the lens folder lets the others go on. It now says
    both; where every lens uses the mask it says neither."""
    lenses, template, out, mask = big_mask_survey(tmp_path)
    mask.unlink()
    write_fits_image(lenses / "lens_b" / "mask.fits", np.zeros(SHAPE))
    # the truth, from the files: lens_a alone is refused (on the template's mask); the others' files pass
    refused = survey_template.refused_files(discovery.find_lenses(lenses), survey_template.load_template(template))
    assert set(refused) == {"lens_a"} and str(mask) in refused["lens_a"]

    with pytest.raises(survey_template.ConfigError) as raised:
        runner.survey_plan(lenses, template, out)
    text = " ".join(str(raised.value).split())
    assert str(mask) in text and "(1 lens: lens_a)" in text, text
    assert "The other 2 lenses have their own" in text and "that one lens alone holds up the whole survey" in text, text
    assert "mask.fits in the folder of that lens or move that lens out of the lens folder" in text, text
    assert not out.exists()

    for lens_id in ("lens_b", "lens_own"):  # every lens uses the template's mask: no other lens to hold up
        (lenses / lens_id / "mask.fits").unlink()
    with pytest.raises(survey_template.ConfigError) as raised:
        runner.survey_plan(lenses, template, out)
    text = " ".join(str(raised.value).split())
    assert "(3 lenses: lens_a, lens_b, lens_own)" in text and "whole survey" not in text and "out of the lens folder" not in text, text
    assert "mask.fits in the folder of each of those lenses, or remove mask_path" in text, text


def test_a_tiny_image_is_not_counted_against_the_templates_circle(tmp_path):
    """check_shape_mask listed a lens whose image has fewer than 10 pixels in all (3 x 3) among those
    the template's dataset.mask left too few of, with the advice that its centre and radii are in
    arcsec, not pixels, though no mask could leave that image enough (its fit says it is too small).
    Such an image is now left to its fit: the other lenses' images alone decide."""
    lenses = tmp_path / "lenses"
    write_lens(lenses / "lens_0", 1.0, seed=0)
    tiny = lenses / "lens_tiny"
    tiny.mkdir()
    psf = np.zeros((3, 3))
    psf[1, 1] = 1.0
    write_fits_image(tiny / "image.fits", np.random.default_rng(0).normal(size=(3, 3)) + 1.0)
    write_fits_image(tiny / "noise.fits", np.ones((3, 3)))
    write_fits_image(tiny / "psf.fits", psf)
    config = template_config()
    config["dataset"]["mask"] = {"type": "circle", "r_max": 0.5, "center_x": 30.0}  # a centre in pixels
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded, found, out = survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out"
    # the truth: the tiny lens's fit refuses its image as too small, not for its mask
    assert "has only 9 pixels in all" in _load_error(loaded, found[1], out)
    with pytest.raises(survey_template.ConfigError) as raised:
        survey_template.check_shape_mask(loaded, found, survey_template.loaded_template(loaded, found[0], out))
    text = " ".join(str(raised.value).split())
    assert f"{SHAPE[0]} x {SHAPE[1]} (1 lens: lens_0)" in text and "lens_tiny" not in text and "3 x 3" not in text, text


def test_check_shape_masks_docstring_says_it_leaves_images_too_small_for_any_mask_to_their_fits(tmp_path):
    """check_shape_mask skips an image of fewer than MIN_USABLE_PIXELS (10) pixels in all, but its
    docstring said only that it reads every lens's image header, so that a reader took a survey of
    3 x 3 cut-outs passing the check for the mask's doing. The docstring now says so, and the
    behaviour it describes holds: a mask that leaves no pixel (a centre 30 arcsec off) raises
    nothing where the only readable image is 3 x 3, and is refused once a 32 x 32 image is there."""
    from tinylens.data.dataset import MIN_USABLE_PIXELS

    doc = " ".join(survey_template.check_shape_mask.__doc__.split())
    assert ("fewer than :data:`~tinylens.data.dataset.MIN_USABLE_PIXELS` pixels in all" in doc
            and "where every readable image is that small, nothing is raised" in doc), doc
    assert 3 * 3 < MIN_USABLE_PIXELS <= SHAPE[0] * SHAPE[1]
    lenses = tmp_path / "lenses"
    tiny = lenses / "lens_tiny"
    tiny.mkdir(parents=True)
    write_fits_image(tiny / "image.fits", np.ones((3, 3)))
    config = template_config()
    config["dataset"]["mask"] = {"type": "circle", "r_max": 0.5, "center_x": 30.0}
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    loaded, out = survey_template.load_template(template), tmp_path / "out"
    found = discovery.find_lenses(lenses)
    survey_template.check_shape_mask(loaded, found, survey_template.loaded_template(loaded, found[0], out))  # nothing raised
    write_lens(lenses / "lens_0", 1.0, seed=0)
    found = discovery.find_lenses(lenses)
    with pytest.raises(survey_template.ConfigValueError, match="fewer than the 10 pixels"):  # a ValueError (was the plain ConfigError)
        survey_template.check_shape_mask(loaded, found, survey_template.loaded_template(loaded, found[0], out))


def test_a_dry_run_whose_lenses_all_lack_a_file_does_not_blame_the_first_for_the_templates_setting(tmp_path):
    """``tinylens survey LENSES --dry-run`` of three lenses without noise.fits and a template with
    nautilus's nlive of -5 said 'The template ... does not work (checked with lens lens_0)': since
    the sampler's settings are checked as a lens's config is read, before its data, the first lens
    tried was named though its files were the ones refused, the user sent to look at lens_0. The
    setting is the template's, whatever lens: it is now said to be checked with no lens's data,
    naming the lenses tried, each missing a file, and still refused with exit code 2."""
    lenses, template = _lenses_without_noise_and_a_template_of_nlive_minus_5(tmp_path)
    # the truth: the file its fit would refuse, for each of the three lenses
    refused = survey_template.refused_files(discovery.find_lenses(lenses), survey_template.load_template(template))
    assert sorted(refused) == ["lens_0", "lens_1", "lens_2"] and all("noise.fits" in why for why in refused.values())

    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(template), "--out", str(tmp_path / "out"),
                                      "--dry-run"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "checked with lens" not in text, text
    assert ("does not work (checked with no lens's data: every lens tried has broken data "
            "(3 lenses: lens_0, lens_1, lens_2)): inference.settings.nlive") in text, text
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("tries", [3, 0])
def test_a_template_whose_sampler_is_not_installed_names_the_missing_package(tmp_path, monkeypatch, tries):
    """The survey's template check rebuilt a MethodNotInstalledError (dynesty not installed) to say
    which lens it was checked with as ``type(exc)(message)``, which left its ``name`` None, where
    tinylens.fit's and check_inference's name the package: a caller's ``except ImportError`` could not
    tell what to install. It keeps the name now, with a lens loaded (tries=3) and with none (tries=0)."""
    import sys

    from tinylens.errors import MethodNotInstalledError

    monkeypatch.setitem(sys.modules, "dynesty", None)  # its import: ModuleNotFoundError, name 'dynesty'
    monkeypatch.delitem(sys.modules, "tinylens.inference.dynesty_runner", raising=False)
    lenses = tmp_path / "lenses"
    for i in range(2):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    config = template_config()
    config["inference"] = {"type": "sampler", "method": "dynesty", "settings": {}}
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    from tinylens.inference import dynesty_settings

    try:
        with pytest.raises(ImportError) as raised:
            survey_template.check_template(survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out",
                                  tries=tries)
    finally:  # its settings' names, read with dynesty 'missing' (None), are not kept for later tests
        dynesty_settings.source_keywords.cache_clear()
    text = " ".join(str(raised.value).split())
    assert isinstance(raised.value, MethodNotInstalledError) and isinstance(raised.value, ConfigError)
    assert text.startswith("The template does not work (") and "the package dynesty it needs is not installed" in text
    assert raised.value.name == "dynesty"
    assert not (tmp_path / "out").exists()


def test_a_worker_without_the_sampler_package_fails_its_lenses_naming_its_host_and_what_to_install(
        tmp_path, monkeypatch, capsys):
    """A Dask worker started in an environment without nautilus (the survey's own has it: its
    template check passed) failed each lens it took with 'cannot run here: ... not installed in this
    Python ... or choose another sampler method (dynesty)', naming neither the worker nor its host,
    and advising a change of the template, which is fine (a survey on a scheduler whose one worker
    lacked it: 2 of 2 lenses failed so, the summary repeating it). The row now names the host, the
    worker's Python and the command that installs the package there, then --retry-failed, and the
    summary says how many lenses failed on that host for it."""
    import socket
    import sys

    import pandas as pd
    import typer

    from tinylens.cli.survey import _print_summary

    lenses = tmp_path / "lenses"
    write_lens(lenses / "lens_a", 1.0, seed=0)
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(template_config(), sort_keys=False))
    out = tmp_path / "out"
    lens = discovery.find_lenses(lenses)[0]
    config = survey_template.lens_config(survey_template.load_template(template), lens, out)
    monkeypatch.setitem(sys.modules, "nautilus", None)  # not installed in this 'worker's' Python
    monkeypatch.delitem(sys.modules, "tinylens.inference.nautilus_runner", raising=False)
    row = task.fit_lens(lens.lens_id, config, str(lens.output(out)))
    monkeypatch.undo()
    reason = row["reason"]
    command = f"{sys.executable} -m pip install 'nautilus-sampler[checkpointing]'"
    assert row["status"] == "failed", row
    assert f"host {socket.gethostname()} (" in reason and f"that worker's Python ({sys.executable} -m pip" in reason, reason
    assert f"({command})" in reason and "--retry-failed" in reason and "another sampler method" not in reason, reason
    assert survey_rows.read_rows(out)["lens_a"]["reason"] == reason  # the row written is the one returned
    assert task.missing_on_workers([reason, "some other reason", None]) == {(socket.gethostname(), "nautilus", command): 1}

    capsys.readouterr()
    with pytest.raises(typer.Exit):  # every lens failed: the command's exit status for that
        _print_summary(pd.DataFrame([row]), out, 1.0, False)
    said = " ".join(capsys.readouterr().out.split())
    assert f"1 lens failed on this machine ({socket.gethostname()}), whose worker" in said, said  # a local one
    assert f"install it ({command})" in said and "--retry-failed" in said, said


def test_a_worker_without_the_sampler_package_on_a_long_python_path_keeps_its_command_and_summary_line(
        monkeypatch, capsys):
    """A worker's reason named its Python twice (its path, then in the pip command), so that with a
    cluster's usual path (about 80 characters: a conda env under a project folder) and host name
    the reason passed MAX_REASON (599 characters of 500) and was cut in the middle: the pip command in the
    catalogue lost its start, and the summary, which matched the whole text, no longer said that
    the lens failed on that host. The command is whole within MAX_REASON now, and a reason cut in any
    case (a path of hundreds of characters) still counts by host and package in the summary."""
    import socket
    import sys

    import pandas as pd
    import typer

    from tinylens.cli.survey import _print_summary
    from tinylens.errors import MethodNotInstalledError

    python = "/global/common/software/desi/users/astronomer/conda/envs/tinylens-gpu-2026/bin/python3.12"
    host = "nid001234.chn.perlmutter.nersc.gov"
    monkeypatch.setattr(socket, "gethostname", lambda: host)
    monkeypatch.setattr(sys, "executable", python)
    error = MethodNotInstalledError("nautilus is not installed", name="nautilus")
    reason = survey_rows.one_line(task.missing_here_text(error))
    command = f"{python} -m pip install 'nautilus-sampler[checkpointing]'"
    assert len(reason) <= survey_rows.MAX_REASON and "characters cut]" not in reason, reason
    assert f"({command})" in reason and "--retry-failed" in reason, reason
    assert task.missing_on_workers([reason]) == {(host, "nautilus", command): 1}

    monkeypatch.setattr(sys, "executable", "/scratch/" + "deep/" * 80 + "bin/python")  # cut whatever is done
    cut = survey_rows.one_line(task.missing_here_text(error))
    assert "characters cut]" in cut, cut
    assert task.missing_on_workers([cut]) == {(host, "nautilus", None): 1}
    frame = pd.DataFrame([survey_rows.failed_row("lens_a", reason), survey_rows.failed_row("lens_b", cut)])
    capsys.readouterr()
    with pytest.raises(typer.Exit):  # every lens failed
        _print_summary(frame, Path("out"), 1.0, False)
    said = " ".join(capsys.readouterr().out.split())
    assert f"1 lens failed on host {host}, whose worker lacks the package nautilus: install it there ({command})" \
        in said, said
    assert (f"1 lens failed on host {host}, whose worker lacks the package nautilus: install it there (python -m pip "
            "install 'nautilus-sampler[checkpointing]' with its Python)") in said, said


def test_a_local_worker_without_the_sampler_package_is_not_told_to_fix_the_template_or_move_to_this_environment(
        capsys):
    """A survey whose every failed lens failed for its worker's missing package printed the
    generic 'A failed lens is not fitted again ... (after fixing the template, add --reuse-finished
    ...)', though the template is fine; and where that worker was a local one (this machine, this
    survey's own Python, as a survey without --scheduler starts them) the line for the host told
    to 'start that worker in this survey's environment', where it already runs. Now the host's line
    alone says what to do; the generic line stays where another lens failed for its own reason."""
    import shlex
    import socket
    import sys

    import pandas as pd
    import typer

    from tinylens.cli.survey import _print_summary
    from tinylens.errors import MethodNotInstalledError

    reason = survey_rows.one_line(task.missing_here_text(MethodNotInstalledError("not here", name="dynesty")))
    command = shlex.join([sys.executable, "-m", "pip", "install", "dynesty"])
    rows = [survey_rows.failed_row("lens_a", reason), survey_rows.failed_row("lens_b", reason)]
    capsys.readouterr()
    with pytest.raises(typer.Exit):  # every lens failed
        _print_summary(pd.DataFrame(rows), Path("out"), 1.0, False)
    said = " ".join(capsys.readouterr().out.split())
    assert f"2 lenses failed on this machine ({socket.gethostname()})" in said, said
    assert f"install it ({command}), then run the same command again with --retry-failed" in said, said
    advice = said.partition("Every lens failed.")[0]  # the summary's own lines, not the reason it quotes after
    assert "fixing the template" not in advice and "start that worker" not in advice, said

    rows.append(survey_rows.failed_row("lens_c", "data.image_path: the file lens_c/image.fits does not exist."))
    with pytest.raises(typer.Exit):
        _print_summary(pd.DataFrame(rows), Path("out"), 1.0, False)
    said = " ".join(capsys.readouterr().out.split())
    assert "after fixing the template" in said and f"2 lenses failed on this machine ({socket.gethostname()})" in said


@pytest.mark.parametrize("word", ["yes", "off"])
def test_a_boolean_word_for_a_number_in_a_template_file_says_what_yaml_read(tmp_path, word):
    """A survey template file writing dataset.zeropoint: yes was refused, since d770c486, with the neutral
    note of a Python mapping ('in a YAML file, an unquoted yes, on or true reads as true'), as each lens's
    config is the template filled in as a mapping; but the user wrote the word in a YAML file, which
    ``tinylens validate`` of a config says as 'YAML reads an unquoted yes, on or true as true'. The
    template's check says so again; a mapping given in Python keeps the neutral note."""
    value = yaml.safe_load(f"x: {word}")["x"]
    assert isinstance(value, bool)  # the independent truth: PyYAML reads the unquoted word as a boolean
    shown = str(value).lower()
    lenses = tmp_path / "lenses"
    write_lens(lenses / "lens_0", 1.0, seed=0)
    config = template_config()
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False).replace("dataset:\n", f"dataset:\n  zeropoint: {word}\n", 1))
    loaded, found, out = survey_template.load_template(template), discovery.find_lenses(lenses), tmp_path / "out"
    with pytest.raises(ConfigTypeError) as raised:
        survey_template.check_template(loaded, found, out, name="template T")
    text = " ".join(str(raised.value).split())
    assert text.startswith("The template T does not work (checked with lens lens_0): "), text
    assert f"dataset.zeropoint: should be a number, not {shown} (YAML reads an unquoted " in text, text
    note = text.split("YAML reads an unquoted ", 1)[1].split(")", 1)[0]
    assert word in note.replace(",", " ").split() and note.endswith(f"as {shown}"), text
    assert "in a YAML file" not in text, text
    with pytest.raises(ConfigTypeError) as direct:  # the same config given in Python: no YAML read
        tinylens.load(survey_template.lens_config(loaded, found[0], out))
    assert "(in a YAML file, an unquoted " in " ".join(str(direct.value).split()), str(direct.value)
    assert not out.exists()
