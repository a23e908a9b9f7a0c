"""The forward model: lens equation, light profiles, supersampling, binning and PSF.

For one non-linear parameter vector ``theta`` this builds the paper's design matrix
``M = B L`` (eq. 7): one PSF-convolved column per linear amplitude, plus the image of any
light component whose amplitude is fixed or sampled. Everything here is written for one
parameter vector; callers batch with :func:`jax.vmap`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from tinylens.config.model_spec import Component, ModelSpec
from tinylens.numerics.convolution import KernelFFT, convolve_stack
from tinylens.numerics.grid import PointGrid, bin_points


class Columns(NamedTuple):
    """Per-pixel model pieces: linear columns ``(..., K)`` and fixed-amplitude images ``(...)``."""

    linear: jnp.ndarray
    fixed_lens: jnp.ndarray
    fixed_source: jnp.ndarray


def component_values(comp: Component, theta: jnp.ndarray) -> dict[str, jnp.ndarray]:
    """Values of a component's parameters given the free vector ``theta``."""
    return {name: jnp.asarray(ref.read(theta), theta.dtype) for name, ref in comp.params.items()}


def amplitude_value(comp: Component, theta: jnp.ndarray) -> jnp.ndarray:
    """The (non-linear) amplitude of a light component."""
    return jnp.asarray(comp.amplitude.read(theta), theta.dtype)


def deflection(spec: ModelSpec, theta: jnp.ndarray, x: jnp.ndarray, y: jnp.ndarray):
    """Total deflection ``(alpha_x, alpha_y)`` of all mass components at ``(x, y)``."""
    ax = jnp.zeros_like(x)
    ay = jnp.zeros_like(y)
    for comp in spec.lens_mass:
        dx, dy = comp.profile.deflection(x, y, component_values(comp, theta))
        ax = ax + dx
        ay = ay + dy
    return ax, ay


def ray_shoot(spec: ModelSpec, theta: jnp.ndarray, x: jnp.ndarray, y: jnp.ndarray):
    """Source-plane positions ``beta = theta - alpha(theta)`` (eq. 1)."""
    ax, ay = deflection(spec, theta, x, y)
    return x - ax, y - ay


def _light(comps: tuple[Component, ...], theta, x, y):
    """Linear columns ``x.shape + (k,)`` and the fixed-amplitude image of ``comps``."""
    cols = []
    fixed = jnp.zeros_like(x)
    for comp in comps:
        basis = comp.profile.basis(x, y, component_values(comp, theta), comp.settings)
        if comp.linear:
            cols.append(basis)
        else:
            fixed = fixed + amplitude_value(comp, theta) * basis[..., 0]
    lin = jnp.concatenate(cols, axis=-1) if cols else jnp.zeros(x.shape + (0,), x.dtype)
    return lin, fixed


def light_columns(spec: ModelSpec, theta: jnp.ndarray, x: jnp.ndarray, y: jnp.ndarray) -> Columns:
    """Unblurred surface brightness at points ``(x, y)`` (eq. 2), split into columns."""
    lens_lin, lens_fixed = _light(spec.lens_light, theta, x, y)
    if spec.source_light:
        bx, by = ray_shoot(spec, theta, x, y)
        src_lin, src_fixed = _light(spec.source_light, theta, bx, by)
    else:
        src_lin = jnp.zeros(x.shape + (0,), x.dtype)
        src_fixed = jnp.zeros_like(x)
    return Columns(jnp.concatenate([lens_lin, src_lin], axis=-1), lens_fixed, src_fixed)


def pixel_columns(spec: ModelSpec, theta: jnp.ndarray, grid: PointGrid) -> jnp.ndarray:
    """Supersampled and binned model pieces as an image stack ``grid.shape + (K + 2,)``.

    The last two planes are the fixed-amplitude lens and source images.
    """
    c = light_columns(spec, theta, grid.x.astype(theta.dtype), grid.y.astype(theta.dtype))
    stack = jnp.concatenate([c.linear, c.fixed_lens[..., None], c.fixed_source[..., None]], axis=-1)
    return bin_points(stack, grid)


def blurred_columns(spec: ModelSpec, theta, grid: PointGrid, kernel: KernelFFT) -> jnp.ndarray:
    """PSF-convolved model pieces ``grid.shape + (K + 2,)`` (the columns of ``M``, then fixed parts).

    When every amplitude is linear the two fixed planes are zero and are not convolved.
    """
    cols = pixel_columns(spec, theta, grid)
    if any(not c.linear for c in spec.light):
        return convolve_stack(cols, kernel)
    k = cols.shape[-1] - 2
    return jnp.concatenate([convolve_stack(cols[..., :k], kernel), cols[..., k:]], axis=-1)


def column_owner(spec: ModelSpec) -> tuple[str, ...]:
    """For each linear column, the label of the component it belongs to (static)."""
    owners: list[str] = []
    for comp in spec.light:
        if comp.linear:
            owners.extend([comp.label] * comp.n_basis)
    return tuple(owners)
