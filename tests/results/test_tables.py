"""Output folders and atomic writes (tinylens.results.tables)."""

from __future__ import annotations

import re

import pytest

from tinylens.errors import OutputError
from tinylens.results.tables import ensure_writable


def test_ensure_writable_creates_nested_folders(tmp_path):
    assert ensure_writable(tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize("below", ["", "sub/deeper"])
def test_a_file_in_the_way_is_named(tmp_path, below):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / below if below else tmp_path / "afile"
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'afile'} is a file, not a folder). Choose another --out.")):
        ensure_writable(target, "another --out")
