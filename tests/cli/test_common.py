"""The CLI's warning report: what a user is shown, once, and what is left out."""

from __future__ import annotations

import warnings

from tinylens.cli import common
from tinylens.errors import DataWarning


def test_reported_warnings_prints_each_once_and_leaves_out_deprecations(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(common, "print_warning", shown.append)
    with common.reported_warnings():
        warnings.warn("12 pixels masked", DataWarning, stacklevel=1)
        warnings.warn("12 pixels masked", DataWarning, stacklevel=1)
        warnings.warn("'parseString' deprecated - use 'parse_string'", DeprecationWarning, stacklevel=1)
        warnings.warn("old keyword", PendingDeprecationWarning, stacklevel=1)
        warnings.warn("the sampler did not converge", RuntimeWarning, stacklevel=1)
    assert shown == ["12 pixels masked", "the sampler did not converge"]
