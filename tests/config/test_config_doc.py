"""docs/config.md, the reference of every config key, against the schema and the registries it
describes: each key listed with the schema's default, each profile with its parameters, each
quality flag and inference method, and its example a valid config."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tinylens import filenames
from tinylens.config import schema
from tinylens.config.loader import validate_config
from tinylens.config.model_spec import build_model_spec
from tinylens.inference import METHODS
from tinylens.profiles.light import LIGHT_PROFILES
from tinylens.profiles.mass import MASS_PROFILES
from tinylens.results.quality import CRITICAL

DOC = (Path(__file__).parents[2] / "docs" / "config.md").read_text()
#: Sections whose keys the doc describes by name rather than by dotted path.
BY_NAME = {"model_components"}


def _model(annotation) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``Optional[...]`` and the like unwrapped)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model(arg)
        if found is not None:
            return found
    return None


def _keys(model: type[BaseModel], prefix: str = ""):
    """``(dotted key, field)`` of every field below ``model``."""
    for name, field in model.model_fields.items():
        key = prefix + name
        if key in BY_NAME:
            continue
        yield key, field
        inner = _model(field.annotation)
        if inner is not None:
            yield from _keys(inner, key + ".")


def _rows() -> dict[str, str]:
    """The doc's table rows ``| `key` | default | ...`` by key."""
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([\w.]+)` \| ([^|]+) \|", DOC, re.M)}


def _as_yaml(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def test_every_key_is_listed_with_the_schemas_default():
    rows = _rows()
    keys = list(_keys(schema.Config))
    assert len(keys) > 40
    missing = [key for key, field in keys if key not in rows and _model(field.annotation) is None]
    assert missing == [], f"keys the doc does not list: {missing}"
    for key, field in keys:
        if key not in rows:
            continue  # a section, whose keys are rows of their own
        listed = rows[key]
        if field.is_required():
            assert listed == "required", key
        elif field.default is None:
            assert listed in ("none", "see below"), key
        elif field.default is PydanticUndefined:  # a default_factory
            made = field.default_factory()
            if isinstance(made, BaseModel):
                continue  # a section, whose keys are rows of their own
            assert listed == f"`{_as_yaml(made)}`", (key, listed)
        else:
            assert listed == f"`{_as_yaml(field.default)}`", (key, listed)
    unknown = {key for key in rows if "." in key} - {key for key, _ in keys}
    assert unknown == set(), f"rows for keys the schema does not have: {unknown}"


def test_every_parameter_key_is_described():
    rows = _rows()
    assert set(schema.ParamSpec.model_fields) <= set(rows)
    for name in (*schema.Component.model_fields, *schema.ModelComponents.model_fields,
                 *schema.ParamLink.model_fields):
        assert f"`{name}`" in DOC, name


@pytest.mark.parametrize("name", [*MASS_PROFILES, *LIGHT_PROFILES])
def test_every_profile_is_listed_with_its_parameters(name):
    profile = {**MASS_PROFILES, **LIGHT_PROFILES}[name]
    row = next((line for line in DOC.splitlines() if line.startswith("| `") and f"`{name}`" in line), None)
    assert row is not None, f"no row for {name}"
    for param in profile.params:
        default = profile.defaults.get(param)
        assert (f"`{param}` ({default:g})" if default is not None else f"`{param}`") in row, (name, param)
    for alias, canonical in profile.aliases.items():
        assert f"`{canonical}` (alias `{alias}`)" in row or f"(alias `{alias}`)" in row, (name, alias)
    if hasattr(profile, "amplitude"):
        assert f"`{profile.amplitude}`" in row, name
    for setting, default in getattr(profile, "settings_defaults", {}).items():
        assert re.search(rf"`{setting}` \({default:g}″?\)", row), (name, setting)


def test_quality_flags_methods_and_the_default_critical_set():
    flags = typing.get_args(schema.QualityFlag)
    for flag in flags:
        assert f"`{flag}`" in DOC, flag
    left_out = re.search(r"all\s+of them but ((?:`\w+`,?\s*(?:and\s+)?)+)", DOC).group(1)
    assert set(re.findall(r"`(\w+)`", left_out)) == set(flags) - set(CRITICAL)
    for methods in METHODS.values():
        for method in methods:
            assert f"`{method}`" in DOC, method


def test_the_example_is_a_valid_config():
    example = re.search(r"```yaml\n(.*?)```", DOC, re.S).group(1)
    config = validate_config(yaml.safe_load(example), "docs/config.md")
    spec = build_model_spec(config.model_components)
    assert spec.n_linear == 2 and len(spec.param_names) == 15


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_each_samplers_defaults_and_other_names_are_listed(method):
    """The bullet of ``inference.settings`` for each sampler gives every default tinylens sets and
    every other name a setting goes by (dynesty's ``n_live`` for ``nlive`` was missing)."""
    from tinylens.inference import dynesty_runner, nautilus_runner

    runner = {"nautilus": nautilus_runner, "dynesty": dynesty_runner}[method]
    bullet = re.search(rf"^- `{method}`: (.*?)(?=^- )", DOC, re.S | re.M).group(1)
    names = {name: {name} | {alias for alias, canon in runner.ALIASES.items() if canon == name} for name in runner.DEFAULTS}
    for name, default in runner.DEFAULTS.items():
        shown = re.escape(_as_yaml(int(default) if isinstance(default, float) and default.is_integer() else default))
        assert any(re.search(rf"`{n}`\s+\((?:[^)]*?, )?`?{shown}`?[);]", bullet) for n in names[name]), (method, name)
    for alias in runner.ALIASES:
        assert f"`{alias}`" in bullet, (method, alias)


@pytest.mark.parametrize("method", ["differential_evolution", "lbfgs"])
def test_each_optimisers_defaults_are_listed(method):
    """The bullet of ``inference.settings`` for each optimiser gives every default tinylens passes
    it: differential_evolution's ``maxiter`` (1000) and ``tol`` (0.01), which it gives scipy, were
    missing, so the page's list of its defaults stopped at ``popsize``."""
    from tinylens.inference.optimizer_settings import DE_DEFAULTS, LBFGS_DEFAULTS

    defaults = {"differential_evolution": DE_DEFAULTS, "lbfgs": LBFGS_DEFAULTS}[method]
    bullet = re.search(rf"^- `{method}`: (.*?)(?=^- |^#)", DOC, re.S | re.M).group(1)
    for name, default in defaults.items():
        shown = re.escape(_as_yaml(default))
        assert re.search(rf"`{name}`\s+\({shown}[);]", bullet), (method, name, default)


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_each_samplers_pipeline_defaults_are_listed(method):
    """The settings the pipeline gives a sampler unless the config sets them (nautilus's
    ``n_networks`` 1, not nautilus's 4) are in that sampler's bullet, with their values."""
    from tinylens.pipeline.run import BOXED_SAMPLER_DEFAULTS

    bullet = re.search(rf"^- `{method}`: (.*?)(?=^- )", DOC, re.S | re.M).group(1)
    for name, default in BOXED_SAMPLER_DEFAULTS.get(method, {}).items():
        assert re.search(rf"`{name}`\s+\({re.escape(_as_yaml(default))}\)", bullet), (method, name)


def test_the_sersic_difference_from_tinylensgpu_is_as_the_doc_says():
    """docs/config.md's "Differences from TinyLensGpu" did not say that TinyLensGpu's Sersic
    (b_n = 1.9992 n - 0.3271) is not tinylens's (exact b_n), though a TinyLensGpu config's
    R_sersic and Ie then describe another profile here. The sizes it now gives are those of the
    two b_n (scipy's gammaincinv for the exact one), and tinylens's Sersic with the converted
    R_sersic and Ie is TinyLensGpu's formula."""
    import jax.numpy as jnp
    from scipy.special import gammaincinv

    section = DOC[DOC.index("## Differences from TinyLensGpu"):]
    bullet = section[section.index("**The Sérsic profile.**"):].split("\n- ")[0]
    text = " ".join(bullet.split())
    stated = {float(n): float(pct) for pct, n in re.findall(r"(\d+(?:\.\d+)?) % (?:larger here )?at n = (\d+(?:\.\d+)?)", text)}
    assert set(stated) == {0.3, 0.5, 1.0}, text
    ratio = lambda n: (gammaincinv(2 * n, 0.5) / (1.9992 * n - 0.3271)) ** n
    for n, pct in stated.items():
        digits = len(str(pct).split(".")[1])
        assert round(100 * (ratio(n) - 1), digits) == pct, (n, 100 * (ratio(n) - 1))
    assert "within 0.1 % from n = 2 to 8" in text
    assert all(abs(ratio(n) - 1) < 1e-3 for n in np.linspace(2.0, 8.0, 61))
    x = jnp.linspace(0.1, 3.0, 30)
    y = 0.4 * x
    for n in (0.5, 1.0, 4.0):
        r_tlg, ie_tlg, e1, e2 = 0.6, 2.0, 0.1, -0.05
        b_approx, b_exact = 1.9992 * n - 0.3271, gammaincinv(2 * n, 0.5)
        p = {"R_sersic": r_tlg * ratio(n), "n_sersic": n, "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0}
        ours = ie_tlg * np.exp(b_approx - b_exact) * np.asarray(LIGHT_PROFILES["Sersic"].basis(x, y, p))[..., 0]
        phi, c = np.arctan2(e2, e1) / 2, np.hypot(e1, e2)
        q = (1 - c) / (1 + c)
        xr, yr = np.cos(phi) * x + np.sin(phi) * y, -np.sin(phi) * x + np.cos(phi) * y
        radius = np.hypot(np.asarray(xr) * np.sqrt(q), np.asarray(yr) / np.sqrt(q))
        theirs = ie_tlg * np.exp(-b_approx * ((radius / r_tlg) ** (1 / n) - 1))
        np.testing.assert_allclose(ours, theirs, rtol=2e-4)


def _short_of_total(r_sersic: float, nsub: int, half: int = 20, pixel: float = 0.05) -> float:
    """The percentage by which tinylens's Sersic (n = 4, circular) drawn at the centres of nsub x nsub
    sub-pixels of ``pixel``-wide pixels, centred on the middle one of 2 half + 1, falls short of the
    analytic total flux (scipy's b_n); the light beyond the image is below 1e-4 of it here."""
    from scipy.special import gammaincinv, gammaln

    import jax
    import jax.numpy as jnp

    from tinylens.numerics.grid import subpixel_offsets

    n = 4.0
    b = gammaincinv(2 * n, 0.5)
    total = np.exp(np.log(2 * np.pi * n) + 2 * np.log(r_sersic) + b + gammaln(2 * n) - 2 * n * np.log(b))
    along = (np.arange(-half, half + 1)[:, None] * pixel + subpixel_offsets(nsub, pixel)[None, :]).ravel()
    p = {"R_sersic": r_sersic, "n_sersic": n, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}
    pixel_row = jax.jit(lambda y: jnp.sum(LIGHT_PROFILES["Sersic"].basis(jnp.asarray(along)[None, :], y[:, None], p),
                                          axis=(1, 2)))  # one row of pixels (nsub rows of sub-pixels) at a time
    drawn = float(np.sum([np.asarray(pixel_row(along[i:i + nsub])) for i in range(0, along.size, nsub)],
                         dtype=np.float64))
    return 100 * (1 - drawn * (pixel / nsub) ** 2 / total)


def test_the_supersampling_shortfall_of_a_cusp_is_as_the_doc_says():
    """docs/config.md's sizes of the flux a compact Sersic loses at each supersampling factor, against the
    analytic total (benchmarks/supersampling_flux.py prints them for every factor, with a numpy Sersic too)."""
    text = " ".join(DOC[DOC.index("Supersampling takes each sub-pixel's centre"):].split("\n\n")[0].split())
    stated = re.search(r"R_sersic 0\.01″, drawn directly on 0\.05″ pixels, sums to about (\d+) % less than its total "
                       r"flux at 4×4, (\d+) % less at 16×16 and (\d+\.\d) % less at 64×64; at R_sersic 0\.002″ the "
                       r"4×4 sum is (\d+) % short", text)
    assert stated, text
    four, sixteen, sixty_four, compact = stated.groups()
    assert round(_short_of_total(0.01, 4)) == int(four)
    assert round(_short_of_total(0.01, 16)) == int(sixteen)
    assert round(_short_of_total(0.01, 64), 1) == float(sixty_four)
    assert round(_short_of_total(0.002, 4)) == int(compact)


def test_the_noise_maps_bad_value_limit_is_as_the_docs_say():
    """docs/config.md and the README said that every bad-pixel noise value is masked, but one in
    over 1 - LOW_NOISE_QUANTILE of the image is refused (dbbae2f); both now give that limit."""
    from tinylens.data.dataset import LOW_NOISE_QUANTILE

    limit = f"over {100 * (1 - LOW_NOISE_QUANTILE):g} % of the image"
    row = next(line for line in DOC.splitlines() if line.startswith("| `dataset.noise_path`"))
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"{limit} (then the median) is refused" in row, row
    assert f"a bad-pixel value in {limit} is the median noise itself and\n  is refused" in readme


@pytest.mark.parametrize("record", [filenames.template_name, filenames.fingerprint_name],
                         ids=["template", "fingerprint"])
def test_a_page_naming_one_samplers_checkpoint_record_names_every_samplers(record):
    """Each sampler keeps its own record beside its checkpoint (nautilus's ``checkpoint.hdf5.template``,
    dynesty's ``checkpoint_dynesty.pkl.template``): a page that names one sampler's file names the
    others' too, so that a dynesty user does not look for a file their fits never write."""
    root = Path(__file__).parents[2]
    wrong = []
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = page.read_text()
        names = {sampler: record(checkpoint) for sampler, checkpoint in filenames.CHECKPOINTS.items()}
        shown = {sampler for sampler, name in names.items() if f"`{name}`" in text}
        if shown and shown != set(names):
            wrong.append(f"{page.name} names {sorted(names[s] for s in shown)} but not "
                         f"{sorted(names[s] for s in set(names) - shown)}")
    assert wrong == [], "\n".join(wrong)


def test_a_page_telling_an_inference_setting_names_it_as_the_older_sampling_section_writes_it_too():
    """A template or config may hold TinyLensGpu's older ``sampling:`` section, where
    ``inference.settings.checkpoint_every`` is ``sampling.checkpoint_every`` (as tinylens's messages
    name it for such a config): each paragraph or bullet of a page that names a setting as
    ``inference.settings.<key>`` names it the older way too, so that user is not sent to a
    section their config does not have."""
    from tinylens.config.loader import key_as_written

    older = {"sampling": {"sampler": "nautilus", "nlive": 200}}  # as parsed from such a file
    root = Path(__file__).parents[2]
    wrong, seen = [], 0
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for block in re.split(r"\n\s*\n|\n(?=\s*[*-] )", page.read_text()):
            for key in re.findall(r"`inference\.settings\.(\w+)", block):
                seen += 1
                written = key_as_written(older, f"inference.settings.{key}")
                assert written == f"sampling.{key}", written
                if f"`{written}" not in block:
                    wrong.append(f"{page.name}: inference.settings.{key} without {written}")
    assert seen >= 5, seen  # README's resume and checkpoint_every, survey.md's budget and template keys
    assert wrong == [], "\n".join(wrong)
