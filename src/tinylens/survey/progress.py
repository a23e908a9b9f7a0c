"""The survey's progress: on a terminal, a bar of the lenses fitted, failed and in flight with the
stages they are in (:func:`survey_bar`); without one, a line logged at most every
:data:`LOG_SECONDS` and a heartbeat when none was for :data:`HEARTBEAT_SECONDS`, so that a batch
job's log shows the survey alive (:class:`SurveyProgress`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import numpy as np

from tinylens.errors import lens_count

#: Without a terminal, a progress line is logged at most this often (seconds).
LOG_SECONDS = 60.0
#: Without a terminal, a line is also logged when none was for this long (seconds), so that a
#: batch job's log shows the survey alive while its first, or slowest, lenses are fitted.
HEARTBEAT_SECONDS = 600.0


# -- progress ---------------------------------------------------------------------------------
def stages_column(text_format: str) -> Any:
    """The bar's last column, the stages of the lenses in flight (:func:`stages_in_flight`): on a
    line too narrow for the bar it is a column that gives way, cut short with an ellipsis on its
    one line (as the rate is, :func:`bar_columns`). rich's text columns are kept whole and cut
    evenly as a last resort, so that a long stage (``lens_a: stage 3/4 (mass and source), 2 starts
    ended``) took the bar, its counts and its times off an 80-column terminal ("0 ok 0 faile…"); the
    counts now stay whole as it is cut."""
    from rich.progress import TextColumn
    from rich.table import Column

    class StagesColumn(TextColumn):
        def render(self, task: Any) -> Any:
            text = super().render(task)
            text.no_wrap, text.overflow = True, "ellipsis"  # cut on its line where its column is narrowed
            return text

    # a column that wraps is the one rich narrows first: its text (above) is cut, not wrapped
    return StagesColumn(text_format, table_column=Column(no_wrap=False, overflow="ellipsis"))


def remaining_column(table_column: Any) -> Any:
    """The bar's time left: rich's estimate (the lenses finished within its last hour), or, where
    the task's ``eta`` field is set (a resumed survey: :meth:`SurveyProgress.update`), that many
    seconds, ``-:--:--`` where it is infinite. rich times every lens the bar advanced by, those
    finished from a checkpoint within seconds too: two such lenses 4 s apart made its ETA for 2
    more lenses 8 s."""
    from rich.progress import TimeRemainingColumn
    from rich.text import Text

    class RemainingColumn(TimeRemainingColumn):
        def render(self, task: Any) -> Any:
            eta = task.fields.get("eta")
            if eta is None or task.finished:
                return super().render(task)
            if not np.isfinite(eta):
                return Text("-:--:--", style="progress.remaining")
            minutes, seconds = divmod(int(np.ceil(eta)), 60)
            return Text(f"{minutes // 60:d}:{minutes % 60:02d}:{seconds:02d}", style="progress.remaining")

    return RemainingColumn(table_column=table_column)


def bar_columns() -> tuple[Any, ...]:
    """The survey bar's columns. Those that tell how far it is (``survey``, M/N, the counts, the
    time elapsed, ``ETA`` and the time left) are kept whole (no_wrap, a column rich does not narrow
    while another can give way); the bar, the rate (what the ETA is made of) and the stages
    (:func:`stages_column`) give way, the widest first. Every column could be narrowed before, and
    rich narrowed the widest: on an 80-column terminal with no stage said, a survey of 10000 lenses
    showed '123…' for 1237/10000, '0:00…' and 'ETA -:-…'."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.table import Column

    def kept() -> Any:
        return Column(no_wrap=True)

    return (TextColumn("[bold]survey", table_column=kept()), BarColumn(), MofNCompleteColumn(table_column=kept()),
            TextColumn("{task.fields[counts]}", table_column=kept()), stages_column("{task.fields[rate]}"),
            TimeElapsedColumn(table_column=kept()), TextColumn("ETA", table_column=kept()),
            remaining_column(kept()), stages_column("{task.fields[stages]}"))


def survey_bar(console: Any) -> Any:
    """The survey's rich Progress of :func:`bar_columns` on ``console``. On a line too narrow for the
    columns kept whole (on 60 columns, a survey of 1000 lenses or more), rich cut every column evenly,
    the times and the ETA too ('0:00:…', 'ETA -:--:…'); the label ``survey``, then the time elapsed,
    then the bar, the rate and the stages (which have no room left there, but each took a column's
    space: 'ETA 629:59:…' for 10^6 lenses at 1000 lenses/h) are now left out first, so that the
    count, the counts and the ETA stay whole where they fit."""
    from rich.measure import Measurement
    from rich.progress import Progress
    from rich.table import Table

    columns = bar_columns()
    # left out, in turn, where too narrow: the label, the time elapsed, then the bar, the rate and the
    # stages, which have no room left there but still take a column's space each
    spare = (columns[0], columns[5], columns[1], columns[4], columns[8])

    class Fitted:
        def __init__(self, tasks: Iterable[Any]) -> None:
            self.tasks = [task for task in tasks if task.visible]

        def __rich_console__(self, console: Any, options: Any) -> Any:
            rows = [[column(task) for column in columns] for task in self.tasks]
            shown = list(range(len(columns)))

            def needed() -> int:  # the kept columns' widths and the space after every column but the last
                whole = [i for i in shown if columns[i].get_table_column().no_wrap]
                return sum(max((Measurement.get(console, options, row[i]).maximum for row in rows), default=0)
                           for i in whole) + len(shown) - 1

            for column in spare:
                if needed() <= options.max_width:
                    break
                shown.remove(columns.index(column))
            table = Table.grid(*(columns[i].get_table_column().copy() for i in shown), padding=(0, 1))
            for row in rows:
                table.add_row(*(row[i] for i in shown))
            yield table

    class SurveyBar(Progress):
        def make_tasks_table(self, tasks: Iterable[Any]) -> Any:
            return Fitted(tasks)

    return SurveyBar(*columns, console=console, speed_estimate_period=3600.0)


#: Seconds the survey's end waits for its heartbeat's thread to stop (a daemon, which prints nothing
#: once the survey ended): one asking a scheduler that no longer answers is not waited for.
BEAT_JOIN_SECONDS = 5.0


class SurveyProgress:
    """Lenses ok / failed / remaining, rate and ETA on stderr: a rich progress bar on a terminal,
    else (a batch job's log) a plain line at most every :data:`LOG_SECONDS` (a lens finished sooner
    is logged by the heartbeat's thread once that time has passed) and at the end (the last lens,
    or the survey stopped before it: Ctrl-C, a time limit, tasks dropped), and one with the time
    elapsed when none was for :data:`HEARTBEAT_SECONDS`. ``stage``: where the fits of the lenses
    in flight have got to (:func:`stages_in_flight`), said by that line where it tells.
    ``resuming``: the ids of the lenses to fit that resume from a checkpoint; the rate and the ETA
    are made of the other lenses finished in this run (:meth:`rate`)."""

    def __init__(self, total: int, done: list[Mapping[str, Any]], enabled: bool = True,
                 clock: Callable[[], float] = time.perf_counter,
                 workers: Callable[[], int | None] | None = None, resuming: Collection[str] = (),
                 stage: Callable[[], str | None] | None = None) -> None:
        from rich.console import Console

        from tinylens.inference.progress import PlainLines, draws_live

        self._clock = clock
        self._workers = workers  # the cluster's worker count, for the heartbeat
        self._stage = stage  # the stages of the lenses in flight, for the heartbeat
        self.total = total
        self.ok = sum(r.get("status") == "ok" for r in done)
        self.failed = sum(r.get("status") == "failed" for r in done)
        self._resumed = frozenset(resuming)  # of the lenses to fit, those resuming from a checkpoint
        self.resuming = len(self._resumed)
        self._console = Console(stderr=True, highlight=False) if enabled else None
        self._notes = self._console if self._console is not None else Console(stderr=True, highlight=False)
        self._progress = None
        if self._console is not None and draws_live(self._console):
            self._progress = survey_bar(self._console)
            self._task = self._progress.add_task("survey", total=total, completed=self.ok + self.failed,
                                                 counts=self._counts(), rate="", stages="", eta=None)
        self._lines = PlainLines(LOG_SECONDS, clock)
        self._start = self._lines.start
        self._new = 0
        self._fresh = 0  # of self._new, the lenses not resumed from a checkpoint: the rate's
        self._shown = 0  # self._new when a line last showed the counts
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def left(self) -> int:
        return self.total - self.ok - self.failed

    def _counts(self) -> str:
        return f"[green]{self.ok} ok[/] [red]{self.failed} failed[/] {self.left} left"

    @property
    def untimed(self) -> int:
        """Lenses finished in this run from a checkpoint, none of which is counted in the rate."""
        return self._new - self._fresh

    def rate(self) -> float:
        """Lenses finished per hour in this run, of those not resumed from a checkpoint. A lens
        resumed from a nearly finished checkpoint ends within seconds: counted, it made a resumed
        survey of 3 lenses say '41.1 lenses/h, ETA 1m 28s' for a last lens that took 3 minutes.
        The time of the resumed lenses stays in the time elapsed (their workers' time cannot be
        told apart from the others'): the rate may be low, not high, while they are fitted."""
        return self._fresh / max(self._clock() - self._start, 1e-9) * 3600

    def eta_seconds(self) -> float:
        """Time to finish the remaining lenses at this run's :meth:`rate` (inf before its first
        lens not resumed from a checkpoint; 0 once none is left, every lens of this run resumed:
        the last line said 'ETA unknown' for a survey that had ended)."""
        if self._fresh:
            return self.left / self.rate() * 3600
        return 0.0 if self._new and not self.left else float("inf")

    def rate_text(self) -> str:
        """``30 lenses/h``, or, where every lens finished in this run resumed from a checkpoint
        (which says nothing of the speed), ``no rate yet (2 finished from a checkpoint)``."""
        if self.untimed and not self._fresh:
            return f"no rate yet ({self.untimed} finished from a checkpoint)"
        return f"{self.rate():.3g} lenses/h"

    def line(self) -> str:
        """``survey: 12/100 done (11 ok, 1 failed), 88 left, 30 lenses/h, ETA 2h 56m``."""
        eta = self.eta_seconds()
        eta_text = "unknown" if not np.isfinite(eta) else _duration(eta)
        return (f"survey: {self.ok + self.failed}/{self.total} done ({self.ok} ok, {self.failed} failed), "
                f"{self.left} left, {self.rate_text()}, ETA {eta_text}")

    def update(self, row: Mapping[str, Any]) -> None:
        """Count a lens just finished. The counts and whether a line is due are read and changed
        under the lock, which the heartbeat's thread takes too: both found a line due at once."""
        with self._lock:
            self.ok += row.get("status") == "ok"
            self.failed += row.get("status") == "failed"
            self._new += 1
            self._fresh += row.get("lens_id") not in self._resumed
            if self._progress is not None:
                # a resumed survey's ETA is this run's (:meth:`eta_seconds`), not rich's, which times every lens
                eta = self.eta_seconds() if self._resumed else None
                self._progress.update(self._task, advance=1, counts=self._counts(), rate=self.rate_text(), eta=eta)
            elif self._console is not None and self._lines.due(force=not self.left):
                self._print_line(self.line())

    def _log(self, text: str) -> None:
        """Print ``text``, a line with the counts now."""
        with self._lock:
            self._print_line(text)

    def _print_line(self, text: str) -> None:
        """:meth:`_log` with the lock already held."""
        self._shown = self._new
        self._console.print(text, markup=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """Print ``text`` on stderr (above the bar on a terminal), with or without the progress."""
        with self._lock:
            self._notes.print(text, markup=False, soft_wrap=True, highlight=False)

    def heartbeat(self) -> None:
        """Without a terminal: log the counts of lenses finished since the last line once
        :data:`LOG_SECONDS` have passed since it (they waited for the next lens, or the heartbeat,
        before); else the counts and the time elapsed if nothing was logged for
        :data:`HEARTBEAT_SECONDS` (called from a background thread while the survey runs); that
        no worker is connected, rather than 'still fitting', when the cluster has none; the stages
        of the lenses in flight (``fitting lens_a: stage 3/4 ...``, ``fitting lenses: 3 in stage 4/4,
        1 in stage 2/4``) where ``stage`` tells them. Whether it is due is decided under the lock, so
        that it and a lens's line are not both printed. On a terminal: the bar's last column shows
        those stages (read at each call, from the heartbeat's thread, as for the log's line)."""
        if self._progress is not None:
            if self._stage is not None:
                self._progress.update(self._task, stages=self._stage() or "")  # under rich's own lock
            return
        if self._console is None:
            return
        with self._lock:
            if self._shown != self._new and self._lines.due():
                self._print_line(self.line())
                return
            if not self._lines.due(every=HEARTBEAT_SECONDS):
                return
            due_at = self._lines.last
        # the scheduler (and the lens's folder) asked outside the lock: a slow answer must not hold up a finished lens
        if self._workers is not None and self._workers() == 0:
            doing = "no Dask worker connected"
        else:
            where = self._stage() if self._stage is not None else None
            doing = f"fitting {where}" if where else "still fitting"
        with self._lock:
            # else a lens's line came meanwhile, or the survey ended while the scheduler was asked
            if self._lines.last == due_at and not self._stop.is_set():
                self._print_line(f"{self.line()}; {doing}, {_duration(self._lines.elapsed)} elapsed")

    def _beat_loop(self) -> None:
        while not self._stop.wait(min(HEARTBEAT_SECONDS / 10, 60.0)):
            self.heartbeat()

    def start_line(self) -> str:
        """``survey: 10 lenses, 4 already done, 6 to fit (2 resume from a checkpoint)``, the
        part in brackets only where some do."""
        resuming = (f" ({self.resuming} {'resumes' if self.resuming == 1 else 'resume'} from a checkpoint)"
                    if self.resuming else "")
        return f"survey: {lens_count(self.total)}, {self.ok + self.failed} already done, {self.left} to fit{resuming}"

    def __enter__(self) -> SurveyProgress:
        if self._progress is not None:
            if self.resuming:  # above the bar, whose counts do not tell it
                self._console.print(self.start_line(), markup=False, soft_wrap=True)
            self._progress.start()
        elif self._console is not None:
            self._console.print(self.start_line(), markup=False, soft_wrap=True)
        if self._console is not None and (self._progress is None or self._stage is not None):
            self._beat = threading.Thread(target=self._beat_loop, name="survey-heartbeat", daemon=True)
            self._beat.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._beat is not None:  # a scheduler (or lens folder) slow to answer does not hold the survey's end
            self._beat.join(timeout=BEAT_JOIN_SECONDS)
        if self._progress is not None:
            self._progress.stop()
        elif self._console is not None and self._shown != self._new:
            self._log(self.line())  # stopped before the last lens: the counts it stopped at


def _duration(seconds: float) -> str:
    """``1d 2h``, ``3h 05m``, ``4m 10s`` or ``12s``."""
    s = int(round(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {s:02d}s" if minutes else f"{s}s"
