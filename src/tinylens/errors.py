"""Exceptions for mistakes in user input.

The CLI turns a :class:`TinyLensError` into a one-paragraph message and a non-zero exit
code, never a traceback; anything else is a bug in tinylens.
"""


class TinyLensError(Exception):
    """Base class of every error caused by user input (config, data, paths)."""


class ConfigError(TinyLensError):
    """The YAML configuration is missing, malformed or inconsistent."""


class DataError(TinyLensError):
    """A FITS file (image, noise, PSF, mask) is missing, corrupt or inconsistent."""


class OutputError(TinyLensError):
    """The output folder cannot be written."""


class DataWarning(UserWarning):
    """Something in the data was fixed or chosen automatically (pixels masked, PSF normalised,
    one of several images in a FITS file used)."""


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read, so the run it belonged to started again."""


class ConfigWarning(UserWarning):
    """The config loads but asks for something that is probably not meant (a prior reaching far
    outside the values its parameter can take)."""
