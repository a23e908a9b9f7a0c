"""TinyLensGpu's example configs (the paper/demo/* configs, its ModelParser's example and the
config of one SLACS lens from paper/slacs/results), built here from the values they hold and
written as YAML in TinyLensGpu's schema, each beside small simulated FITS files at the paths it
names. ``tinylens validate`` accepts each, and finds in each the model TinyLensGpu's ModelParser
finds: the same profiles, the same free parameters with the same priors, the same fixed values,
links and linear amplitudes, and the same inference settings and output names. A digest of each
config's content checks that the data here are TinyLensGpu's values; one hand-written config
checks the YAML spellings such files use.

The MGE demos are lists of ten or fifteen Gaussians with one centre and one ellipticity, which a
TinyLensGpu script writes with log-spaced widths; they are built here the same way. The demos
that ask for an optimiser tinylens lacks, or for the position likelihood, are refused with a
message saying so (docs/config.md, "Differences from TinyLensGpu")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from astropy.io import fits
from typer.testing import CliRunner

from tinylens.cli.main import app
from tinylens.cli.validate import load_problem
from tinylens.config.model_spec import ModelSpec, Ref, free_parameter_names
from tinylens.priors import Prior
from tinylens.profiles.light import LIGHT_PROFILES
from tinylens.profiles.mass import MASS_PROFILES
from tinylens.simulate import gaussian_psf

# -- TinyLensGpu's example configs, as data ------------------------------------------------------
# Each config is a mapping in TinyLensGpu's schema built from the values its file holds (profiles,
# priors, limits, fixed values, links, linear amplitudes, inference and output settings), then
# written as YAML by ``as_yaml``. The YAML spellings that matter for reading such files are kept
# apart, in YAML_FORMS, written out by hand.
Entry = dict[str, Any]


def free(kind: str, a: float, b: float, lo: float, hi: float) -> Entry:
    """A sampled parameter: prior ``kind`` with settings [a, b], limits [lo, hi]."""
    return {"prior_type": kind, "prior_settings": [a, b], "limits": [lo, hi], "fixed": False}


def link(list_name: str, idx: int, param: str) -> Entry:
    """A ``fixed_value`` that names another component's parameter."""
    return {"component_type": list_name, "component_idx": idx, "parameter": param}


def fixed(value: float | Entry, prior: Entry | None = None) -> Entry:
    """A parameter held at ``value`` (a number or a ``link``), with an unused ``prior`` written
    beside it where the config has one."""
    return {**(prior or {}), "fixed": True, "fixed_value": value}


def tied(list_name: str, params: tuple[str, ...], prior: Entry | None = None) -> Entry:
    """``params``, each held at the same parameter of component 0 of ``list_name``."""
    return {p: fixed(link(list_name, 0, p), prior) for p in params}


def pair(entry: Entry, names: tuple[str, ...] = ("center_x", "center_y")) -> Entry:
    """The same entry for each of ``names``."""
    return {name: dict(entry) for name in names}


def comp(profile: str, **params: Entry) -> Entry:
    """One component of a ``*_list``."""
    return {"type": profile, "params": params}


LINEAR = {"use_linear": True}
CENTRE = ("center_x", "center_y")
ELL = pair(free("gaussian", 0.0, 0.3, -1.0, 1.0), ("e1", "e2"))  # every config's e1, e2 prior
SHEAR = comp("SHEAR", **pair(free("uniform", -0.2, 0.2, -0.5, 0.5), ("gamma1", "gamma2")))
LOG_AMPLITUDE = free("log_uniform", 1e-5, 1e5, 0.0, 1e5)


def dataset(folder: str, image: str, pixel_scale: float) -> Entry:
    """The ``dataset`` block: ``image``, noise and psf FITS files in ``folder``."""
    return {"data_path": f"{folder}/{image}.fits", "noise_path": f"{folder}/noise.fits",
            "psf_path": f"{folder}/psf.fits", "pixel_scale": pixel_scale}


def inference(kind: str, method: str, **settings: Any) -> Entry:
    """The ``inference`` block."""
    return {"type": kind, "method": method, "settings": settings}


def output(path: str = "output", sampled: bool = True) -> Entry:
    """The ``output`` block of the demos: a sampler's adds a corner plot and the samples table."""
    figures = {"results": "model_results.png", **({"corner": "model_corner.png"} if sampled else {})}
    tables = {**({"samples": "result_samples.csv"} if sampled else {}), "summary": "result_summary.csv"}
    return {"path": path, "figures": figures, "tables": tables, "datasets": {"subplot": "dataset_subplot.png"}}


def config(data: Entry, mass: list, source: list, lens: list, **rest: Any) -> Entry:
    """A whole config: ``data``, the three component lists, then ``rest`` (inference, output, ...)."""
    return {"dataset": data, "model_components": {"lens_mass_list": mass, "source_light_list": source,
                                                  "lens_light_list": lens}, **rest}


class _Dumper(yaml.SafeDumper):
    """Writes a mapping used twice in full both times (no ``&id`` anchors)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def as_yaml(data: Entry, block: bool = False, sort_keys: bool = False) -> str:
    """``data`` as YAML text, keys in order and number pairs as ``[a, b]`` as in the hand-written
    demos; with ``block``, one list item a line, as TinyLensGpu's scripts dump the MGE demos
    (and with ``sort_keys`` too, the SLACS configs)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False if block else None)


#: TinyLensGpu/ModelParser/example_modeling_config.yaml: every amplitude sampled, log-uniform, and
#: fixed parameters written with a prior beside them.
MODEL_PARSER_EXAMPLE = as_yaml(config(
    dataset("data", "data", 0.05),
    mass=[comp("SIE", theta_E=free("uniform", 0.0, 3.0, 0.0, 10.0), **ELL,
               **pair(fixed(0.0, free("gaussian", 0.0, 0.1, -1.0, 1.0)))), SHEAR],
    source=[comp("Sersic", R_sersic=free("uniform", 0.0, 10.0, 0.0, 10.0), n_sersic=free("uniform", 0.3, 6.0, 0.3, 6.0),
                 Ie=LOG_AMPLITUDE, **ELL, **pair(free("gaussian", 0.0, 0.5, -3.0, 3.0))),
            comp("Gaussian", amp=LOG_AMPLITUDE, sigma=free("uniform", 0.0, 3.0, 0.0, 3.0),
                 **tied("source_light_list", CENTRE, free("gaussian", 0.0, 0.5, -3.0, 3.0)))],
    lens=[comp("Sersic", R_sersic=free("uniform", 0.0, 10.0, 0.0, 10.0), n_sersic=free("uniform", 0.3, 6.0, 0.3, 6.0),
               **ELL, **tied("lens_mass_list", CENTRE, free("gaussian", 0.0, 0.5, -3.0, 3.0)), Ie=LOG_AMPLITUDE)],
))


def lens_light_sersic(r_limits: tuple[float, float]) -> Entry:
    """The demos' lens light: a de Vaucouleurs-like Sersic at the origin, amplitude solved linearly."""
    return comp("Sersic", R_sersic=free("uniform", 0.001, 2.001, *r_limits), n_sersic=free("gaussian", 4.0, 0.5, 0.3, 6.0),
                **ELL, **pair(fixed(0.0)), Ie=LINEAR)


#: The SIE + shear of paper/demo/lens_src and src_only, centred on the origin.
DEMO_MASS = [comp("SIE", theta_E=free("uniform", 0.001, 3.001, 0.0, 10.0), **ELL, **pair(fixed(0.0))), SHEAR]
#: Their source: a free Sersic, amplitude solved linearly.
DEMO_SOURCE = [comp("Sersic", R_sersic=free("uniform", 0.001, 2.001, 0.0, 5.0), n_sersic=free("uniform", 0.3, 2.3, 0.3, 6.0),
                    **ELL, **pair(free("gaussian", 0.0, 0.5, -3.0, 3.0)), Ie=LINEAR)]
DEMO_DATA = dataset("data", "image", 0.074)


def nautilus_demo(mass: list, source: list, lens: list, batch_size: int, **extra: Any) -> Entry:
    """A demo fitted with nautilus (200 live points), NNLS amplitudes, the sampler's outputs."""
    return config(DEMO_DATA, mass, source, lens, inference=inference("sampler", "nautilus", nlive=200, batch_size=batch_size),
                  solver_type="nnls", **extra, output=output())


#: paper/demo/lens_src/model_config.yaml.
LENS_SRC = as_yaml(nautilus_demo(DEMO_MASS, DEMO_SOURCE, [lens_light_sersic((0.0, 5.0))], 800))
#: paper/demo/src_only/model_config.yaml: lens_src's mass and source, no lens light.
SRC_ONLY = as_yaml(nautilus_demo(DEMO_MASS, DEMO_SOURCE, [], 200))
#: paper/demo/src_only_poslike/model_config.yaml: src_only with TinyLensGpu's later position likelihood.
SRC_ONLY_POSLIKE = as_yaml(nautilus_demo(DEMO_MASS, DEMO_SOURCE, [], 200, position_likelihood={
    "positions": [[0.115, -1.071], [0.926, 1.521]], "threshold_arcsec": 0.3, "min_log_like": -1.0e10}))

#: paper/demo/lens_only/model_config_<method>.yaml: (R_sersic's limits, inference block) of each.
LENS_ONLY = {
    "nautilus": ((0.0, 5.0), inference("sampler", "nautilus", nlive=200, batch_size=200)),
    "dynesty": ((0.0, 5.0), inference("sampler", "dynesty", nlive=200, dlogz=0.05, bound="multi", sample="rwalk")),
    "differential_evolution": ((0.0001, 2.0), inference(
        "optimizer", "differential_evolution", strategy="best1bin", maxiter=1000, popsize=15, tol=0.01,
        mutation=[0.5, 1.0], recombination=0.7, seed=42, polish=True, init="latinhypercube", atol=0,
        updating="immediate")),
    "basin_hopping": ((0.001, 2.0), inference(
        "optimizer", "basin_hopping", niter=100, T=1.0, stepsize=0.5,
        minimizer_kwargs={"method": "L-BFGS-B", "options": {"maxiter": 1000, "ftol": 1e-6}},
        seed=42, interval=50, niter_success=10)),
    "direct": ((0.0, 5.0), inference("optimizer", "direct", maxiter=1000, maxfun=2000, eps=1.0e-4,
                                     locally_biased=True, volper=0.0, sigmaper=0.0)),
    "dual_annealing": ((0.0, 5.0), inference(
        "optimizer", "dual_annealing", maxiter=1000, initial_temp=5230.0, restart_temp_ratio=2e-5, visit=2.62,
        accept=-5.0, maxfun=10000000, seed=42, no_local_search=False,
        minimizer_kwargs={"method": "L-BFGS-B", "options": {"maxiter": 1000, "ftol": 1e-6}})),
}


def lens_only(method: str) -> str:
    """paper/demo/lens_only/model_config_<method>.yaml: the lens light alone (no solver_type)."""
    r_limits, block = LENS_ONLY[method]
    return as_yaml(config(DEMO_DATA, [], [], [lens_light_sersic(r_limits)], inference=block,
                          output=output(sampled=block["type"] == "sampler")))


def slacs_j0029(folder: str = "dataset/J0029-0055") -> str:
    """paper/slacs/results/J0029-0055/modeling_config.yaml, its FITS files in ``folder``: two
    Sersics of lens light and two of source, each pair sharing a centre, the second of each a
    linked exponential disc, and an SIE + shear."""
    disc = lambda list_name, r_low, centre_to: comp(
        "Sersic", Ie=LINEAR, R_sersic=free("uniform", r_low, 10.0, 0.0, 10.0), **tied(centre_to, CENTRE),
        **tied(list_name, ("e1", "e2")), n_sersic=fixed(1.0))
    return as_yaml(config(
        dataset(folder, "image", 0.05),
        mass=[comp("SIE", **pair(free("gaussian", 0.0, 0.1, -1.0, 1.0)), **ELL,
                   theta_E=free("uniform", 0.3, 3.5, 0.0, 10.0)), SHEAR],
        source=[comp("Sersic", Ie=LINEAR, R_sersic=free("uniform", 0.001, 10.0, 0.0, 10.0),
                     **pair(free("gaussian", 0.0, 0.5, -3.5, 3.5)), **ELL, n_sersic=fixed(4.0)),
                disc("source_light_list", 0.001, "source_light_list")],
        lens=[comp("Sersic", Ie=LINEAR, R_sersic=free("uniform", 0.01, 10.0, 0.0, 10.0), **tied("lens_mass_list", CENTRE),
                   **ELL, n_sersic=fixed(4.0)),
              disc("lens_light_list", 0.01, "lens_mass_list")],
        inference=inference("sampler", "nautilus", batch_size=100, nlive=200, verbose=True),
        output=output("results/J0029-0055"), solver_type="nnls",
    ), block=True, sort_keys=True)


def mge_components(list_name: str, n_gauss: int, sigma_max: float, center_sigma: float) -> list[Entry]:
    """An MGE as TinyLensGpu's MGE demos write it: ``n_gauss`` Gaussians of widths log-spaced from
    0.01" to ``sigma_max``, the first with free centre and ellipticity, the others linked to it,
    each flux solved linearly."""
    first = {**pair(free("gaussian", 0.0, center_sigma, -3.0, 3.0)), **ELL}
    rest = tied(list_name, (*CENTRE, "e1", "e2"))
    return [comp("Gaussian", sigma=fixed(float(sigma)), **(rest if i else first), flux=LINEAR)
            for i, sigma in enumerate(np.logspace(np.log10(0.01), np.log10(sigma_max), n_gauss))]


def mge_demo(lens_src: bool) -> str:
    """paper/demo/lens_src_mge (SIE + shear, 10 Gaussians of source and 10 of lens light) or
    paper/demo/lens_only_mge (15 Gaussians of lens light) model_config.yaml."""
    return as_yaml(config(
        DEMO_DATA, mass=DEMO_MASS if lens_src else [],
        source=mge_components("source_light_list", 10, 1.0, 0.5) if lens_src else [],
        lens=mge_components("lens_light_list", 10 if lens_src else 15, 3.0, 0.1),
        inference=inference("sampler", "nautilus", nlive=200, batch_size=100 if lens_src else 200),
        output=output(), solver_type="nnls",
    ), block=True)


#: Spellings a hand-written TinyLensGpu config uses, written out here: double-quoted strings; a
#: key with a space after its colon and its value on the next lines; 'fixed: false' after the
#: prior, and 'fixed: true' with a prior that is not used; exponents without a decimal point
#: (1e-3), which YAML 1.1 reads as text; a list key with nothing after it (null: no components);
#: comments after values.
YAML_FORMS = """\
dataset: {data_path: "img/sci.fits", noise_path: "img/rms.fits", psf_path: "img/kernel.fits", pixel_scale: 0.08}
model_components:
  lens_light_list:
  lens_mass_list:
  - type: "SIE"
    params:
      center_x: {prior_type: "gaussian", prior_settings: [0.0, 0.2], limits: [-1.0, 1.0], fixed: true, fixed_value: 0.05}
      center_y: {fixed: true, fixed_value: -0.05}
      theta_E: \n        prior_type: "uniform"
        prior_settings: [0.5, 2.5]
        limits: [0.0, 10.0]
        fixed: false
      e1: {prior_type: "gaussian", prior_settings: [0.0, 0.2], limits: [-0.8, 0.8], fixed: false}   # an aside
      e2: {prior_type: "gaussian", prior_settings: [0.0, 0.2], limits: [-0.8, 0.8], fixed: false}
  source_light_list:
  - type: "Sersic"
    params:
      Ie: {prior_type: "log_uniform", prior_settings: [1e-3, 1e4], limits: [0.0, 1e4], fixed: false}
      R_sersic: {prior_type: "uniform", prior_settings: [0.05, 1.0], limits: [0.0, 5.0], fixed: false}
      n_sersic: {fixed: true, fixed_value: 1.5}
      e1: {fixed: false, prior_type: "gaussian", prior_settings: [0.0, 0.2], limits: [-0.8, 0.8]}
      e2: {fixed: false, prior_type: "gaussian", prior_settings: [0.0, 0.2], limits: [-0.8, 0.8]}
      center_x: {fixed: false, prior_type: "gaussian", prior_settings: [0.1, 0.4], limits: [-2.0, 2.0]}
      center_y: {fixed: false, prior_type: "gaussian", prior_settings: [-0.1, 0.4], limits: [-2.0, 2.0]}
  - type: "Gaussian"
    params:
      amp: {use_linear: true}
      sigma: {prior_type: "uniform", prior_settings: [0.01, 0.5], limits: [0.0, 1.0], fixed: false}
      e1: {fixed: true, fixed_value: 0.0}
      e2: {fixed: true, fixed_value: 0.0}
      center_x: \n        fixed: true
        fixed_value: \n          component_type: "source_light_list"
          component_idx: 0
          parameter: "center_x"
      center_y: {fixed: true, fixed_value: {component_type: "source_light_list", component_idx: 0, parameter: "center_y"}}
"""


ACCEPTED = {
    "ModelParser/example_modeling_config": MODEL_PARSER_EXAMPLE,
    "paper/demo/lens_src": LENS_SRC,
    "paper/demo/src_only": SRC_ONLY,
    "paper/demo/lens_only nautilus": lens_only("nautilus"),
    "paper/demo/lens_only dynesty": lens_only("dynesty"),
    "paper/demo/lens_only differential_evolution": lens_only("differential_evolution"),
    "paper/demo/lens_src_mge": mge_demo(lens_src=True),
    "paper/demo/lens_only_mge": mge_demo(lens_src=False),
    "paper/slacs/results/J0029-0055": slacs_j0029(),
    "YAML forms": YAML_FORMS,
}


#: For each example built here, the digest (``content_digest``) of the config TinyLensGpu's
#: repository holds, recorded from those files' content while this test was written (the two MGE
#: demos', ``lens_src_mge`` and ``lens_only_mge``, from configs built from their log-spaced widths,
#: as TinyLensGpu's script writes them): a value built here that differs from theirs fails.
TINYLENSGPU_DIGESTS = {
    "ModelParser/example_modeling_config": "ac3bf2d077f51a54",
    "paper/demo/lens_src": "795abc9acd3cb11b",
    "paper/demo/src_only": "96254ac162ed5efc",
    "paper/demo/src_only_poslike": "f14521d3dd91a5ed",
    "paper/demo/lens_only nautilus": "38e1395cee1122f2",
    "paper/demo/lens_only dynesty": "7ff344daf81f1355",
    "paper/demo/lens_only differential_evolution": "69621f0a8fa8c403",
    "paper/demo/lens_only basin_hopping": "82e44ad67ceb06b2",
    "paper/demo/lens_only direct": "60e48c47dc856370",
    "paper/demo/lens_only dual_annealing": "2d4cf14ebaa91bd1",
    "paper/demo/lens_src_mge": "fdd8818fa44e23fb",
    "paper/demo/lens_only_mge": "fc2faf10d7808034",
    "paper/slacs/results/J0029-0055": "ab2ccf1731d3e98f",
}


def content_digest(text: str) -> str:
    """The first 16 hex digits of the SHA-256 of ``text``'s content: read by yaml.safe_load,
    every number, and text that reads as one (YAML 1.1's ``1e-5``), as a float, keys sorted;
    layout, quoting and comments do not change it, any value does."""
    def as_floats(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: as_floats(v) for key, v in value.items()}
        if isinstance(value, list):
            return [as_floats(v) for v in value]
        if isinstance(value, (bool, type(None))):
            return value
        try:
            return float(value)
        except ValueError:
            return value
    canonical = json.dumps(as_floats(yaml.safe_load(text)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# -- the data, and the model as TinyLensGpu's ModelParser reads it -----------------------------
def write_example(folder: Path, text: str) -> Path:
    """``text`` as model_config.yaml in ``folder``, with a small simulated image, noise and PSF
    at the FITS paths it names (relative to ``folder``)."""
    dataset = yaml.safe_load(text)["dataset"]
    n = 40
    x, y = np.meshgrid(np.arange(n) - (n - 1) / 2, np.arange(n) - (n - 1) / 2)
    rng = np.random.default_rng(1)
    arrays = {"data_path": np.exp(-(x**2 + y**2) / 50.0) + rng.normal(0.0, 0.05, (n, n)),
              "noise_path": np.full((n, n), 0.05), "psf_path": gaussian_psf(0.15, dataset["pixel_scale"], 11)}
    for key, array in arrays.items():
        path = folder / dataset[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        fits.writeto(path, array, overwrite=True)
    config = folder / "model_config.yaml"
    config.write_text(text)
    return config


def tinylensgpu_reading(components: dict[str, Any]) -> dict[tuple[str, int, str], tuple]:
    """Each parameter of ``model_components`` as TinyLensGpu's ModelParser reads it:
    ``("linear",)`` (use_linear, whatever else is given), ``("const", value)``, ``("link", list,
    idx, parameter)`` (fixed to another parameter) or ``("free", prior_type, prior_settings, limits)``."""
    out = {}
    for list_name in ("lens_mass_list", "source_light_list", "lens_light_list"):
        for idx, comp in enumerate(components.get(list_name) or []):
            for name, s in comp["params"].items():
                if s.get("use_linear", False):
                    out[(list_name, idx, name)] = ("linear",)
                elif s.get("fixed", False) and isinstance(s["fixed_value"], dict):
                    link = s["fixed_value"]
                    out[(list_name, idx, name)] = ("link", link["component_type"], link["component_idx"], link["parameter"])
                elif s.get("fixed", False):
                    out[(list_name, idx, name)] = ("const", float(s["fixed_value"]))
                else:
                    out[(list_name, idx, name)] = ("free", s["prior_type"], tuple(map(float, s["prior_settings"])),
                                                   tuple(map(float, s["limits"])) if s.get("limits") else None)
    return out


def resolved(spec: ModelSpec, list_name: str, idx: int, name: str) -> Ref:
    """The value ``spec`` gives parameter ``name`` (or an alias of it, as ``amp``) of a component."""
    comp = getattr(spec, list_name.removesuffix("_list"))[idx]
    canon = comp.profile.aliases.get(name, name)
    return comp.amplitude if canon == getattr(comp.profile, "amplitude", None) else comp.params[canon]


def resolved_name(spec: ModelSpec, list_name: str, idx: int, name: str) -> str:
    """The parameter's own name for ``name`` (``flux`` for the Gaussian's ``amp``)."""
    comp = getattr(spec, list_name.removesuffix("_list"))[idx]
    return comp.profile.aliases.get(name, name)


def assert_same_model(spec: ModelSpec, components: dict[str, Any]) -> None:
    """``spec`` is the model TinyLensGpu reads from ``components``: its profiles, and each
    parameter free with the same prior (limits as truncation), fixed to the same value, the
    same as the parameter it is linked to, or solved linearly; no other free parameter."""
    for list_name, registry in (("lens_mass_list", MASS_PROFILES), ("source_light_list", LIGHT_PROFILES),
                                ("lens_light_list", LIGHT_PROFILES)):
        given = components.get(list_name) or []
        built = getattr(spec, list_name.removesuffix("_list"))
        assert [c.profile for c in built] == [registry[c["type"]] for c in given], list_name
    reading = tinylensgpu_reading(components)
    free = set()
    for (list_name, idx, name), meaning in reading.items():
        ref = resolved(spec, list_name, idx, name)
        where = f"{list_name}[{idx}].{name}"
        if meaning[0] == "linear":
            assert ref.kind == "linear", where
        elif meaning[0] == "const":
            assert ref == Ref("const", value=meaning[1]), where
        elif meaning[0] == "link":
            assert ref == resolved(spec, *meaning[1:]), where
        else:
            kind, (a, b), limits = meaning[1:]
            lo, hi = limits or (-np.inf, np.inf)
            assert ref.kind == "free", where
            assert spec.priors[ref.index] == Prior(kind, a, b, lo, hi), where
            label = f"{list_name.removesuffix('_list')}.{idx}.{resolved_name(spec, list_name, idx, name)}"
            assert spec.param_names[ref.index] == label, where
            free.add(ref.index)
    assert free == set(range(len(spec.param_names)))  # TinyLensGpu's ndim: nothing else is sampled


def doc_differences() -> str:
    """docs/config.md's section "Differences from TinyLensGpu", its lines joined."""
    doc = (Path(__file__).parents[2] / "docs" / "config.md").read_text()
    return " ".join(doc[doc.index("## Differences from TinyLensGpu"):].split())


def invoke(*args: Any):
    return CliRunner().invoke(app, [str(a) for a in args])


# -- the tests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ACCEPTED))
def test_tinylensgpus_example_validates_and_means_its_model(tmp_path, name):
    text = ACCEPTED[name]
    config = write_example(tmp_path, text)
    result = invoke("validate", config)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "is ready to fit" in out, out
    if name.endswith("differential_evolution"):  # the one setting tinylens runs otherwise, said so
        assert out.count("Warning") == 1, out
        assert "inference.settings.updating: 'immediate' is run as 'deferred'" in out, out
    else:
        assert "Warning" not in out, out
    raw = yaml.safe_load(text)
    problem = load_problem(config)
    assert_same_model(problem.spec, raw["model_components"])
    # counted from the config alone (the profiles' names, no JAX), as a sampler's first check counts them
    assert free_parameter_names(problem.config.model_components) == problem.param_names
    cfg = problem.config
    # without 'inference' (ModelParser's example), RunLensModel runs nautilus with its defaults
    inference = raw.get("inference", {"type": "sampler", "method": "nautilus", "settings": {}})
    assert (cfg.inference.type, cfg.inference.method, cfg.inference.settings) == \
        (inference["type"], inference["method"], inference["settings"])
    assert cfg.solver_type == raw.get("solver_type", "nnls")
    output = raw.get("output", {"path": "output"})
    assert cfg.output.path == output["path"]
    written = {f"{section}.{key}": value for section in ("figures", "tables", "datasets")
               for key, value in output.get(section, {}).items()}
    assert {key: cfg.output.file_names()[key] for key in written} == written


def test_the_examples_built_here_hold_tinylensgpus_values():
    """Each config built here from data holds the values of TinyLensGpu's file (profiles, priors,
    limits, fixed values, links, linear amplitudes, inference and output settings): its content's
    digest is the one recorded from that file, so a value changed in the data above fails here."""
    built = {name: text for name, text in ACCEPTED.items() if name != "YAML forms"}
    built |= {f"paper/demo/lens_only {method}": lens_only(method) for method in LENS_ONLY}
    built["paper/demo/src_only_poslike"] = SRC_ONLY_POSLIKE
    assert {name: content_digest(text) for name, text in built.items()} == TINYLENSGPU_DIGESTS

def test_the_mge_demos_have_tinylensgpus_widths():
    """The MGE demos built here have the widths TinyLensGpu's demo configs list (their first three)."""
    for text, list_name, widths in [
        (mge_demo(True), "source_light_list", [0.01, 0.016681005372000592, 0.027825594022071243]),
        (mge_demo(True), "lens_light_list", [0.01, 0.018846716378431196, 0.03551987182490267]),
        (mge_demo(False), "lens_light_list", [0.01, 0.015029247363536643, 0.022587827631437313]),
    ]:
        comps = yaml.safe_load(text)["model_components"][list_name]
        assert [c["params"]["sigma"]["fixed_value"] for c in comps[:3]] == pytest.approx(widths, rel=1e-12)


def test_a_uniform_prior_inside_its_limits_spans_tinylensgpus_range():
    """TinyLensGpu's uniform prior spans its prior_settings whatever the limits; tinylens's
    truncation to the limits leaves it so where the range lies inside them, as in the demos."""
    prior = Prior("uniform", 0.001, 3.001, 0.0, 10.0)
    u = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(prior.transform(u), 0.001 + u * 3.0)


def test_tinylensgpus_position_likelihood_demo_is_refused_as_not_supported(tmp_path):
    """paper/demo/src_only_poslike: the section tinylens does not provide is named, exit 2."""
    result = invoke("validate", write_example(tmp_path, SRC_ONLY_POSLIKE))
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in out, out
    assert "position_likelihood: TinyLensGpu's position likelihood" in out and "not supported by tinylens" in out


@pytest.mark.parametrize("method", ["basin_hopping", "direct", "dual_annealing"])
def test_tinylensgpus_optimizer_demos_are_refused_as_not_provided(tmp_path, method):
    """paper/demo/lens_only's basin_hopping, direct and dual_annealing configs were refused with
    "unknown optimizer method 'basin_hopping'", as if the name were misspelt; the message now says
    it is one of TinyLensGpu's optimizers that tinylens does not provide, and what to use instead."""
    result = invoke("validate", write_example(tmp_path, lens_only(method)))
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in out and out.startswith("Error:"), out
    assert f"inference.method: '{method}' is one of TinyLensGpu's optimizers, which tinylens does not provide" in out
    assert "Use differential_evolution" in out and "or lbfgs" in out and f"scipy's {method} settings" in out
    assert "unknown" not in out


def test_tinylensgpus_slacs_config_in_its_results_folder_takes_paths_from_there(tmp_path, monkeypatch):
    """TinyLensGpu's SLACS config lies in results/J0029-0055/ but names its files from the folder
    it was run in (dataset/J0029-0055/image.fits, output results/J0029-0055), as TinyLensGpu opens
    them; tinylens takes them from the config's folder. docs/config.md did not list this among the
    differences from TinyLensGpu; it does now, and as it says, validate run from that folder names
    the path to write, and the output folder is beside the config."""
    from tinylens.fitting.folder import output_dir

    section = doc_differences()
    assert "**Relative paths.** TinyLensGpu opens a config's relative paths" in section
    assert "from the folder it is run in; tinylens from the config file's folder" in section
    write_example(tmp_path, slacs_j0029())
    config = tmp_path / "results" / "J0029-0055" / "modeling_config.yaml"
    config.parent.mkdir(parents=True)
    (tmp_path / "model_config.yaml").replace(config)
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", config.relative_to(tmp_path))
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in out, out
    assert "dataset.data_path file not found" in out and "write '../../dataset/J0029-0055/image.fits'" in out, out
    config.write_text(slacs_j0029("../../dataset/J0029-0055"))
    assert invoke("validate", config).exit_code == 0
    assert output_dir(load_problem(config)) == config.parent.resolve() / "results" / "J0029-0055"


def test_tinylensgpus_sie_shear_and_gaussian_are_tinylenss():
    """The profiles TinyLensGpu's configs name mean the same here (its Sersic's b_n aside, which
    docs/config.md states and tests/config/test_config_doc.py checks): its SIE deflection (the
    isothermal ellipsoid's arcsinh/arcsin form, theta_E scaled by sqrt(q / (1 - q^2)), in the frame
    of the minor axis), its external shear about the origin and its elliptical Gaussian of total
    flux ``flux``, written here from their formulas, equal tinylens's."""
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-2.0, 2.0, 64), rng.uniform(-2.0, 2.0, 64)

    def frame(e1, e2, angle_shift=0.0):
        phi = np.arctan2(e2, e1) / 2 + angle_shift
        c = min(np.hypot(e1, e2), 0.9999)
        return phi, (1 - c) / (1 + c)

    def rotate(u, v, angle):  # coordinates in a frame turned by ``angle``
        return u * np.cos(angle) + v * np.sin(angle), -u * np.sin(angle) + v * np.cos(angle)

    for theta_e, e1, e2, cx, cy in [(1.2, 0.1, -0.05, 0.1, -0.2), (0.8, -0.2, 0.15, 0.0, 0.0), (1.0, 0.0, 0.3, 0.3, 0.1)]:
        angle, q = frame(e1, e2, -np.pi / 2)
        u, v = rotate(x - cx, y - cy, angle)
        r, scale = np.hypot(u, v), theta_e / np.sqrt(1 / q - q)
        au, av = scale * np.arcsinh(np.sqrt(1 / q**2 - 1) * u / r), scale * np.arcsin(np.sqrt(1 - q**2) * v / r)
        expected = rotate(au, av, -angle)
        p = {"theta_E": theta_e, "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
        np.testing.assert_allclose(MASS_PROFILES["SIE"].deflection(x, y, p), expected, atol=2e-6)

    g1, g2 = 0.05, -0.03
    np.testing.assert_allclose(MASS_PROFILES["SHEAR"].deflection(x, y, {"gamma1": g1, "gamma2": g2}),
                               (g1 * x + g2 * y, g2 * x - g1 * y), atol=1e-7)

    flux, sigma, e1, e2, cx, cy = 3.0, 0.4, 0.2, 0.1, 0.1, -0.1
    angle, q = frame(e1, e2)
    u, v = rotate(x - cx, y - cy, angle)
    expected = flux / (2 * np.pi * sigma**2) * np.exp(-(q * u**2 + v**2 / q) / (2 * sigma**2))
    p = {"sigma": sigma, "e1": e1, "e2": e2, "center_x": cx, "center_y": cy}
    np.testing.assert_allclose(flux * np.asarray(LIGHT_PROFILES["Gaussian"].basis(x, y, p))[..., 0], expected, rtol=1e-5)
