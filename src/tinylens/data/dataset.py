"""Load and check the imaging data a config's ``dataset`` section points to.

Choices (all announced with a :class:`DataWarning` or refused with a :class:`DataError`):

* **Bad pixels are masked, not refused.** Data pixels that are NaN/inf, and noise pixels that
  are NaN/inf, zero, negative or over :data:`HUGE_NOISE_FACTOR` times the median noise (a
  bad-pixel value such as 1e30 or 1e8; the median is that of the other pixels, :func:`typical_noise`,
  even where such values fill most of the cutout) are removed from the fit; their values are
  replaced (data by 0, noise by +inf, i.e. zero weight) so that later arithmetic stays finite. A warning gives the
  count and the file, counting only pixels the mask would otherwise have used. Fewer than
  :data:`MIN_USABLE_PIXELS` usable pixels is an error. Used pixels whose noise is under
  :data:`TINY_NOISE_FACTOR` times the median are announced, not changed. A bad-pixel noise value
  in more than 80 % of the pixels cannot be told from the noise: refused, naming it, unless the mask
  leaves all those pixels out or their data are NaN (:func:`check_not_mostly_bad_noise`). Used pixels that neither sky nor a
  source gives are announced, not changed: over :data:`NO_DATA_SIGMA` sigma below zero (a -9999 no-data
  value, :func:`no_data_pixels`), or sharper than the PSF allows (a cosmic ray, a hot pixel:
  :func:`spike_pixels`).
* **Noise** is one standard deviation per pixel. A noise map whose median is more than
  :data:`NOISE_SCALE_FACTOR` times above or below the image's own pixel-to-pixel scatter is
  announced (a variance or an inverse-variance weight map? counts/s beside counts, named when the
  factor is about the image's ``EXPTIME``?), not changed; so is one whose HDU or file is named as a
  variance or weight map (:func:`noise_map_kind`: HSC's ``[VARIANCE]``, ``...-invvar-r.fits``) unless
  its values are nearer the image's scatter than that map's.
* **Pixel scale**: a ``pixel_scale`` more than :data:`PIXEL_SCALE_TOLERANCE` off the one the
  image's header gives (its ``PIXELSCL`` or ``PIXSCALE`` keyword, as simulate-population writes,
  else its celestial WCS) is announced; the config's value is used. Without a scale in the header,
  one outside :data:`PLAUSIBLE_PIXEL_SCALE` is announced (in degrees or milliarcseconds?).
* **PSF**: must be 2-D, odd-sized on both axes (so that its centre is a pixel), finite, with a
  positive sum, and not the data image or noise map again. It is always normalised to unit sum; a
  warning is given when the sum was off by more than :data:`PSF_SUM_TOLERANCE`, when the peak is
  more than one pixel from the centre, and
  when its negative pixels sum to over :data:`PSF_NEGATIVE_SHARE` of its positive ones while its
  border is on average below 0 (not just noise), and when its header (WebbPSF's ``PIXELSCL``,
  ``PIXSCALE`` or a WCS) gives pixels more than :data:`PIXEL_SCALE_TOLERANCE` off ``pixel_scale`` (oversampled?).
  A PSF larger than the image is taken as it is (its light from one edge of the image reaches the
  other); the convolution uses only the part that reaches the image
  (:func:`tinylens.numerics.convolution.reaching_kernel`).
* **Mask**: ``True`` = pixel used. From ``mask_path`` (a FITS image of the data's shape; as in
  TinyLensGpu, 0 = used, non-zero or NaN = left out) and/or ``mask`` (circle or annulus in arcsec, pixel centres at
  ``x = (col - (nx - 1) / 2) * pixel_scale``, ``y = (row - (ny - 1) / 2) * pixel_scale``, row 0
  being the first row in the FITS file, nothing flipped). Both given: a pixel is used only if
  both use it (AND), and only if its data and noise are valid.

The returned arrays are read-only.
"""

from __future__ import annotations

import os
import re
import shlex
import warnings
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from astropy.io import fits

from tinylens.config import schema
from tinylens.config.loader import home_expanded, resolve_path
from tinylens.data.fits_io import (escaped_path_note, read_fits_image, read_fits_image_and_header, read_fits_shape,
                                   split_extension, wcs_pixel_scale)
from tinylens.data.mask import shape_mask
from tinylens.errors import (DataError, DataWarning,  # noqa: F401 (DataWarning: also imported from here)
                             counted, outside_stacklevel)
from tinylens.survey.lens_files import LENS_FILES, MASK_FILE, lens_file_names

#: A fit needs at least this many usable pixels.
MIN_USABLE_PIXELS = 10
#: A PSF whose sum differs from 1 by more than this is normalised with a warning.
PSF_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Dataset:
    """Checked imaging data: image, 1-sigma noise, unit-sum PSF and mask (True = used)."""

    data: np.ndarray
    noise: np.ndarray
    psf: np.ndarray
    mask: np.ndarray
    pixel_scale: float
    nsub: int = 4
    zeropoint: float | None = None
    data_path: Path | None = None
    noise_path: Path | None = None
    psf_path: Path | None = None
    mask_path: Path | None = None
    #: The pixels whose value in the data file was NaN or infinite (True), which ``data`` holds as 0
    #: and the mask leaves out; a figure draws them as having no value. None where not known.
    no_data: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    @property
    def n_used(self) -> int:
        """Number of pixels used in the fit."""
        return int(self.mask.sum())

    def __repr__(self) -> str:
        """One line for a notebook (``problem.dataset``): the image's and PSF's sizes, the pixel
        scale, the pixels used and the files read (the dataclass's own repr printed every array,
        about 10,000 characters for the demo); the arrays stay attributes."""
        ny, nx = self.data.shape
        py, px = self.psf.shape
        zeropoint = "" if self.zeropoint is None else f", zeropoint {self.zeropoint:g}"
        paths = ("data_path", "noise_path", "psf_path", "mask_path")
        files = "".join(f", {key}={str(getattr(self, key))!r}" for key in paths if getattr(self, key) is not None)
        return (f"Dataset({ny} x {nx} pixels of {self.pixel_scale:g}\", {self.n_used} used; PSF {py} x {px}; "
                f"nsub {self.nsub}{zeropoint}{files})")

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a dataset of equal arrays (NaN equal to NaN), pixel scale,
        ``nsub``, zeropoint and files: the dataclass's own comparison raised numpy's "truth
        value of an array ... is ambiguous" for two loads of the same data. A ``no_data`` of None
        (a dataset built by hand, or pickled before tinylens kept it) equals one of no True pixel:
        both say that no pixel is drawn as lacking data, and every use of the two is the same."""
        if not isinstance(other, Dataset):
            return NotImplemented
        return all(same_value(*(d._compared(f.name) for d in (self, other))) for f in fields(self))

    def _compared(self, name: str) -> object:
        """The field ``name`` as :meth:`__eq__` compares it: ``no_data`` of None as no pixel lacking data."""
        value = getattr(self, name)
        if name == "no_data" and value is None:
            return np.zeros(np.shape(self.data), dtype=bool)
        return value


def same_value(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are equal: arrays (numpy's, JAX's) by shape and values, NaN equal
    to NaN; anything else by ``==``."""
    if hasattr(a, "__array__") or hasattr(b, "__array__"):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    return a == b


#: What ``base_dir`` is, when its caller does not say.
BASE_DIR_ORIGIN = ("the config file's folder; for a config given as a dict, the base_dir given to tinylens.load / "
                   "tinylens.fit, else the current folder")


#: The data file names that ``tinylens survey`` fills in for each lens folder, its optional mask
#: too, under each name it finds them by (``image.fits``, ``image.fits.gz``, ``image.fits.fz``).
SURVEY_FILE_NAMES = tuple(n for name in (*LENS_FILES.values(), MASK_FILE) for n in lens_file_names(name))


def is_survey_file_name(path: str) -> bool:
    """Whether ``path`` is one of :data:`SURVEY_FILE_NAMES` in any case (``IMAGE.FITS``), as the
    survey finds a lens folder's files in any case on every disk, case-sensitive or not."""
    return path.casefold() in {name.casefold() for name in SURVEY_FILE_NAMES}


def relative_hint(path: str | None, base_dir: str | Path, origin: str = BASE_DIR_ORIGIN,
                  survey_hint: bool = True) -> str:
    """Where a relative ``path`` of the config was looked for (for an absolute one, only that an
    environment variable in it is not expanded: ``/scratch/$USER/image.fits``, :func:`variable_hint`);
    ``origin`` says what ``base_dir`` is. A survey's file name adds how to check a survey template,
    if ``survey_hint`` (for a config file, as a template is: not a dict, nor a fit's stored config)."""
    if not path:
        return ""
    if home_expanded(path).is_absolute():
        return variable_hint(path).lstrip()
    shown = repr(path) if escaped_path_note(Path(path)) else f"'{path}'"  # a tab, a line break: as escapes
    hint = f"The relative path {shown} was taken from {home_expanded(base_dir).resolve()} ({origin})."
    hint += variable_hint(path) + (base_dir_hint(base_dir) or current_folder_hint(path, base_dir))
    if survey_hint and is_survey_file_name(path):
        lens = lens_folder_holding(path, base_dir)
        example = "LENS_FOLDER" if lens is None else repr(str(lens))
        # a shell's quoting, not Python's (repr escapes a folder named with both quotes for Python only)
        lens_dir, lens_id = ("LENS_DIR", "LENS_ID") if lens is None else (shlex.quote(str(lens.parent)),
                                                                          shlex.quote(lens.name))
        hint += (" If this is a survey template (tinylens survey fills in each lens folder's files), check it "
                 f"with: tinylens survey {lens_dir} --config TEMPLATE --out FOLDER --dry-run; fit one of its lenses "
                 f"with: tinylens survey {lens_dir} --config TEMPLATE --out FOLDER --only {lens_id}; in Python, load "
                 f"or fit one with that lens's folder as base_dir: tinylens.load(TEMPLATE, base_dir={example}).")
    return hint


def lens_folder_holding(path: str, base_dir: str | Path) -> Path | None:
    """The first folder in ``base_dir`` (by name) that holds the relative ``path``: a lens folder
    of the population whose survey template's folder is ``base_dir`` (``mocks/lens_00000``); None
    where none does or ``base_dir`` cannot be listed."""
    folder = home_expanded(base_dir)
    try:
        return next((sub for sub in sorted(folder.iterdir()) if sub.is_dir() and (sub / path).is_file()), None)
    except OSError:
        return None


#: A shell's or Windows' environment variable in a path: ``$DATA``, ``${DATA}``, ``%DATA%``, its
#: name starting with a letter or ``_``; a URL-encoded name's escapes (``my%20lens%20a``,
#: ``caf%C3%A9``: a ``%`` and two hex digits; ``d%C3%A9but%C3%A9``'s ``%A9but%``, whose opening
#: and closing ``%`` each start one) and ``$1`` are none. ``%SCRATCH%2019``, whose opening ``%``
#: starts no escape, is no URL-encoded name: ``%SCRATCH%`` is a variable.
VARIABLE = re.compile(r"\$[A-Za-z_]\w*|\$\{[A-Za-z_]\w*\}|%(?![0-9A-Fa-f]{2}%)"
                      r"(?:(?![0-9A-Fa-f]{2})[A-Za-z_]\w*%|[A-Za-z_]\w*%(?![0-9A-Fa-f]{2}))")


def variable_hint(path: str) -> str:
    """For a ``path`` holding an environment variable (``$DATA/image.fits``), which the config
    does not expand (the path was taken as a relative one starting with a folder named ``$DATA``):
    that it is not expanded, and the path it stands for here where the variable is set; else empty."""
    found = VARIABLE.search(path)
    if found is None:
        return ""
    expanded = os.path.expandvars(path)
    meant = f", here '{expanded}'" if expanded != path and "$" not in expanded else ""
    return (f" Environment variables such as {found.group()} are not expanded in a config's paths: write the "
            f"path itself{meant}.")


def base_dir_hint(base_dir: str | Path) -> str:
    """What is wrong with a ``base_dir`` that is no folder: a file (``base_dir=`` given the config
    file's own path, not its folder's), or nothing at all; empty for a folder."""
    base = home_expanded(base_dir).resolve()
    if base.is_file():
        return f" But {base} is a file, not a folder: give the folder the relative paths start from (its own: {base.parent})."
    return "" if base.is_dir() else f" But there is no folder {base}."


def current_folder_hint(path: str, base_dir: str | Path) -> str:
    """Where the relative ``path`` (perhaps ending in ``[ext]``) is found when taken from the
    current folder rather than ``base_dir``, and how to write it from ``base_dir``; empty when
    it is not there, or when ``base_dir`` is the current folder."""
    file, ext = split_extension(path)
    here, base = Path.cwd().resolve(), Path(base_dir).expanduser().resolve()
    found = here / file.expanduser()
    try:
        there = base != here and found.is_file()
    except OSError:  # a name too long for the system: the file's own check says so
        there = False
    if not there:
        return ""
    suffix = "" if ext is None else path[path.rindex("["):]
    written = Path(os.path.relpath(found, base)).as_posix() + suffix
    return (f" It is in the current folder ({found}), but relative paths are not taken from there: write "
            f"'{written}', or an absolute path.")


def load_dataset(cfg: schema.Dataset, base_dir: str | Path, origin: str = BASE_DIR_ORIGIN,
                 survey_hint: bool = True) -> Dataset:
    """Read and check the files of ``cfg`` (paths relative to ``base_dir``, which ``origin``
    describes in messages; ``survey_hint``: :func:`relative_hint`); see the module doc."""
    keys = ("data_path", "noise_path", "psf_path")
    paths = {key: resolve_path(base_dir, getattr(cfg, key)) for key in keys}
    hints = {key: relative_hint(getattr(cfg, key), base_dir, origin, survey_hint) for key in (*keys, "mask_path")}
    data, header = read_fits_image_and_header(paths["data_path"], "dataset.data_path", hints["data_path"])
    check_not_a_line(data.shape, header, paths["data_path"])
    noise, noise_header = read_fits_image_and_header(paths["noise_path"], "dataset.noise_path", hints["noise_path"])
    check_same_shape(noise.shape, data.shape, paths["noise_path"], paths["data_path"], "noise map")
    check_not_the_image(noise, data, paths["noise_path"], paths["data_path"])
    psf_file, psf_header = read_fits_image_and_header(paths["psf_path"], "dataset.psf_path", hints["psf_path"])
    check_psf_not_an_image(psf_file, paths["psf_path"], {"data image": (data, paths["data_path"]),
                                                         "noise map": (noise, paths["noise_path"])})
    psf_sum = check_psf(psf_file, paths["psf_path"])
    mask_path = resolve_path(base_dir, cfg.mask_path) if cfg.mask_path else None
    mask_values = (read_mask_file(mask_path, data, paths["data_path"], hints["mask_path"])
                   if mask_path is not None else None)
    user = user_mask(cfg, mask_values, data.shape)
    good_data, valid_noise = valid_values(data, noise)
    huge = huge_noise(noise, valid_noise)
    unmasked_bad = check_not_mostly_bad_noise(data, noise, valid_noise, paths["noise_path"], user, huge)
    good_noise = valid_noise & ~huge
    mask = user & good_data & good_noise
    note = " ".join(filter(None, (shape_mask_note(cfg, data.shape), mask_file_note(mask_values, mask_path))))
    check_enough_pixels(mask, user, good_data, valid_noise, huge, paths["data_path"],  # an error needs no warnings first
                        note, paths["noise_path"])
    _warn_pixel_radius(cfg, data.shape)
    _warn_unusual_psf(psf_file, psf_sum, paths["psf_path"])
    if mask_values is not None:
        _warn_unusual_mask(mask_values, mask_file_used(mask_values), mask_path)
    _warn_bad(user & ~good_data, paths["data_path"], "with a NaN or infinite data value")
    _warn_bad(user & good_data & ~valid_noise, paths["noise_path"], "with a noise value that is NaN, infinite, zero or negative")
    _warn_bad(user & good_data & huge, paths["noise_path"],
              f"with a noise over {HUGE_NOISE_FACTOR:g} times the median one (a bad-pixel value, e.g. 1e30 in RMS "
              "maps, 1e8 in SLACS's)")
    # unmasked_bad: a bad-pixel noise in most pixels, all of which the mask leaves out (else refused above)
    _warn_tiny_noise(noise, mask, good_noise if unmasked_bad is None else good_noise & ~unmasked_bad,
                     paths["noise_path"])
    _warn_flat(data[mask], paths["data_path"])
    psf = psf_file / psf_sum  # the unit-sum PSF the fit uses, and the spikes are judged against
    scatter = measured_scatter(data, mask)  # once for the checks below (0: too few pixels)
    _warn_no_data_and_spikes(data, noise, mask, psf, paths["data_path"], paths["psf_path"], good_data & good_noise,
                             scatter)
    _warn_pixel_scale(header_pixel_scale(header), float(cfg.pixel_scale), paths["data_path"])
    _warn_psf_pixel_scale(header_pixel_scale(psf_header), float(cfg.pixel_scale), paths["psf_path"])
    if not _warn_named_noise(noise_map_kind(noise_header, paths["noise_path"]), data, noise, mask, paths["noise_path"],
                             scatter):
        _warn_noise_scale(data, noise, mask, paths["noise_path"], exposure_time(header), scatter)
    return Dataset(
        data=_frozen(np.where(good_data, data, 0.0)),
        noise=_frozen(np.where(good_noise, noise, np.inf)),
        psf=_frozen(psf),
        mask=_frozen(mask),
        pixel_scale=float(cfg.pixel_scale),
        nsub=int(cfg.nsub),
        zeropoint=None if cfg.zeropoint is None else float(cfg.zeropoint),
        data_path=paths["data_path"],
        noise_path=paths["noise_path"],
        psf_path=paths["psf_path"],
        mask_path=mask_path,
        no_data=_frozen(~good_data),
    )


def check_file_shapes(paths: dict[str, Path | None]) -> None:
    """Raise the DataError that :func:`load_dataset` would for the files ``paths`` (``data_path``,
    ``noise_path``, ``psf_path`` and ``mask_path``, None where there is none), in its order, as far
    as the files' headers tell without reading a pixel (:func:`read_fits_shape`): a file missing,
    unreadable or not FITS, no 2-D image in it, a data image of one row or column, a noise map or
    mask of another shape than the data image, a PSF of an even size."""
    data_path = paths["data_path"]
    shape, header = read_fits_shape(data_path, "dataset.data_path")
    check_not_a_line(shape, header, data_path)
    noise, _ = read_fits_shape(paths["noise_path"], "dataset.noise_path")
    check_same_shape(noise, shape, paths["noise_path"], data_path, "noise map")
    psf, _ = read_fits_shape(paths["psf_path"], "dataset.psf_path")
    check_psf_size(psf, paths["psf_path"])
    if paths.get("mask_path") is not None:
        mask, _ = read_fits_shape(paths["mask_path"], "dataset.mask_path")
        check_same_shape(mask, shape, paths["mask_path"], data_path, "mask")


def _warn_flat(used: np.ndarray, path: Path) -> None:
    """Announce an image with one value in every used pixel (the wrong file or HDU?)."""
    if used.size and np.all(used == used[0]):
        warnings.warn(f"{path}: the image holds {used[0]:g} in every used pixel: no lens to fit. The wrong file, "
                      "or the wrong image of the file (name it with [EXTNAME] or [index])?",
                      DataWarning, stacklevel=outside_stacklevel())


#: A used pixel more than this many sigma (its noise, or the image's pixel-to-pixel scatter where
#: that is larger) below zero, and below the image's median, is announced as a no-data value: no
#: source makes a pixel darker than the sky, and sky noise reaches 4 sigma below it in the demo, the
#: mocks of simulate-population and SLACS's 21 dev lenses.
NO_DATA_SIGMA = 20.0
#: A used pixel over this many sigma above the mean of its four neighbours ...
SPIKE_SIGMA = 20.0
#: ... and over this many times as sharp as the PSF's peak (:func:`sharpness`) is announced as a
#: cosmic ray or a hot pixel: a source, however compact, is at least as wide as the PSF. A point
#: source of 3e4 sigma centred on a pixel under an undersampled PSF (FWHM 1.2 px) is 1.00 times as
#: sharp, noise brings a 25-sigma one to 1.03 times; SLACS's dev lenses reach 0.46 times, the demo 0.75.
SPIKE_SHARPNESS = 2.0


def neighbourhood(image: np.ndarray, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """At each pixel of ``image``, the mean of its four side neighbours and the least value on the
    border of the 5 x 5 pixels around it (the surroundings' level), NaN pixels and those beyond the
    edge (taken as ``fill``: NaN for an image, 0 for a PSF) left out."""
    padded = np.pad(np.asarray(image, dtype=np.float64), 2, constant_values=fill)
    ny, nx = np.shape(image)

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[2 + dy:2 + dy + ny, 2 + dx:2 + dx + nx]

    sides = np.stack([at(dy, dx) for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))])
    border = np.stack([at(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if max(abs(dy), abs(dx)) == 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all NaN: a pixel cut off by the mask
        return np.nanmean(sides, axis=0), np.nanmin(border, axis=0)


def sharpness(image: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """How far each pixel stands above its surroundings over how far its four neighbours do
    (``(value - level) / (mean of the four - level)``, the level :func:`neighbourhood`'s; +inf
    where the neighbours are not above it). A PSF's peak gives the most a source can reach: every
    source is a sum of PSFs."""
    sides, level = neighbourhood(image, fill)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sides > level, (image - level) / (sides - level), np.inf)


def psf_sharpness(psf: np.ndarray) -> float:
    """:func:`sharpness` at the PSF's brightest pixel (zero beyond its edge): 1.84 for the demo's
    Gaussian of FWHM 2.0 px, 4.2 for one of 1.2 px, about 3.2 for SLACS's HST PSFs."""
    row, col = np.unravel_index(np.argmax(psf), psf.shape)
    return float(sharpness(psf, 0.0)[row, col])


def no_data_pixels(data: np.ndarray, noise: np.ndarray, used: np.ndarray,
                   scatter: float | None = None) -> np.ndarray:
    """The ``used`` pixels over :data:`NO_DATA_SIGMA` sigma below zero and the image's median (a
    -9999 or -99 marking no data), sigma being the pixel's noise or, where larger, the image's
    pixel-to-pixel scatter (:func:`pixel_scatter` over the ``used`` pixels: a noise map too small;
    ``scatter``, where the caller has measured it, 0 for none; None: measured here)."""
    if not used.any():
        return np.zeros(used.shape, dtype=bool)
    sigma = np.maximum(noise, measured_scatter(data, used, scatter))
    floor = min(0.0, float(np.median(data[used])))
    with np.errstate(invalid="ignore", over="ignore"):
        return used & (data < floor - NO_DATA_SIGMA * sigma)


def spike_pixels(data: np.ndarray, noise: np.ndarray, used: np.ndarray, psf: np.ndarray,
                 seen: np.ndarray | None = None, scatter: float | None = None) -> np.ndarray:
    """The ``used`` pixels sharper than the PSF allows (the L.A.Cosmic idea, van Dokkum 2001): over
    :data:`SPIKE_SIGMA` sigma (as :func:`no_data_pixels`) above the mean of their four neighbours
    and over :data:`SPIKE_SHARPNESS` times as sharp (:func:`sharpness`) as the PSF's peak.

    Neighbourhoods are taken from the ``seen`` pixels (default ``used``): those whose data and noise
    are valid, the mask's left-out ones included, for a mask that cuts through a bright source
    leaves its light there; no-data pixels (:func:`no_data_pixels`) are left out. A pixel is judged
    only with at least three of its four side neighbours seen (the image's edge not seen): with
    two missing, at the corner of a hole (a NaN or masked core of a bright point source) or of the
    image, the slope of a compact source whose brighter side is cut off looks over twice as sharp
    as the PSF. ``scatter``: the ``used`` pixels' :func:`pixel_scatter`, as :func:`no_data_pixels`
    takes it."""
    limit = SPIKE_SHARPNESS * psf_sharpness(psf)
    if not used.any() or not np.isfinite(limit):  # a PSF of one pixel: nothing is sharper
        return np.zeros(used.shape, dtype=bool)
    seen = used if seen is None else seen | used
    scatter = measured_scatter(data, used, scatter)
    # the no-data pixels among the seen ones, with the seen pixels' scatter (the same where no mask cuts)
    image = np.where(seen & ~no_data_pixels(data, noise, seen, scatter if np.array_equal(seen, used) else None),
                     data, np.nan)
    sigma = np.maximum(noise, scatter)
    known = np.pad(np.isfinite(image), 1, constant_values=False).astype(int)
    surrounded = known[:-2, 1:-1] + known[2:, 1:-1] + known[1:-1, :-2] + known[1:-1, 2:] >= 3
    sides, _ = neighbourhood(image, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        return (used & np.isfinite(image) & surrounded & (image - sides > SPIKE_SIGMA * sigma)
                & (sharpness(image) > limit))


def shown_pixels(data: np.ndarray, found: np.ndarray) -> str:
    """The values of the ``found`` pixels and where they are, for a message: up to three, each with
    its row and column; more, the most common values (``-9999 in 9 pixels``) or their range, and the
    rows and columns they span (counted from 0 in the FITS array)."""
    rows, cols = np.nonzero(found)
    if rows.size <= 3:
        shown = "; ".join(f"{data[r, c]:.6g} at row {r}, column {c}" for r, c in zip(rows, cols))
    else:
        values, counts = np.unique(data[found], return_counts=True)
        order = np.argsort(-counts, kind="stable")[:3]
        shown = (", ".join(f"{values[i]:.6g} in {counted(int(counts[i]), 'pixel')}" for i in order)
                 + ("" if values.size <= 3 else f", and {values.size - 3} other values") if counts.max() > 1
                 else f"values {value_span(values)}")
        shown += f", within rows {rows.min()} to {rows.max()} and columns {cols.min()} to {cols.max()}"
    return shown + " (counted from 0 in the FITS array)"


#: What to do with such pixels, as the noise map's and the image's other bad pixels are left out.
LEAVE_OUT = ("Leave them out of the fit: set them to NaN in the image, or their noise to 0, NaN or inf in the noise map "
             "(tinylens masks such pixels), or mask them with dataset.mask_path.")


def _warn_no_data_and_spikes(data: np.ndarray, noise: np.ndarray, used: np.ndarray, psf: np.ndarray,
                             data_path: Path, psf_path: Path, seen: np.ndarray | None = None,
                             scatter: float | None = None) -> None:
    """Announce used pixels that no sky and no source can give (:func:`no_data_pixels`,
    :func:`spike_pixels`, whose neighbourhoods take in the ``seen`` pixels: valid data and noise,
    used or not), naming how many and their values; they are used as they are. Values
    that the fit refuses outright (:func:`~tinylens.data.value_range.bad_data_values`: 1e30) are
    left to that refusal. ``scatter``: the ``used`` pixels' :func:`pixel_scatter` (None: measured here)."""
    from tinylens.data.value_range import bad_data_values

    if not used.any() or bad_data_values(data, noise, used).any():
        return
    scatter = measured_scatter(data, used, scatter)
    low = no_data_pixels(data, noise, used, scatter)
    if low.any():
        n = int(low.sum())
        marker = ("one value in all of them: a no-data marker" if n > 1 and np.unique(data[low]).size == 1
                  else "a no-data value (-9999, -99) or a dead pixel")
        warnings.warn(f"{data_path}: {counted(n, 'used pixel')} over {NO_DATA_SIGMA:g} times the noise below zero: "
                      f"{shown_pixels(data, low)}. Neither sky noise nor a source (it adds light) reaches there; "
                      f"{marker}. Each weighs in the fit as much as a bright lens, and pulls the model down. {LEAVE_OUT}",
                      DataWarning, stacklevel=outside_stacklevel())
    spikes = spike_pixels(data, noise, used, psf, seen, scatter)
    if spikes.any():
        n = int(spikes.sum())
        warnings.warn(f"{data_path}: {counted(n, 'used pixel')} sharper than the PSF allows: "
                      f"{shown_pixels(data, spikes)}; each over {SPIKE_SIGMA:g} times the noise above the mean of its four neighbours, and over "
                      f"{SPIKE_SHARPNESS:g} times as sharp as the peak of the PSF {psf_path}, while any source is at "
                      f"least as wide as the PSF: a cosmic ray or a hot pixel (or a PSF far too wide)? {LEAVE_OUT}",
                      DataWarning, stacklevel=outside_stacklevel())


#: A pixel_scale that differs from the image's WCS by more than this share is announced.
PIXEL_SCALE_TOLERANCE = 0.02


def _warn_pixel_scale(found: tuple[float, str] | None, pixel_scale: float, path: Path) -> None:
    """Announce a ``dataset.pixel_scale`` that the image's own header (``found``:
    :func:`header_pixel_scale`) contradicts (HST/ACS 0.05", Euclid VIS 0.1": a config copied from
    another instrument, or a template used on a population simulated at another scale?)."""
    if found is None:
        _warn_pixel_scale_units(pixel_scale, path)
    if found is None or abs(pixel_scale / found[0] - 1) <= PIXEL_SCALE_TOLERANCE:
        return
    scale, source = found
    where = f"the WCS of {path}" if source == "WCS" else f"the {source} keyword of {path}"
    warnings.warn(f"dataset.pixel_scale is {pixel_scale:g}\"/pixel but {where} gives {scale:.4g}\"/pixel; "
                  "every size and position of the model (Einstein radius, priors, mask) is in arcsec through "
                  "pixel_scale. Check which one is right.", DataWarning, stacklevel=outside_stacklevel())


#: The pixel scales, in arcsec, of imagers that resolve galaxy-scale lenses (adaptive optics'
#: 0.01" to ground-based surveys' 1"), with a wide margin: a ``dataset.pixel_scale`` outside is a
#: unit mistake (CDELT's degrees: 2e-5; milliarcseconds: 74).
PLAUSIBLE_PIXEL_SCALE = (1e-3, 10.0)


def _warn_pixel_scale_units(pixel_scale: float, path: Path) -> None:
    """Announce a ``dataset.pixel_scale`` outside :data:`PLAUSIBLE_PIXEL_SCALE`, naming the unit it
    was probably given in (degrees below, milliarcseconds above), where the header gives no scale."""
    low, high = PLAUSIBLE_PIXEL_SCALE
    if low <= pixel_scale <= high:
        return
    unit, source, arcsec = (("degrees", " (a FITS header's CDELT or CD)", pixel_scale * 3600) if pixel_scale < low
                            else ("milliarcseconds", "", pixel_scale / 1000))
    warnings.warn(f"dataset.pixel_scale is {pixel_scale:g}\"/pixel, outside the {low:g}\" to {high:g}\" of any imager "
                  f"that resolves a lens, and the header of {path} gives no scale to check it against: is it in "
                  f"{unit}{source}? pixel_scale is in arcsec per pixel ({pixel_scale:g} {unit} is {arcsec:.4g}\"); "
                  "every size and position of the model (Einstein radius, priors, mask) is in arcsec through it.",
                  DataWarning, stacklevel=outside_stacklevel())


#: Header keywords that give the pixel scale in arcsec: WebbPSF's, and the one tinylens
#: simulate-population writes in each image.fits and noise.fits.
PIXEL_SCALE_KEYS = ("PIXELSCL", "PIXSCALE")


def header_pixel_scale(header: fits.Header) -> tuple[float, str] | None:
    """The pixel scale in arcsec that a header gives and where: a :data:`PIXEL_SCALE_KEYS`
    keyword, else a celestial WCS; None when it gives none."""
    for key in PIXEL_SCALE_KEYS:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0:
            return float(value), key
    from_wcs = wcs_pixel_scale(header)
    return None if from_wcs is None else (from_wcs, "WCS")


def _warn_psf_pixel_scale(found: tuple[float, str] | None, pixel_scale: float, path: Path) -> None:
    """Announce a PSF whose header gives other pixels than the image's: tinylens convolves with it
    pixel for pixel, so a PSF oversampled 4 times (WebbPSF's first HDU) is 4 times too wide."""
    if found is None or abs(pixel_scale / found[0] - 1) <= PIXEL_SCALE_TOLERANCE:
        return
    scale, source = found
    how = f"{pixel_scale / scale:.3g} times too wide" if scale < pixel_scale else f"{scale / pixel_scale:.3g} times too narrow"
    warnings.warn(f"The PSF {path} has pixels of {scale:.4g}\" (its header's {source}), the image {pixel_scale:g}\" "
                  f"(dataset.pixel_scale); tinylens takes the PSF's pixels as the image's, so it is used {how}. "
                  "Give a PSF sampled at the image's pixels (WebbPSF's first HDU is oversampled; its DET_SAMP "
                  "HDU, psf.fits[DET_SAMP], is not).",
                  DataWarning, stacklevel=outside_stacklevel())


#: A noise map whose median differs from the image's pixel-to-pixel scatter by more than this
#: factor (either way) is announced: a variance or an inverse-variance (weight) map? Noise
#: correlated between pixels also raises the ratio: SLACS's drizzled images give 1.1-1.9, white
#: noise smoothed by a Gaussian of sigma 1, 1.5, 2 and 3 pixels 3.4, 7, 12 and 25.
NOISE_SCALE_FACTOR = 15.0
#: Fewer runs of three neighbouring used pixels than this: no scatter is estimated.
MIN_TRIPLES = 50


def pixel_scatter(data: np.ndarray, used: np.ndarray) -> float | None:
    """A robust estimate of the image's 1-sigma pixel noise: 1.4826 x the median absolute
    deviation of the second differences ``d[i-1] - 2 d[i] + d[i+1]`` along rows of used pixels,
    over sqrt(6) (light that varies linearly cancels). None with fewer than :data:`MIN_TRIPLES`."""
    triples = used[:, 2:] & used[:, 1:-1] & used[:, :-2]
    data = np.where(used, data, 0.0)  # unused pixels may be NaN or infinite
    diff = (data[:, 2:] - 2 * data[:, 1:-1] + data[:, :-2])[triples]
    if diff.size < MIN_TRIPLES:
        return None
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(6))


def measured_scatter(data: np.ndarray, used: np.ndarray, scatter: float | None = None) -> float:
    """``scatter`` where a caller has measured it (:func:`load_dataset` does, once for all its
    checks), else :func:`pixel_scatter` of the ``used`` pixels; 0 for none (too few pixels)."""
    return (pixel_scatter(data, used) if scatter is None else scatter) or 0.0


#: A noise-to-scatter ratio within this factor of the image's exposure time (or of its inverse)
#: is announced as a noise in other units than the image (counts/s beside counts, or the reverse).
EXPTIME_MATCH_FACTOR = 3.0


def exposure_time(header: fits.Header) -> float | None:
    """The header's ``EXPTIME`` in seconds, if it is a number above 1 (else None)."""
    value = header.get("EXPTIME")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 1:
        return float(value)
    return None


def _exptime_note(ratio: float, exptime: float | None) -> str:
    """A sentence saying that a noise-to-scatter ``ratio`` is about the image's ``exptime`` (or its
    inverse): a noise in counts/s beside an image in counts, or the reverse; empty otherwise."""
    if exptime is None:
        return ""
    limit = np.log(EXPTIME_MATCH_FACTOR)
    if abs(np.log(ratio * exptime)) <= limit:
        units, fix = "counts beside a noise in counts/s", "multiply the noise by EXPTIME, or divide the image by it"
    elif abs(np.log(ratio / exptime)) <= limit:
        units, fix = "counts/s beside a noise in counts", "divide the noise by EXPTIME, or multiply the image by it"
    else:
        return ""
    return f" The factor is about the image's EXPTIME ({exptime:g} s): an image in {units} ({fix})?"


def _warn_noise_scale(data: np.ndarray, noise: np.ndarray, used: np.ndarray, path: Path,
                      exptime: float | None = None, scatter: float | None = None) -> None:
    """Announce a noise map far from the image's own scatter (a variance or weight map given as
    the 1-sigma noise, or a noise in counts/s beside an image in counts: ``exptime``, the image's
    EXPTIME, names that). SLACS's drizzled HST images (correlated noise) give 1.1 to 1.9.
    ``scatter``: the ``used`` pixels' :func:`pixel_scatter` (None: measured here)."""
    scatter = measured_scatter(data, used, scatter)
    if not scatter:  # too few pixels, or a flat image (announced by _warn_flat)
        return
    typical = float(np.median(noise[used]))
    ratio = typical / scatter
    if 1 / NOISE_SCALE_FACTOR <= ratio <= NOISE_SCALE_FACTOR:
        return
    guess = (
        "an inverse-variance (weight) map (noise = 1 / sqrt(weight)), a noise in counts beside an image in counts/s "
        "(noise / exposure time), or an image without noise (a noiseless mock)? (Noise strongly correlated between "
        "pixels, as in smoothed or finely resampled images, also gives this.)"
        if ratio > 1 else "a variance map (noise = sqrt(variance)), or a noise in counts/s beside an image in counts "
        "(noise x exposure time)?")
    times = f"{ratio:.3g} times" if ratio > 1 else f"{1 / ratio:.3g} times smaller than"
    warnings.warn(f"{path}: the median noise {typical:.3g} is {times} the pixel-to-pixel scatter of the image "
                  f"({scatter:.3g}); tinylens expects one standard deviation per pixel, in the image's units. Is it "
                  f"{guess}{_exptime_note(ratio, exptime)}", DataWarning, stacklevel=outside_stacklevel())


#: Words that name a map of the variance, or of the inverse variance (a weight), not of the 1-sigma
#: noise: the noise HDU's EXTNAME (HSC's and Rubin's [VARIANCE], HST's [WHT]) or a word of its file
#: name (the Legacy Surveys' ...-invvar-r.fits.fz).
VARIANCE_WORDS = ("var", "variance")
WEIGHT_WORDS = ("ivar", "invvar", "wht", "weight", "weights", "wgt")


def noise_map_kind(header: fits.Header, path: Path) -> tuple[str, str] | None:
    """``("variance" or "weight", the word)`` when the noise HDU's EXTNAME or a word of its file
    name is one of :data:`VARIANCE_WORDS` or :data:`WEIGHT_WORDS`; None otherwise."""
    extname = str(header.get("EXTNAME", "")).strip().lower()
    for word in [extname, *re.split(r"[^a-z0-9]+", split_extension(path)[0].name.lower())]:
        if word in VARIANCE_WORDS:
            return "variance", word
        if word in WEIGHT_WORDS:
            return "weight", word
    return None


def _warn_named_noise(kind: tuple[str, str] | None, data: np.ndarray, noise: np.ndarray, used: np.ndarray,
                      path: Path, scatter: float | None = None) -> bool:
    """Announce a noise map named as a variance or weight map (``kind``: :func:`noise_map_kind`),
    unless its values are nearer a 1-sigma noise (the image's pixel-to-pixel scatter) than that map
    (the scatter squared, or its inverse): :func:`_warn_noise_scale` misses a variance map where the
    noise is near 1 (0.33 gives a variance of 0.11, 3 times below). Whether it warned. ``scatter``:
    the ``used`` pixels' :func:`pixel_scatter` (None: measured here)."""
    if kind is None or not used.any():
        return False
    typical, scatter = float(np.median(noise[used])), measured_scatter(data, used, scatter)
    expected = None if not scatter else scatter ** 2 if kind[0] == "variance" else scatter ** -2
    if expected is not None and abs(np.log(typical / expected)) > abs(np.log(typical / scatter)):
        return False  # a 1-sigma noise, whatever its name
    what, square, fix = (("a variance", "square", "sqrt(variance)") if kind[0] == "variance"
                         else ("an inverse-variance (weight)", "inverse square", "1 / sqrt(inverse variance)"))
    values = "" if expected is None else (f", and its median {typical:.3g} is nearer the {square} of the image's "
                                          f"pixel-to-pixel scatter ({expected:.3g}) than the scatter ({scatter:.3g})")
    warnings.warn(f"{path}: the noise map is named as {what} map ('{kind[1]}'){values}; tinylens expects one standard "
                  f"deviation per pixel, in the image's units. Give a noise map of {fix} as dataset.noise_path.",
                  DataWarning, stacklevel=outside_stacklevel())
    return True


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def stored_shape(header: fits.Header, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the array as stored in the file (numpy's order: its ``NAXISn`` from the last),
    axes of length 1 included, which :func:`~tinylens.data.fits_io.as_2d` dropped; ``shape`` where
    the header does not say."""
    naxis = header.get("NAXIS")
    sizes = [header.get(f"NAXIS{k}") for k in range(naxis, 0, -1)] if isinstance(naxis, int) and naxis > 0 else []
    if not sizes or not all(isinstance(n, int) for n in sizes):
        return tuple(shape)
    return tuple(sizes)


def check_not_a_line(shape: tuple[int, int], header: fits.Header, path: Path) -> None:
    """Raise a DataError when the data image (of 2-D ``shape``) is one row, one column or one pixel
    (a ``(1, 1, 5)`` cube, or a spectrum written as an image), naming the file and the shape it holds: there is no
    lens to fit in it, and it was refused as having too few usable pixels, the mask and the noise
    map named as what to check."""
    ny, nx = shape
    if ny > 1 and nx > 1:
        return
    what = ("a single pixel" if ny == nx == 1 else f"a single row of {nx} pixels" if ny == 1
            else f"a single column of {ny} pixels")
    raise DataError(f"dataset.data_path file {path} holds an array of shape {stored_shape(header, shape)}: "
                    f"{what}, not an image. tinylens needs a 2-D image of the lens, of more than one row and one "
                    "column (a cutout some arcsec across). The wrong file, or the wrong image of the file (name it "
                    "with [EXTNAME] or [index])?")


def check_same_shape(shape: tuple[int, int], data_shape: tuple[int, int], path: Path, data_path: Path,
                     what: str) -> None:
    """Raise a DataError when the image ``what`` (``path``) and the data image differ in shape."""
    if tuple(shape) != tuple(data_shape):
        raise DataError(
            f"The {what} {path} has shape {shape[0]} x {shape[1]} (rows x columns) but the data "
            f"image {data_path} has {data_shape[0]} x {data_shape[1]}; they must cover the same pixels."
        )


def valid_values(data: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the data are finite, and where the noise is finite and positive (a huge one,
    :func:`huge_noise`, still counted valid): the pixels a fit can use, mask aside."""
    return np.isfinite(data), np.isfinite(noise) & (noise > 0)


#: A noise over this many times the median one marks a bad pixel (RMS maps write 1e30, SLACS's
#: HST maps 1e8 beside a sky noise of 0.01: 1e10 was right at the edge of that): masked. A real
#: noise map spans far less (a bright lens centre's Poisson noise: 10-100 times the sky's).
HUGE_NOISE_FACTOR = 1e6
#: The quantile of the valid noise that bounds, times :data:`HUGE_NOISE_FACTOR`, the pixels
#: whose median :func:`huge_noise` compares with. Two opposite risks fix it: a cutout up to 80 %
#: bad pixels (a mosaic's corner) still has a sane median, and up to 20 % of tiny noise values
#: (1e-9 beside 0.01) cannot make every other pixel look huge, as a 1 % quantile did.
LOW_NOISE_QUANTILE = 0.2


def typical_noise(values: np.ndarray) -> float:
    """The median of the (finite, positive) noise ``values`` that are at most
    :data:`HUGE_NOISE_FACTOR` times their :data:`LOW_NOISE_QUANTILE` quantile: the median of the
    sane pixels, even when bad ones (1e30) fill over half of the cutout (a mosaic's edge), and
    still when a few are tiny."""
    sane = values[values <= HUGE_NOISE_FACTOR * np.quantile(values, LOW_NOISE_QUANTILE)]
    return float(np.median(sane))


def huge_noise(noise: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The ``valid`` pixels whose noise exceeds :data:`HUGE_NOISE_FACTOR` times the median of the
    sane ones (:func:`typical_noise`): their weight is under 1e-12 of a typical pixel's, so masking
    them changes no fit, but keeps them out of the arc search, the noise-scale check, the figures'
    colour scales and the pixel counts."""
    if not valid.any():
        return np.zeros(noise.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return valid & (noise > HUGE_NOISE_FACTOR * typical_noise(noise[valid]))


def mostly_bad_noise(data: np.ndarray, noise: np.ndarray, valid: np.ndarray,
                     huge: np.ndarray | None = None) -> np.ndarray | None:
    """The ``valid`` pixels (finite positive noise, whatever their data) whose noise is within a
    factor of 10 of the largest (a bad-pixel value: 1e30, 1e8) where :func:`huge_noise`, over the
    same pixels, does not mask them all (they are over ``1 - LOW_NOISE_QUANTILE``, about 80 %, of
    them: their value is :func:`typical_noise`'s), the others' median noise is under
    1/:data:`HUGE_NOISE_FACTOR` of theirs, and the data say which group is the noise: the others'
    finite data scatter about their noise (their median ``|d - median| / sigma`` at most 1e3),
    theirs over 1e3 times less (a bad value's); where none of them has a finite data value, they are
    returned unweighed (the data leave them out anyway). None otherwise (a mostly tiny noise map
    beside a few sane pixels is not taken for this). Counting only pixels of finite data, as this
    did, a NaN in the data of 20 of 100 sane pixels beside 380 of 1e30 (79 %, which huge_noise
    masks) made 83 % and a refusal, and 80 NaN among 400 such made 80 % and none. ``huge``:
    :func:`huge_noise` of the same pixels where the caller has it (None: computed here)."""
    values = noise[valid]
    if not values.size:
        return None
    high = valid & (noise >= float(values.max()) / 10)
    low = valid & ~high
    if not low.any() or (huge_noise(noise, valid) if huge is None else huge)[high].all():
        return None
    if float(values.max()) <= HUGE_NOISE_FACTOR * float(np.median(noise[low])):
        return None
    finite = np.isfinite(data)
    low, measured = low & finite, high & finite
    if not measured.any():
        return high
    if not low.any():
        return None
    centre = float(np.median(data[low]))
    spread_low = float(np.median(np.abs(data[low] - centre) / noise[low]))
    spread_high = float(np.median(np.abs(data[measured] - centre) / noise[measured]))
    if not 0 < spread_low <= 1e3 or not spread_high < spread_low / 1e3:
        return None
    return high


def value_span(values: np.ndarray) -> str:
    """``1e+30``, or ``1e+08 to 1e+30`` for values that are not all alike, for a message."""
    low, high = float(values.min()), float(values.max())
    return f"{low:.3g}" if f"{low:.3g}" == f"{high:.3g}" else f"{low:.3g} to {high:.3g}"


def check_not_mostly_bad_noise(data: np.ndarray, noise: np.ndarray, valid: np.ndarray, path: Path,
                               user: np.ndarray | None = None, huge: np.ndarray | None = None) -> np.ndarray | None:
    """Refuse a noise map whose bad-pixel value fills more of the image than :func:`huge_noise` can
    mask (:func:`mostly_bad_noise`, over all the ``valid`` pixels, as :func:`huge_noise` counts),
    where the ``user`` mask (None: every pixel, as :func:`load_dataset`'s without one) uses any of
    those pixels whose data are finite: its median was that value, so none was masked, the sane
    pixels were announced as tiny and float32's range was blamed on the units.
    The message counts the whole image's pixels, the mask's or not (it says so where there is a mask).
    Return those pixels where the mask, or NaN data, leave them all out (None where there are none).
    ``huge``: :func:`huge_noise` of the ``valid`` pixels, where the caller has it."""
    high = mostly_bad_noise(data, noise, valid, huge)
    if high is None:
        return None
    user = np.ones(high.shape, dtype=bool) if user is None else user
    used = high & user & np.isfinite(data)  # NaN data: left out anyway
    if not used.any():
        return high
    n, total = int(high.sum()), int(valid.sum())
    rest = noise[valid & ~high]
    masked = not user.all()  # counted over the whole image all the same, as huge_noise is
    share = (f"the whole image's {total} pixels with a valid noise ({100 * n / total:.3g} %), not only the mask's,"
             if masked else f"the {total} pixels with a valid noise ({100 * n / total:.3g} %)")
    raise DataError(
        f"{path}: {n} of {share} have a noise of "
        f"{value_span(noise[high])}, over {HUGE_NOISE_FACTOR:g} times that of "
        f"the other {rest.size} (median {float(np.median(rest)):.3g}): a bad-pixel value. tinylens masks such pixels "
        f"itself only while they are at most {100 * (1 - LOW_NOISE_QUANTILE):g} % of those with a valid noise (beyond "
        "that, the bad value is the median noise). Set them to 0 or NaN in the noise map (such pixels are masked "
        "however many they are), or cut the image closer around the lens"
        + ("." if (high <= user).all() else f" (the mask uses {int(used.sum())} of them).")
    )


#: A used pixel whose noise is under this share of the median one is announced: it weighs over
#: 1e6 times a typical pixel (a placeholder such as 1e-12 for no data?). A real noise map's
#: floor, the sky's noise, is near its median.
TINY_NOISE_FACTOR = 1e-3


def _warn_tiny_noise(noise: np.ndarray, used: np.ndarray, good: np.ndarray, path: Path) -> None:
    """Announce ``used`` pixels whose noise is under :data:`TINY_NOISE_FACTOR` times the median of
    the ``good`` ones (:func:`typical_noise`): their weights drown every other pixel's in the fit."""
    typical = typical_noise(noise[good]) if good.any() else 0.0
    tiny = used & (noise < TINY_NOISE_FACTOR * typical)
    n = int(tiny.sum())
    if not n:
        return
    warnings.warn(f"{path}: {counted(n, 'pixel')} with a noise below 1/{1 / TINY_NOISE_FACTOR:g} of the "
                  f"median noise ({typical:.3g}), down to {float(noise[tiny].min()):.3g}: each weighs over "
                  f"{TINY_NOISE_FACTOR ** -2:g} times a typical pixel and can outweigh the rest of the image. A placeholder "
                  "value (for no data)? Set their noise to 0 or NaN to leave them out, or leave them out with "
                  "dataset.mask_path.", DataWarning, stacklevel=outside_stacklevel())


def check_not_the_image(noise: np.ndarray, data: np.ndarray, noise_path: Path, data_path: Path) -> None:
    """Raise a DataError when the noise map holds the very values of the image (the same file or
    HDU given twice): its negative pixels would be masked and the rest weighted by their own flux."""
    if np.array_equal(noise, data, equal_nan=True):
        raise DataError(
            f"The noise map {noise_path} holds the same values as the data image {data_path}: the same file or "
            "HDU given twice? dataset.noise_path must be the 1-sigma noise map (e.g. an HST file's [ERR] extension)."
        )


def _warn_bad(bad: np.ndarray, path: Path, what: str) -> None:
    n = int(bad.sum())
    if n:
        warnings.warn(
            f"{path}: {counted(n, 'pixel')} {what}; masked (left out of the fit).",
            DataWarning,
            stacklevel=outside_stacklevel(),
        )


def check_arrays(dataset: Dataset) -> None:
    """Raise a DataError when the arrays of a :class:`Dataset` built by hand (which skips
    :func:`load_dataset`'s checks) do not fit together: data not 2-D, noise or mask of another
    shape, a mask that is not boolean (an integer 0/1 mask, e.g. read from FITS, selected rows 0
    and 1 by index and gave a wrong likelihood, silently), a PSF that :func:`check_psf` refuses, or
    one whose sum is more than :data:`PSF_SUM_TOLERANCE` off 1 (the Dataset's PSF has unit sum)."""
    data = np.asarray(dataset.data)
    if data.ndim != 2:
        raise DataError(f"The dataset's data must be a 2-D image; got an array of shape {data.shape}.")
    for key in ("noise", "mask"):
        shape = np.shape(getattr(dataset, key))
        if shape != data.shape:
            raise DataError(f"The dataset's {key} has shape {shape} but its data {data.shape}; they must cover the same pixels.")
    mask_type = np.asarray(dataset.mask).dtype
    if mask_type != bool:
        raise DataError(f"The dataset's mask is an array of {mask_type}; it must be boolean (True = pixel used), "
                        "e.g. mask=np.asarray(values) != 0.")
    psf = np.asarray(dataset.psf, dtype=np.float64)
    if psf.ndim != 2:
        raise DataError(f"The dataset's PSF must be a 2-D kernel; got an array of shape {psf.shape}.")
    total = check_psf(psf, "of the dataset (Dataset.psf)")
    if abs(total - 1.0) > PSF_SUM_TOLERANCE:
        raise DataError(f"The PSF of the dataset (Dataset.psf) sums to {total:.6g}, not 1: the model's light, and so "
                        "every amplitude and magnitude, would be scaled by that. Normalise it (psf / psf.sum()), as "
                        "load_dataset does a PSF file.")


def check_used_pixels(dataset: Dataset) -> None:
    """Raise a DataError when the mask uses fewer than :data:`MIN_USABLE_PIXELS` pixels, or a
    pixel it uses has a NaN/inf data value or a noise that is not finite and positive: a
    :class:`Dataset` built by hand skips :func:`load_dataset`, which masks such pixels and refuses
    so few, and would give a log-likelihood of -inf, NaN or 0 for every parameter. Its arrays are
    checked first (:func:`check_arrays`)."""
    check_arrays(dataset)
    used = np.asarray(dataset.mask, dtype=bool)
    if used.sum() < MIN_USABLE_PIXELS:
        why = "on none, every parameter would fit alike" if not used.any() else "so few say little of a lens"
        raise DataError(f"The dataset's mask uses {int(used.sum())} of its {used.size} pixels (True = pixel used); at "
                        f"least {MIN_USABLE_PIXELS} are needed, as load_dataset asks ({why}).")
    good_data, valid_noise = valid_values(np.asarray(dataset.data, dtype=np.float64),
                                          np.asarray(dataset.noise, dtype=np.float64))
    problems = [
        (int((used & ~good_data).sum()), "a NaN or infinite data value"),
        (int((used & ~valid_noise).sum()), "a noise that is NaN, infinite, zero or negative"),
    ]
    found = [f"{counted(n, 'pixel')} with {what}" for n, what in problems if n]
    if found:
        raise DataError(
            f"The dataset's mask uses {' and '.join(found)}: every log-likelihood would be -inf or NaN. "
            "Set the mask to False there, or build the Dataset with tinylens.data.load_dataset, which masks them."
        )


def check_enough_pixels(
    mask: np.ndarray, user: np.ndarray, good_data: np.ndarray, valid_noise: np.ndarray, huge: np.ndarray,
    data_path: Path, note: str = "", noise_path: Path | None = None,
) -> None:
    """Refuse a dataset with fewer than :data:`MIN_USABLE_PIXELS` usable pixels, saying why and
    what to check: the mask, the image or the noise map ``noise_path``, those that leave pixels out
    (``valid_noise`` and ``good_data``: :func:`valid_values`; ``huge``: :func:`huge_noise`;
    ``note``: added to the message, e.g. :func:`shape_mask_note`)."""
    n = int(mask.sum())
    if n >= MIN_USABLE_PIXELS:
        return
    if mask.size < MIN_USABLE_PIXELS:  # no mask or noise map is to blame
        raise DataError(
            f"The image {data_path} has only {mask.size} pixels in all ({mask.shape[0]} x {mask.shape[1]}, rows x "
            f"columns), and a fit needs at least {MIN_USABLE_PIXELS}: no mask could leave enough. Give a larger "
            "cut-out of the image (with its noise map).")
    bad, no_noise, over = int((~good_data).sum()), int((~valid_noise).sum()), int(huge.sum())
    reasons = [
        f"the mask excludes {int((~user).sum())}",
        f"{bad} {'is' if bad == 1 else 'are'} NaN/inf in the data",
        f"{no_noise} {'has' if no_noise == 1 else 'have'} a NaN/inf/zero/negative noise",
    ] + ([f"{over} {'has' if over == 1 else 'have'} a noise over {HUGE_NOISE_FACTOR:g} times the median one"]
         if huge.any() else [])
    checks = ((["dataset.mask / dataset.mask_path"] if (~user).any() else [])
              + ([f"the image {data_path}"] if (~good_data).any() else [])
              + ([f"the noise map{f' {noise_path}' if noise_path else ''}"] if (~valid_noise | huge).any() else []))
    check = " and ".join(checks) or "dataset.mask / dataset.mask_path and the noise map"
    raise DataError(
        f"Only {n} of the {mask.size} pixels of {data_path} can be used (at least {MIN_USABLE_PIXELS} are "
        f"needed): {', '.join(reasons)}. Check {check}." + (f" {note}" if note else "")
    )


# -- mask ---------------------------------------------------------------------------------------
def read_mask_file(mask_path: Path, data: np.ndarray, data_path: Path, hint: str = "") -> np.ndarray:
    """The values of the mask file ``mask_path``, checked to have the shape of the ``data`` image."""
    values = read_fits_image(mask_path, "dataset.mask_path", hint)
    check_same_shape(values.shape, data.shape, mask_path, data_path, "mask")
    return values


def mask_file_used(values: np.ndarray) -> np.ndarray:
    """The pixels a mask file's ``values`` use: those that are 0. A non-zero or NaN value leaves its
    pixel out, as TinyLensGpu reads ``mask_path`` (and as data-quality masks mark bad pixels)."""
    return values == 0


def mask_file_note(values: np.ndarray | None, path: Path | None) -> str:
    """What the mask file's ``values`` mean, when they alone leave fewer than
    :data:`MIN_USABLE_PIXELS` pixels (a mask that is 1 on the pixels to fit?), and, where
    inverting it (1 - mask) would leave too few as well (NaN everywhere), what can help; empty otherwise."""
    n = 0 if values is None else int(mask_file_used(values).sum())
    if values is None or n >= MIN_USABLE_PIXELS:
        return ""
    head = f"dataset.mask_path ({path}) uses {n} of the {values.size} pixels: "
    inverted = int(np.count_nonzero(values == 1))
    if inverted >= MIN_USABLE_PIXELS:
        return head + MASK_CONVENTION
    return (head + f"it holds {_mask_values_held(values)}, and tinylens, as TinyLensGpu, fits the pixels where the "
            f"mask is 0 (non-zero or NaN leaves a pixel out), so inverting it (1 - mask) would use {inverted}: write 0 "
            "on the pixels to fit, or check that this is the mask's file and image (name the image of a file of "
            "several with [EXTNAME] or [index]).")


def _mask_values_held(values: np.ndarray) -> str:
    """What a mask file's ``values`` hold, for a message: NaN everywhere, or how many 0s and 1s."""
    if not np.isfinite(values).any():
        return "NaN in every pixel" if np.isnan(values).all() else "no finite value (NaN or infinite in every pixel)"
    zeros, ones = int(np.count_nonzero(values == 0)), int(np.count_nonzero(values == 1))
    return "no 0 and no 1" if not zeros and not ones else f"0 in {counted(zeros, 'pixel')} and 1 in {ones}"


def user_mask(cfg: schema.Dataset, file_values: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """The mask the config asks for (True = used): the mask file's (``file_values``,
    :func:`read_mask_file`) AND the shape's; all True when neither is given."""
    mask = np.ones(shape, dtype=bool)
    if file_values is not None:
        mask &= mask_file_used(file_values)
    if cfg.mask is not None:
        mask &= shape_mask(cfg.mask, shape, cfg.pixel_scale)
    return mask


def half_extent(shape: tuple[int, int], pixel_scale: float) -> tuple[float, float]:
    """How far the image reaches from its centre in x and y, in arcsec (to its outer pixel edges)."""
    return shape[1] * pixel_scale / 2, shape[0] * pixel_scale / 2


def shape_mask_note(cfg: schema.Dataset, shape: tuple[int, int]) -> str:
    """Where the config's ``dataset.mask`` lies against the image, when it alone leaves fewer than
    :data:`MIN_USABLE_PIXELS` pixels (a centre or radii given in pixels?); empty otherwise, and for
    an image of fewer pixels than that in all, which no mask could leave enough of."""
    spec = cfg.mask
    if spec is None or shape[0] * shape[1] < MIN_USABLE_PIXELS:  # too few pixels in all: no mask is to blame
        return ""
    n = int(shape_mask(spec, shape, cfg.pixel_scale).sum())
    if n >= MIN_USABLE_PIXELS:
        return ""
    hx, hy = half_extent(shape, cfg.pixel_scale)
    inner = f"r_min {spec.r_min:g}\", " if spec.type == "annulus" else ""
    return (f"dataset.mask alone ({spec.type}, {inner}r_max {spec.r_max:g}\" around x = {spec.center_x:g}\", "
            f"y = {spec.center_y:g}\") uses {counted(n, 'pixel')}: its centre and radii are in arcsec from "
            f"the image's centre, not pixels, and the image reaches {hx:.3g}\" either side in x and {hy:.3g}\" in y.")


#: A ``dataset.mask`` whose r_max is over this many times the image's half-diagonal is announced
#: (radii given in pixels?): a template's radius a little over a small cutout's stays silent.
PIXEL_RADIUS_FACTOR = 3.0


def _warn_pixel_radius(cfg: schema.Dataset, shape: tuple[int, int]) -> None:
    """Announce a ``dataset.mask`` whose r_max reaches far beyond the image's corners: a radius
    meant in pixels masks nothing (or far less than meant) in arcsec."""
    spec = cfg.mask
    half_diagonal = float(np.hypot(*half_extent(shape, cfg.pixel_scale)))
    if spec is None or spec.r_max <= PIXEL_RADIUS_FACTOR * half_diagonal:
        return
    warnings.warn(f"dataset.mask's r_max of {spec.r_max:g}\" is {spec.r_max / half_diagonal:.3g} times the image's "
                  f"half-diagonal ({half_diagonal:.3g}\"), so it leaves out little or nothing: is it in pixels? "
                  f"dataset.mask is in arcsec ({spec.r_max:g} pixels would be r_max: {spec.r_max * cfg.pixel_scale:.4g}).",
                  DataWarning, stacklevel=outside_stacklevel())


#: A mask file that uses less than this share of the image is announced (an inverted mask?).
FEW_PIXELS_SHARE = 0.05

#: How a mask file is read, recorded in a fit's ``result.json`` (``info.mask_read_as``) and a survey
#: lens's stamp (``read_as``): fits from before mask files were read as TinyLensGpu reads them (0 =
#: used; before, non-zero = used) record none.
MASK_READ_AS = "0 = used"


def mask_reading(dataset: Dataset) -> dict[str, str | int | None]:
    """How ``dataset``'s mask was read, for a fit's ``info``: ``mask_read_as``
    (:data:`MASK_READ_AS` when a mask file was read, None when none was), ``n_pixels_fitted``
    (the pixels the fit used) and ``n_pixels`` (the image's)."""
    return {"mask_read_as": None if dataset.mask_path is None else MASK_READ_AS,
            "n_pixels_fitted": dataset.n_used, "n_pixels": int(np.asarray(dataset.mask).size)}


#: How a mask file is read, said in each warning that suggests it was meant the other way round.
MASK_CONVENTION = ("tinylens, as TinyLensGpu, leaves out the pixels where the mask is non-zero (or NaN) and fits those "
                   "where it is 0; a mask that is 1 on the pixels to fit (lenstronomy's likelihood mask) must be "
                   "inverted first (1 - mask).")


def _warn_unusual_mask(values: np.ndarray, used: np.ndarray, path: Path) -> None:
    """Announce what suggests a mask meant another way: negative or fractional values, very few
    pixels used, or the image's centre (where the lens is) left out, or cut off by a left-out ring,
    with the outskirts used, as by a mask that is 1 on the pixels to fit (a disc or an annulus),
    read with TinyLensGpu's convention (an annulus, whose outskirts are left out too, or a small
    core left out, is meant as it is read)."""
    odd = np.isfinite(values) & ((values < 0) | (values != np.round(values)))  # bit flags (4, 512) are as meant
    if odd.any():
        examples = ", ".join(f"{v:g}" for v in np.unique(values[odd])[:3])
        n_odd = int(odd.sum())
        warnings.warn(f"{path}: the mask holds {counted(n_odd, 'value')} that {'is' if n_odd == 1 else 'are'} not 0, "
                      "NaN or a positive whole number "
                      f"(a flag) ({'' if n_odd == 1 else 'e.g. '}{examples}): a weight map? tinylens fits the pixels where it is 0 and leaves out "
                      "the others.", DataWarning, stacklevel=outside_stacklevel())
    if used.mean() < FEW_PIXELS_SHARE:
        warnings.warn(f"{path}: the mask uses {int(used.sum())} of {used.size} pixels ({100 * used.mean():.2g} %). "
                      f"{MASK_CONVENTION}", DataWarning, stacklevel=outside_stacklevel())
        return
    if (~used).mean() < FEW_PIXELS_SHARE:
        return
    if not used[centre_pixels(used.shape)].any() and uses_border(used):
        warnings.warn(f"{path}: the mask leaves out the image's centre, where the lens is, and uses "
                      f"{int(used.sum())} of {used.size} pixels. {MASK_CONVENTION}", DataWarning, stacklevel=outside_stacklevel())
    elif (core := centre_cut_off(used)) is not None:
        warnings.warn(f"{path}: the mask leaves out a ring around the image's centre, where the lens and its arcs are, "
                      f"and uses {int(core.sum())} pixels inside it and {int(used.sum() - core.sum())} outside it, out "
                      f"to the image's edges (an annulus that is 1 on the pixels to fit?). {MASK_CONVENTION}",
                      DataWarning, stacklevel=outside_stacklevel())


def centre_cut_off(used: np.ndarray) -> np.ndarray | None:
    """The used pixels joined to the image's centre, where a ring of left-out pixels cuts them off
    from every used pixel of the image's edges (pixels touching at a corner count as joined), as
    an annulus mask that is 1 on the pixels to fit (lenstronomy's) leaves them when read as 0 =
    used; ``None`` otherwise (the centre joined to the edges, or either using no pixel)."""
    from scipy import ndimage

    labels, _ = ndimage.label(used, structure=np.ones((3, 3), bool))
    centre = set(np.unique(labels[centre_pixels(used.shape)]).tolist()) - {0}
    edges = np.concatenate([labels[[0, -1], :].ravel(), labels[:, [0, -1]].ravel()])
    if not centre or not edges.any() or centre & set(edges.tolist()):
        return None
    return np.isin(labels, list(centre))


def uses_border(used: np.ndarray) -> bool:
    """Whether any of the image's outermost pixels (its first and last rows and columns) is used."""
    return bool(used[[0, -1], :].any() or used[:, [0, -1]].any())


def centre_pixels(shape: tuple[int, int]) -> tuple[slice, slice]:
    """The image's central pixel (odd sides) or the 2 pixels either side of its centre (even)."""
    return tuple(slice((n - 1) // 2, n // 2 + 1) for n in shape)


# -- PSF ----------------------------------------------------------------------------------------
def check_psf(psf: np.ndarray, path: Path | str) -> float:
    """The sum of the PSF's pixels, after a DataError for a PSF that cannot be used: not odd-sized,
    a pixel not finite, or a sum not positive."""
    check_psf_size(psf.shape, path)
    bad = int((~np.isfinite(psf)).sum())
    if bad:
        which = "pixels; replace them" if bad != 1 else "pixel; replace it"
        raise DataError(f"The PSF {path} has {bad} NaN or infinite {which} (e.g. by 0).")
    total = float(psf.sum())
    if not total > 0:
        raise DataError(f"The PSF {path} sums to {total:.6g}; its pixels must sum to a positive number (ideally 1).")
    return total


def check_psf_size(shape: tuple[int, int], path: Path | str) -> None:
    """Raise a DataError for a PSF of ``shape`` that is not odd-sized on both axes."""
    ny, nx = shape
    if ny % 2 == 0 or nx % 2 == 0:
        raise DataError(
            f"The PSF {path} is {ny} x {nx} pixels; tinylens needs an odd size on both axes so that the PSF "
            "centre falls on a pixel (an even-sized kernel would shift the model by half a pixel). Crop or "
            f"pad it to an odd size (e.g. {ny - 1 if ny % 2 == 0 else ny} x {nx - 1 if nx % 2 == 0 else nx}) "
            "centred on its peak."
        )


def check_psf_not_an_image(psf: np.ndarray, path: Path, images: dict[str, tuple[np.ndarray, Path]]) -> None:
    """Raise a DataError when the PSF holds the very values of one of ``images`` (what: (values,
    path)), the data image or the noise map: a config whose psf_path repeats data_path. An
    odd-sized image passed as a unit-sum PSF, with a warning about its sum only, and blurred the
    model by the lens itself."""
    for what, (values, image_path) in images.items():
        if np.array_equal(psf, values, equal_nan=True):
            raise DataError(f"The PSF {path} holds the same values as the {what} {image_path}: the same file or HDU "
                            "given twice? dataset.psf_path must be the image of a point source (a star, or a PSF "
                            "model), sampled at the image's pixels.")


def _warn_unusual_psf(psf: np.ndarray, total: float, path: Path) -> None:
    """Announce a PSF (of sum ``total``, :func:`check_psf`) that is not normalised, not centred on
    its peak, or has much negative light."""
    if abs(total - 1.0) > PSF_SUM_TOLERANCE:
        warnings.warn(f"The PSF {path} sums to {total:.6g}, not 1; it was normalised to unit sum.",
                      DataWarning, stacklevel=outside_stacklevel())
    _warn_off_centre(psf, path)
    _warn_negative(psf, path)


#: Negative PSF pixels summing to more than this share of the positive ones are announced, when
#: the PSF's border shows a background below 0 (:func:`_border_background`).
PSF_NEGATIVE_SHARE = 0.05


def _border_background(psf: np.ndarray) -> tuple[float, float]:
    """The mean of the PSF's outermost ring of pixels and that mean's standard error: where an
    empirical PSF holds only its background and noise."""
    ring = np.ones(psf.shape, dtype=bool)
    ring[1:-1, 1:-1] = False
    border = psf[ring]
    return float(border.mean()), float(border.std() / np.sqrt(border.size))


def _warn_negative(psf: np.ndarray, path: Path) -> None:
    """Announce a PSF whose negative pixels weigh much and whose border is significantly below 0
    (an over-subtracted background?). The negative pixels of an empirical PSF's noise can weigh
    as much (a star of peak S/N 300 in 31 x 31 pixels: 10 %), but leave its border at 0 on
    average: they pass silently."""
    negative, positive = float(-psf[psf < 0].sum()), float(psf[psf > 0].sum())
    background, error = _border_background(psf)
    if negative > PSF_NEGATIVE_SHARE * positive and background < -3 * error:
        warnings.warn(
            f"The PSF {path} has {int((psf < 0).sum())} negative pixels (down to {psf.min():.3g}), summing to "
            f"{100 * negative / positive:.3g} % of its positive ones in absolute value, and its border averages "
            f"{background:.3g}: an over-subtracted background? It is used as it is (normalised to unit sum); clip "
            "or re-subtract it if that is not intended.",
            DataWarning,
            stacklevel=outside_stacklevel(),
        )


#: Pixels within this share of the PSF's highest value count as its flat top: a box kernel made
#: by an FFT convolution, or stored in float32, differs from pixel to pixel by rounding alone.
FLAT_TOP_RTOL = 1e-6


def psf_peak(psf: np.ndarray) -> tuple[float, float]:
    """Row and column of the PSF's peak: the middle of its highest finite pixels where several share
    the highest value, to :data:`FLAT_TOP_RTOL` (a saturated star's flat core, a box kernel), not
    the first of them. A NaN or infinite pixel is passed over; a ValueError for a PSF with none finite."""
    finite = np.isfinite(psf)
    if not finite.any():
        raise ValueError(f"the PSF of shape {np.shape(psf)} has no finite pixel, so no peak")
    top = np.max(psf[finite])
    rows, cols = np.nonzero(finite & (psf >= top - FLAT_TOP_RTOL * abs(top)))
    return float(rows.mean()), float(cols.mean())


def _warn_off_centre(psf: np.ndarray, path: Path) -> None:
    row, col = psf_peak(psf)
    cy, cx = (psf.shape[0] - 1) // 2, (psf.shape[1] - 1) // 2
    if max(abs(row - cy), abs(col - cx)) > 1:
        warnings.warn(
            f"The PSF {path} peaks at pixel (row {row:g}, column {col:g}), not at its centre (row {cy}, column {cx}); "
            "the model will be shifted accordingly. Re-centre the PSF on its peak if that is not intended.",
            DataWarning,
            stacklevel=outside_stacklevel(),
        )
