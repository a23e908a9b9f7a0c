"""tinylens.load: where relative data paths are taken from, and what its messages say of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import tinylens
from tinylens.errors import ConfigError, DataError
from tiny_lens import write_tiny_lens


@pytest.fixture
def lens(tmp_path) -> Path:
    return write_tiny_lens(tmp_path / "lens")


def test_base_dir_of_another_type_is_refused_by_name(lens):
    with pytest.raises(ConfigError, match=r"base_dir must be a folder .*got int 5"):
        tinylens.load(lens, base_dir=5)


def test_relative_paths_come_from_the_config_file_folder_or_the_base_dir(lens, tmp_path, monkeypatch):
    assert tinylens.load(lens).base_dir == lens.parent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(DataError) as err:  # a base_dir without the files: the message blames base_dir
        tinylens.load(lens, base_dir=elsewhere)
    text = str(err.value)
    assert f"taken from {elsewhere.resolve()} (the base_dir given to tinylens.load" in text
    assert "config file's folder" not in text

    config = yaml.safe_load(lens.read_text())
    monkeypatch.chdir(elsewhere)
    with pytest.raises(DataError, match=r"\(the current folder, as the config is not a file: give base_dir="):
        tinylens.load(config)
    assert tinylens.load(config, base_dir=lens.parent).dataset.data.shape == (32, 32)

    (lens.parent / "psf.fits").unlink()
    with pytest.raises(DataError, match=r"taken from .*lens \(the config file's folder\)"):
        tinylens.load(lens)
