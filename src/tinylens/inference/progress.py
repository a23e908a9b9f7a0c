"""A live status line for long searches: likelihood calls, log-evidence, elapsed time.

Runners wrap their (batched) likelihood with :meth:`LiveStatus.wrap`, which counts calls
and refreshes the status on stderr: on a terminal, one ``rich`` line redrawn at most a few
times a second; otherwise (a batch job's log file, a pipe, a dumb terminal) a plain line at most every
:data:`PLAIN_EVERY_S` seconds and one at the end. With ``enabled=False`` nothing is shown
and only the calls are counted (``--quiet``, batch use).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column

Stats = Callable[[], dict[str, Any]]

#: Seconds between two plain status lines when stderr is not a terminal.
PLAIN_EVERY_S = 30.0


def draws_live(console: Console) -> bool:
    """Whether ``console`` can show a live line or bar, redrawn in place: a terminal, not a dumb
    one (``TERM=dumb``: Emacs's M-x shell, some IDE consoles, which show it only at the end), nor a
    batch job's log file or a pipe; where it cannot, progress is given as plain lines."""
    return console.is_terminal and not console.is_dumb_terminal


def clock_time(seconds: float) -> str:
    """``seconds`` as minutes and seconds, ``1:02`` (``75:03`` past an hour), for a plain line."""
    minutes, whole = divmod(int(seconds), 60)
    return f"{minutes}:{whole:02d}"


class PlainLines:
    """When a progress display that cannot redraw in place (a log file, a pipe, a dumb terminal)
    prints its next plain line: at most every ``every`` seconds, and whenever one is forced (the
    last, at the end). ``clock`` is read once a call; ``first``: the first call is due at once."""

    def __init__(self, every: float = PLAIN_EVERY_S, clock: Callable[[], float] = time.monotonic,
                 *, first: bool = False) -> None:
        self.every = every
        self._clock = clock
        self.start = clock()
        self.last = -math.inf if first else self.start

    def due(self, force: bool = False, every: float | None = None) -> bool:
        """Whether a line is due now (``every``: another interval than the usual, a heartbeat's);
        if so, it is taken as printed now."""
        now = self._clock()
        if force or now - self.last >= (self.every if every is None else every):
            self.last = now
            return True
        return False

    @property
    def elapsed(self) -> float:
        """Seconds from the start to the last line due."""
        return self.last - self.start


def redraws(stream: Any) -> bool:
    """Whether ``stream`` shows a line ended by a carriage return redrawn in place: a terminal or a
    notebook's output, not a batch job's log file or a pipe (there each one piles up on one line),
    nor a dumb terminal (``TERM=dumb``: Emacs's M-x shell), where :class:`LiveStatus` prints plain
    lines too."""
    console = Console(file=stream)
    return draws_live(console) or console.is_jupyter


def announce(enabled: bool, who: str, text: str) -> None:
    """Print ``who text`` on stderr (``who`` in bold) when ``enabled``: a step of a fit that
    has no status line of its own (the pipeline's stages, the writing of the outputs). One line
    however long: a path in it is not broken at the console's width (80 columns in a log), nor
    read as markup (a folder "run[v2]")."""
    if enabled:
        Console(stderr=True, highlight=False).print(f"[bold]{who}[/] {escape(text)}", soft_wrap=True)


#: Seconds after which, where stderr cannot redraw a line (a log file, a pipe), :class:`Steps`
#: says the step it begins: a stage quick on an idle machine adds no line, a slow one shows movement.
STEP_EVERY_S = 5.0


class Steps:
    """The steps of a part of a fit that has no status line of its own (the writing of its outputs
    after the search, seconds on an idle machine, minutes on a loaded one), each said by
    :meth:`step` as it begins: on a terminal, one transient line (a spinner, ``who text``) redrawn
    at each step and gone at the end; elsewhere (a log file, a pipe, a dumb terminal) an
    :func:`announce` line for a step begun ``every`` seconds (:data:`STEP_EVERY_S`) or more after
    the last line (the start counts as one); with ``enabled=False`` nothing. ``clock`` is read once
    a step."""

    def __init__(self, enabled: bool, who: str, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.who = who
        self.every = STEP_EVERY_S if every is None else every
        self._clock = clock
        self._status: Any = None
        self._lines: PlainLines | None = None

    def __enter__(self) -> Steps:
        if not self.enabled:
            return self
        console = Console(stderr=True, highlight=False)
        if draws_live(console):
            self._status = console.status(f"[bold]{escape(self.who)}[/]")
            self._status.start()
        else:
            self._lines = PlainLines(self.every, self._clock)
        return self

    def step(self, text: str) -> None:
        """Say that the step ``text`` begins (``drawing results.png``)."""
        if self._status is not None:
            self._status.update(f"[bold]{escape(self.who)}[/] {escape(text)}")
        elif self._lines is not None and self._lines.due():
            announce(True, self.who, text)

    def __exit__(self, *exc: Any) -> None:
        if self._status is not None:
            self._status.stop()
        self._status = self._lines = None


def announce_resumed(enabled: bool, method: str, checkpoint: Any, calls: int, seconds: float) -> None:
    """Say, when ``enabled``, that the sampler ``method`` resumes its ``checkpoint``, with the
    likelihood ``calls`` and ``seconds`` of sampling the earlier runs it recorded: a resumed fit
    said so only in its closing line, which a job killed again before the end never reached."""
    announce(enabled, method, f"resuming its checkpoint {checkpoint}: {int(calls):,} likelihood calls and "
             f"{seconds:.0f} s of sampling by earlier runs kept (tinylens fit --fresh, or fit(..., "
             "fresh=True), starts from scratch instead)")


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.2f}" if np.isfinite(value) else "n/a"
    return str(value)


class CutText(TextColumn):
    """A text column cut short with an ellipsis on its one line where its column is narrowed."""

    def render(self, task: Any) -> Any:
        text = super().render(task)
        text.no_wrap, text.overflow = True, "ellipsis"
        return text


def status_columns() -> tuple[Any, ...]:
    """A fit's status line: the spinner, the method and the time elapsed kept whole, the status text
    (``calls ... | log Z ... | N_eff ... | f_live ...``) the column that gives way, cut on its line.
    Every column could be narrowed before, and rich narrowed them all: on an 80-column terminal
    nautilus's line of 1,234,567 calls while exploring showed the time elapsed as '0:00:…', and on
    60 columns the method as 'nau…' and no time at all."""
    def kept() -> Column:
        return Column(no_wrap=True)

    return (SpinnerColumn(table_column=kept()), TextColumn("[bold]{task.description}", table_column=kept()),
            CutText("{task.fields[info]}", table_column=Column(no_wrap=False, overflow="ellipsis")),
            TimeElapsedColumn(table_column=kept()))


class LiveStatus:
    """Count likelihood calls (and the time spent in them) and show ``method | calls | extra stats | elapsed``."""

    def __init__(
        self, method: str, *, enabled: bool = True, refresh_s: float = 0.25, plain_every_s: float = PLAIN_EVERY_S
    ) -> None:
        self.method = method
        self.enabled = enabled
        self.refresh_s = refresh_s
        self.plain_every_s = plain_every_s
        self.n_calls = 0
        #: Calls made by the earlier runs of a fit resumed from its checkpoint: shown in the line, which
        #: counts the fit's calls (as its result does), not in :attr:`n_calls` (this run's).
        self.calls_before = 0
        self.likelihood_time_s = 0.0
        self.stats: Stats = dict
        self._progress: Progress | None = None
        self._plain: Console | None = None
        self._lines: PlainLines | None = None
        self._task = None
        self._last = 0.0
        self._start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def wrap(self, loglike: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
        """``loglike`` counting its calls (rows of a batch) and refreshing the status line."""

        def counted(theta: np.ndarray):
            t0 = time.perf_counter()
            out = loglike(theta)
            self.likelihood_time_s += time.perf_counter() - t0
            self.n_calls += np.shape(theta)[0] if np.ndim(theta) == 2 else 1
            self.update()
            return out

        return counted

    def line(self) -> str:
        """The status text, e.g. ``calls 12,800 | log Z -1234.56 | N_eff 812`` (the calls of the fit,
        :attr:`calls_before` and this run's)."""
        parts = [f"calls {_fmt(self.calls_before + self.n_calls)}"]
        parts += [f"{k} {_fmt(v)}" for k, v in self.stats().items()]
        return " | ".join(parts)

    def _safe_line(self) -> str:
        try:
            return self.line()
        except Exception:  # a sampler mid-update may not have its statistics yet
            return f"calls {_fmt(self.calls_before + self.n_calls)}"

    def update(self, force: bool = False) -> None:
        if self._progress is None and self._plain is None:
            return
        now = time.perf_counter()
        if self._progress is not None and (force or now - self._last >= self.refresh_s):
            self._last = now
            self._progress.update(self._task, info=self._safe_line())
        elif self._lines is not None and self._lines.due(force):
            self._plain.print(f"{self.method} | {self._safe_line()} | {clock_time(self.elapsed)} elapsed",
                              markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> LiveStatus:
        self._start = time.perf_counter()
        self._last = self._start
        console = Console(stderr=True)
        if self.enabled and not draws_live(console):
            # a dumb terminal (TERM=dumb: Emacs's M-x shell) would show rich's line only at the end
            self._plain = console
            self._lines = PlainLines(self.plain_every_s, time.perf_counter)
        elif self.enabled:
            self._progress = Progress(
                *status_columns(),
                console=console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.method, total=None, info="starting")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None or self._plain is not None:
            self.update(force=True)
        if self._progress is not None:
            self._progress.stop()
        self._progress = self._plain = self._lines = None
