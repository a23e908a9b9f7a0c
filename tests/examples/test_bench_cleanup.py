"""benchmarks/bench_fit.py and bench_likelihood.py delete the temporary folder they work in."""

from __future__ import annotations

import sys
import tempfile
from types import SimpleNamespace

import yaml

from scripts import load_script


def test_bench_fit_deletes_its_mocks_and_fits(tmp_path, monkeypatch, capsys):
    """Without --lens-dir the mocks and the fits' outputs went to a mkdtemp folder never deleted;
    the first line named that folder, which is now deleted: it names the mocks' seed instead.
    (Mocks and fits faked: the timings are not what is tested.)"""
    import tinylens
    import tinylens.survey.population

    made = []

    def simulate_population(n, lens_dir, seed, progress):
        for i in range(n):
            (lens_dir / f"lens_{i}").mkdir(parents=True)
            (lens_dir / f"lens_{i}" / "image.fits").write_bytes(b"")
        (lens_dir / "template.yaml").write_text(yaml.safe_dump({"dataset": {}}))
        made.append(lens_dir)

    def fit(config, progress):
        return SimpleNamespace(info={}, median={"lens_mass.0.theta_E": 1.0}, wall_time_s=1.0, n_likelihood_evals=10)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(tinylens.survey.population, "simulate_population", simulate_population)
    monkeypatch.setattr(tinylens, "fit", fit)
    monkeypatch.setattr(sys, "argv", ["bench_fit.py", "-n", "2", "--seed", "7"])
    load_script("benchmarks/bench_fit.py").main()
    assert made and list(tmp_path.iterdir()) == []
    assert capsys.readouterr().out.splitlines()[0].startswith("2 lenses from the mock population of seed 7;")


def test_bench_likelihood_deletes_the_benchmark_lens(tmp_path, monkeypatch, capsys):
    """Its lens files went to a mkdtemp folder never deleted. (Timings faked.)"""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["bench_likelihood.py", "--quick", "--json", str(tmp_path / "out.json")])
    bench = load_script("benchmarks/bench_likelihood.py")
    folders = []

    def problem(tmp, size, numerics=None):
        folders.append(tmp)
        (tmp / f"s{size}").mkdir(parents=True, exist_ok=True)
        return None

    monkeypatch.setattr(bench, "time_lenstronomy", lambda size, repeats: (1e-2, None))
    monkeypatch.setattr(bench, "tinylens_problem", problem)
    monkeypatch.setattr(bench, "time_tinylens", lambda p, batch, repeats: (1e-4, 0.5))
    monkeypatch.setattr(bench, "accuracy", lambda tmp, size: {"tinylens_default": 1e-3})
    bench.main()
    assert folders and all(not folder.exists() for folder in folders)
    assert [path.name for path in tmp_path.iterdir()] == ["out.json"]
    assert "best ratio lenstronomy / tinylens: 100.0x" in capsys.readouterr().out
