"""The figure class of tinylens's figures: it imports matplotlib only, so that the light
modules (:mod:`.report`, :mod:`.overview`) can use it too."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that a notebook shows inline as it is: one made
    without pyplot shows there only as ``<Figure size ...>`` text until ``%matplotlib inline``
    (or a pyplot figure) has loaded the backend, which tinylens leaves to the user."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", facecolor="white", bbox_inches="tight")
        return buffer.getvalue()


def file_format(fig: Figure, path: str | Path) -> str:
    """The image format that ``path``'s suffix names (``model_results.pdf``: ``pdf``), if
    matplotlib writes it; else ``png``."""
    suffix = Path(path).suffix.lower().removeprefix(".")
    return suffix if suffix in fig.canvas.get_supported_filetypes() else "png"
