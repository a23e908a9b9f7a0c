"""Pixel coordinates and simple-shape masks (numpy only).

Convention (the same as :mod:`tinylens.numerics.grid`): arcsec, origin at the image centre,
``x`` grows with the column and ``y`` with the row index of the array as read from FITS (row 0
is the bottom row; nothing is flipped). The centre of pixel ``(row, col)`` is at
``x = (col - (nx - 1) / 2) * pixel_scale``, ``y = (row - (ny - 1) / 2) * pixel_scale``.

Masks are boolean arrays where ``True`` means the pixel is used in the fit; a pixel is inside a
shape when its centre is (boundaries included).
"""

from __future__ import annotations

import math

import numpy as np

from tinylens.config.schema import MaskShape
from tinylens.errors import BEYOND_FLOAT, ConfigTypeError, ConfigValueError, cut_value


def pixel_coordinates(shape: tuple[int, int], pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` in arcsec of every pixel centre, each an array of ``shape``."""
    ny, nx = shape
    x1 = (np.arange(nx) - (nx - 1) / 2.0) * pixel_scale
    y1 = (np.arange(ny) - (ny - 1) / 2.0) * pixel_scale
    x, y = np.meshgrid(x1, y1)
    return x, y


def check_finite(function: str, **values: float) -> None:
    """Raise a ConfigValueError naming the first of ``values`` (argument name: value) of ``function``
    that is not a finite number: a NaN centre put every pixel out of the mask, silently, and an
    infinite one too; an infinite radius took every pixel in. Not a number at all (the text
    ``"1"``, None, a list) is refused too, with its type: a ConfigTypeError (a TypeError, as
    ``math.isfinite`` raised it bare)."""
    for name, value in values.items():
        unit = "arcsec per pixel" if name == "pixel_scale" else "arcsec"
        try:
            finite = math.isfinite(value)
        except (TypeError, ValueError):  # "1", None, [1.0], an array of several values
            raise ConfigTypeError(f"{function}: {name} must be a finite number ({unit}); got "
                                  f"{type(value).__name__} {value!r:.60}.") from None
        except OverflowError:  # a whole number no float holds (10**400): a number, but no finite float
            raise ConfigValueError(f"{function}: {name} must be a finite number ({unit}); got {name} = "
                                   f"{cut_value(repr(value), 100)}{BEYOND_FLOAT}.") from None
        if not finite:
            raise ConfigValueError(f"{function}: {name} must be a finite number ({unit}); got {name} = {float(value)}.")


def _radius(shape: tuple[int, int], pixel_scale: float, center_x: float, center_y: float) -> np.ndarray:
    if not pixel_scale > 0:
        raise ConfigValueError(f"pixel_scale must be > 0 arcsec; got {pixel_scale!r}.")
    x, y = pixel_coordinates(shape, pixel_scale)
    return np.hypot(x - center_x, y - center_y)


def circle_mask(
    shape: tuple[int, int], pixel_scale: float, r_max: float, center_x: float = 0.0, center_y: float = 0.0
) -> np.ndarray:
    """True for pixels whose centre is within ``r_max`` arcsec of ``(center_x, center_y)``."""
    check_finite("circle_mask", pixel_scale=pixel_scale, r_max=r_max, center_x=center_x, center_y=center_y)
    if not r_max > 0:
        raise ConfigValueError(f"A circle mask needs r_max > 0 arcsec; got r_max = {r_max!r}.")
    return _radius(shape, pixel_scale, center_x, center_y) <= r_max


def annulus_mask(
    shape: tuple[int, int],
    pixel_scale: float,
    r_min: float,
    r_max: float,
    center_x: float = 0.0,
    center_y: float = 0.0,
) -> np.ndarray:
    """True for pixels whose centre is between ``r_min`` and ``r_max`` arcsec from the centre."""
    check_finite("annulus_mask", pixel_scale=pixel_scale, r_min=r_min, r_max=r_max, center_x=center_x,
                 center_y=center_y)
    if not 0 <= r_min < r_max:
        raise ConfigValueError(f"An annulus mask needs 0 <= r_min < r_max (arcsec); got r_min = {r_min!r}, r_max = {r_max!r}.")
    r = _radius(shape, pixel_scale, center_x, center_y)
    return (r >= r_min) & (r <= r_max)


def shape_mask(spec: MaskShape, shape: tuple[int, int], pixel_scale: float) -> np.ndarray:
    """The mask that a config's ``dataset.mask`` describes."""
    if spec.type == "annulus":
        return annulus_mask(shape, pixel_scale, spec.r_min or 0.0, spec.r_max, spec.center_x, spec.center_y)
    return circle_mask(shape, pixel_scale, spec.r_max, spec.center_x, spec.center_y)
