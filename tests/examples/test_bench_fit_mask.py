"""benchmarks/bench_fit.py fills in each lens folder's files as ``tinylens survey`` does."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import yaml

from scripts import load_script


def _fit_configs(tmp_path, monkeypatch) -> list[dict]:
    """The configs bench_fit gives ``tinylens.fit`` over a folder of two lenses, the first with a
    mask.fits (fits faked: the timings are not what is tested)."""
    import tinylens

    lens_dir = tmp_path / "lenses"
    for name in ("lens_0", "lens_1"):
        (lens_dir / name).mkdir(parents=True)
        for file in ("image.fits", "noise.fits", "psf.fits"):
            (lens_dir / name / file).write_bytes(b"")
    (lens_dir / "lens_0" / "mask.fits").write_bytes(b"")
    (lens_dir / "template.yaml").write_text(yaml.safe_dump({"dataset": {"pixel_scale": 0.1}}))
    configs = []

    def fit(config, progress):
        configs.append(config)
        return SimpleNamespace(info={}, median={"lens_mass.0.theta_E": 1.0}, wall_time_s=1.0, n_likelihood_evals=10)

    monkeypatch.setattr(tinylens, "fit", fit)
    monkeypatch.setattr(sys, "argv", ["bench_fit.py", "-n", "2", "--lens-dir", str(lens_dir)])
    load_script("benchmarks/bench_fit.py").main()
    return configs


def test_bench_fit_uses_a_lens_folders_mask(tmp_path, monkeypatch, capsys):
    """A lens folder's mask.fits was ignored: its lens was timed fitting every pixel, unlike
    ``tinylens survey`` over the same folder. It is now the fit's dataset.mask_path."""
    configs = _fit_configs(tmp_path, monkeypatch)
    lens_dir = (tmp_path / "lenses").resolve()
    assert [c["dataset"].get("mask_path") for c in configs] == [str(lens_dir / "lens_0" / "mask.fits"), None]
    assert configs[1]["dataset"]["data_path"] == str(lens_dir / "lens_1" / "image.fits")
    assert configs[0]["dataset"]["pixel_scale"] == 0.1


def test_bench_fit_resolves_the_templates_mask_beside_it(tmp_path, monkeypatch, capsys):
    """A template's relative dataset.mask_path was read from the working folder, not the template's
    own folder as ``tinylens survey`` reads it."""
    (tmp_path / "lenses" / "common_mask.fits").parent.mkdir(parents=True)
    template = {"dataset": {"mask_path": "common_mask.fits"}}
    (tmp_path / "lenses" / "template.yaml").write_text(yaml.safe_dump(template))
    monkeypatch.chdir(tmp_path)
    import tinylens

    configs = []
    monkeypatch.setattr(tinylens, "fit", lambda config, progress: configs.append(config) or SimpleNamespace(
        info={}, median={"lens_mass.0.theta_E": 1.0}, wall_time_s=1.0, n_likelihood_evals=10))
    (tmp_path / "lenses" / "lens_0").mkdir()
    (tmp_path / "lenses" / "lens_0" / "image.fits").write_bytes(b"")
    monkeypatch.setattr(sys, "argv", ["bench_fit.py", "-n", "1", "--lens-dir", "lenses"])
    load_script("benchmarks/bench_fit.py").main()
    assert configs[0]["dataset"]["mask_path"] == str((tmp_path / "lenses" / "common_mask.fits").resolve())
