"""tinylens.profiles.catalog: the profiles' names, read by a config's check before JAX loads, are
those the profile modules define."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinylens.config.loader import load_config
from tinylens.config.model_spec import build_model_spec
from tinylens.profiles.catalog import LIGHT_NAMES, MASS_NAMES
from tinylens.profiles.light import LIGHT_PROFILES
from tinylens.profiles.mass import MASS_PROFILES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _fields(profile) -> tuple:
    """What a config may say of ``profile``: its name, parameters, defaults, aliases, amplitude and settings."""
    return (profile.name, tuple(profile.params), dict(profile.defaults), dict(profile.aliases),
            getattr(profile, "amplitude", None), dict(getattr(profile, "settings_defaults", {}) or {}))


@pytest.mark.parametrize("names, profiles", [(MASS_NAMES, MASS_PROFILES), (LIGHT_NAMES, LIGHT_PROFILES)],
                         ids=["mass", "light"])
def test_the_catalog_names_every_profile_as_the_profile_modules_define_it(names, profiles):
    """Every profile name, in the same order (a message lists them), and every field a config's
    check reads; a profile registered under two names (SERSIC_ELLIPSE) is one entry in both."""
    assert list(names) == list(profiles)
    for key, profile in profiles.items():
        assert _fields(names[key]) == _fields(profile), key
        assert [other for other in names if names[other] is names[key]] == \
            [other for other in profiles if profiles[other] is profile]


@pytest.mark.parametrize("settings", [{}, {"n_gauss": 3}, {"n_gauss": 60, "sigma_min": 0.1}, {"n_gauss": 0},
                                      {"n_gauss": 61}, {"n_gauss": 2.5}, {"n_gauss": "15"}, {"n_gauss": True},
                                      {"sigma_min": 2.0, "sigma_max": 1.0}, {"sigma_min": 0.0}],
                         ids=repr)
@pytest.mark.parametrize("name", ["Sersic", "Gaussian", "MGE"])
def test_the_catalogs_number_of_amplitudes_is_the_profiles(name, settings):
    """n_basis, by which a config's light settings are checked: the same count, or the same error."""
    def outcome(n_basis):
        try:
            return n_basis(settings)
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)

    assert outcome(LIGHT_NAMES[name].n_basis) == outcome(LIGHT_PROFILES[name].n_basis)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_model_resolved_against_the_catalog_is_the_one_built_of_the_profiles(path):
    """The example templates resolve against the names alone to the same free parameters, priors and
    references, component by component, as against the profiles themselves."""
    components = load_config(path)[0].model_components
    real, named = build_model_spec(components), build_model_spec(components, (MASS_NAMES, LIGHT_NAMES))
    assert (named.param_names, named.priors, dict(named.relative_to)) == \
        (real.param_names, real.priors, dict(real.relative_to))
    for ours, theirs in zip((*named.lens_mass, *named.light), (*real.lens_mass, *real.light), strict=True):
        assert (ours.label, ours.profile.name, dict(ours.params), dict(ours.settings), ours.amplitude) == \
            (theirs.label, theirs.profile.name, dict(theirs.params), dict(theirs.settings), theirs.amplitude)
