"""The status line of long searches: likelihood calls, statistics (log Z) and elapsed time; plain
lines when stderr is not a terminal; nothing with ``enabled=False``."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from rich.console import Console

from tinylens.inference.progress import LiveStatus, announce


def _run(status: LiveStatus, batches: int, pause_s: float) -> None:
    loglike = status.wrap(lambda theta: -np.sum(theta**2, axis=1))
    with status:
        for _ in range(batches):
            loglike(np.ones((256, 3)))
            time.sleep(pause_s)


def test_plain_lines_without_a_terminal(capsys):
    status = LiveStatus("nautilus", plain_every_s=0.05)
    status.stats = lambda: {"log Z": -123.456, "N_eff": 42}
    _run(status, batches=4, pause_s=0.06)
    lines = capsys.readouterr().err.strip().splitlines()
    assert 3 <= len(lines) <= 5, lines  # about one per interval, and the last one at the end
    pattern = r"^nautilus \| calls ([\d,]+) \| log Z -123\.46 \| N_eff 42 \| \d+:\d\d elapsed$"
    counts = [int(re.match(pattern, line).group(1).replace(",", "")) for line in lines]
    assert counts == sorted(counts) and counts[-1] == 4 * 256 == status.n_calls


def test_plain_lines_on_a_dumb_terminal(capsys, monkeypatch):
    """A terminal that cannot redraw a line (TERM=dumb: Emacs's M-x shell) showed rich's status
    line only when the search ended; it gets the plain lines, as a log file does."""
    monkeypatch.setenv("FORCE_COLOR", "1")  # stderr taken for a terminal, as a real one is
    monkeypatch.setenv("TERM", "dumb")
    status = LiveStatus("nautilus", plain_every_s=0.05)
    _run(status, batches=4, pause_s=0.06)
    lines = capsys.readouterr().err.strip().splitlines()
    assert 3 <= len(lines) <= 5, lines
    assert all(re.match(r"^nautilus \| calls [\d,]+ \| \d+:\d\d elapsed$", line) for line in lines), lines


def test_an_announced_step_is_one_line_in_a_log_file(capsys):
    """rich broke a step's line at 80 columns where stderr is a file (a SLURM log), and a long
    output folder's path in the middle of a name, so it could not be copied from the log."""
    folder = "/scratch/astro_group/users/jdoe/survey_2026/candidates/lens_J0123+4567/output_float64_run3"
    announce(True, "outputs", f"writing result.json, tables and figures to {folder}")
    assert capsys.readouterr().err == f"outputs writing result.json, tables and figures to {folder}\n"


def test_statistics_not_ready_yet(capsys):
    status = LiveStatus("dynesty", plain_every_s=0.0)
    status.stats = lambda: 1 / 0  # a sampler without statistics yet
    _run(status, batches=1, pause_s=0.0)
    assert "dynesty | calls 256 |" in capsys.readouterr().err


def test_disabled_counts_silently(capsys):
    status = LiveStatus("nautilus", enabled=False, plain_every_s=0.0)
    _run(status, batches=3, pause_s=0.0)
    assert status.n_calls == 768 and status.likelihood_time_s > 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


class _Gaussian:
    """A 2-parameter Gaussian posterior in the unit box: what a runner needs of a problem."""

    ndim = 2
    param_names = ("a", "b")

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(u)

    def log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        return -0.5 * np.sum(((np.atleast_2d(theta) - 0.5) / 0.1) ** 2, axis=1)


def test_nautilus_verbose_table_gives_whole_lines_without_a_terminal(capsys, monkeypatch):
    """nautilus's ``verbose`` table redraws its status line with a carriage return after every
    batch: in a SLURM log file thousands of them ran together on one line. Where stdout does not
    redraw, the status is a line of its own, at most every ``plain_every_s`` seconds."""
    from tinylens.inference import nautilus_runner

    monkeypatch.setattr(nautilus_runner.CheckpointedSampler, "plain_every_s", 1e6, raising=False)
    settings = {"nlive": 50, "n_batch": 50, "n_networks": 1, "n_eff": 100, "n_like_max": 1000, "verbose": True}
    nautilus_runner.run(_Gaussian(), settings, progress=False)
    out = capsys.readouterr().out
    assert "\r" not in out
    rows = [line.split("|")[0].strip() for line in out.splitlines() if "|" in line]
    assert rows[0] == "Status" and len(rows) == 3, rows  # the header, the first status, the end
    assert rows[-1] in ("Finished", "Stopped")


def test_nautilus_status_lines_show_its_statistics_while_it_samples(capsys, monkeypatch):
    """The status line is drawn from the likelihood, in the middle of nautilus's batch, where its
    statistics fail (its points and weights do not add up yet): every line but the first and last
    showed only the calls. It now shows those of the state after the last batch."""
    from functools import partial

    from tinylens.inference import nautilus_runner

    monkeypatch.setattr(nautilus_runner, "LiveStatus", partial(LiveStatus, plain_every_s=0.0))
    monkeypatch.setattr(nautilus_runner, "STATS_EVERY_S", 0.0, raising=False)
    settings = {"nlive": 50, "n_batch": 50, "n_networks": 1, "n_eff": 100, "n_like_max": 1000}
    nautilus_runner.run(_Gaussian(), settings, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) >= 10, lines  # one per batch, and the last
    assert all(" | N_eff " in line and " | log Z " in line for line in lines), lines
    log_z = [float(m.group(1)) for m in map(re.compile(r"log Z (-?[\d.]+) ").search, lines[2:])]
    assert len(log_z) == len(lines) - 2 and abs(log_z[-1] - np.log(2 * np.pi * 0.01)) < 0.3  # the Gaussian's


def test_a_step_naming_a_folder_with_brackets_prints_it_as_it_is(capsys):
    """The text was read as rich markup: a folder 'lens[v2]' was printed 'lens' (the '[v2]' taken
    for a style), and one holding '[/]' ended the fit with a MarkupError."""
    from tinylens.inference.progress import announce

    announce(True, "outputs", "writing result.json, tables and figures to runs/lens[v2]/a[/]b")
    assert capsys.readouterr().err == "outputs writing result.json, tables and figures to runs/lens[v2]/a[/]b\n"


def test_a_dumb_terminal_is_no_terminal_that_redraws_a_line(monkeypatch):
    """nautilus's verbose table (redraws) and tinylens's own status line (LiveStatus) must agree on
    a dumb terminal (TERM=dumb, Emacs's M-x shell): the status line gives plain lines there, and
    the table's rows ended by a carriage return piled up on one line."""
    import io

    from tinylens.inference.progress import redraws

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    assert redraws(Terminal()) and not redraws(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not redraws(Terminal())


def test_every_progress_gives_plain_lines_on_a_dumb_terminal(monkeypatch):
    """A dumb terminal (TERM=dumb: Emacs's M-x shell) shows a live bar only at the end: the
    fit's status line gave plain lines there, but simulate-population's and the survey's bars
    were drawn, so a long run said nothing until it ended. All three now agree (draws_live)."""
    from tinylens.inference.progress import draws_live
    from tinylens.survey.population import _progress
    from tinylens.survey.progress import SurveyProgress

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stderr for a terminal
    for variable in ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    from rich.console import Console

    assert draws_live(Console(stderr=True))  # a terminal: live bars, as before
    monkeypatch.setenv("TERM", "dumb")
    assert not draws_live(Console(stderr=True))
    assert type(_progress([1, 2], True, "Simulating lenses")).__name__ == "generator"  # _logged's plain lines
    assert SurveyProgress(3, [], enabled=True)._progress is None  # plain lines, no bar


def test_plain_lines_come_at_most_every_interval_and_when_forced():
    """The one rule of the fit's, simulate-population's, the survey's and nautilus's plain lines:
    a line once ``every`` seconds have passed since the last, one whenever forced (the last), a
    heartbeat's longer interval, and (``first``) the first at once."""
    from tinylens.inference.progress import PlainLines, clock_time

    now = iter([100.0, 110.0, 131.0, 140.0, 141.0, 170.0, 200.0, 202.0])
    lines = PlainLines(30.0, lambda: next(now))
    due = [lines.due(), lines.due(), lines.due(), lines.due(force=True), lines.due(every=60.0), lines.due(every=60.0),
           lines.due(every=60.0)]
    assert due == [False, True, False, True, False, False, True]
    assert lines.elapsed == 102.0 and clock_time(lines.elapsed) == "1:42"
    assert clock_time(0.9) == "0:00" and clock_time(4503.2) == "75:03"
    first = PlainLines(30.0, iter([0.0, 1.0, 2.0]).__next__, first=True)
    assert [first.due(), first.due()] == [True, False]


def test_steps_in_a_log_say_only_a_step_begun_a_while_after_the_last_line(capsys, monkeypatch):
    """The outputs stage's steps (tinylens.fit's write_results): in a log file a quick stage adds no
    line (the demo's output stays short on an idle machine), a slow one a line per step that begins
    STEP_EVERY_S or more after the last line; disabled (--quiet), none."""
    from tinylens.inference.progress import Steps

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    now = [100.0]
    with Steps(True, "outputs", every=5.0, clock=lambda: now[0]) as steps:
        for at, text in ((100.5, "computing"), (101.0, "tables"), (109.0, "drawing a.png"), (110.0, "drawing b.png"),
                         (200.0, "writing result.json")):
            now[0] = at
            steps.step(text)
    assert capsys.readouterr().err == "outputs drawing a.png\noutputs writing result.json\n"
    with Steps(False, "outputs", every=0.0) as steps:
        steps.step("drawing a.png")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("width", [60, 80])
def test_a_fit_s_status_line_keeps_its_time_whole_and_cuts_the_statistics(monkeypatch, width):
    """Every column of a fit's status line could be narrowed, and rich narrowed them all: on an
    80-column terminal nautilus's line while exploring (1,234,567 calls) showed the time elapsed as
    '0:00:…', and on 60 columns the method as 'nau…' and no time at all. The spinner, the method
    and the time are now kept whole; the statistics give way, cut with an ellipsis on the one line."""
    import io

    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    status = LiveStatus("nautilus", plain_every_s=0.0)
    status.calls_before = 1_234_567
    status.stats = lambda: {"log Z": -12345.678, "N_eff": 12345, "f_live": 0.1234}
    with status:
        status.update(force=True)
        console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
        console.print(status._progress.get_renderable())
    lines = console.file.getvalue().splitlines()
    full = "calls 1,234,567 | log Z -12345.68 | N_eff 12,345 | f_live 0.12"
    assert len(f"x nautilus {full} 0:00:00") > 80  # the independent truth: the whole line (spinner first) does not fit
    assert len(lines) == 1 and len(lines[0]) <= width, lines  # one line: cut, not wrapped
    assert re.search(r" nautilus calls 1,234,567 \| .*… \d+:\d\d:\d\d$", lines[0].rstrip()), lines
    shown = lines[0].split(" nautilus ", 1)[1].rsplit(" ", 1)[0]  # the statistics, as cut
    assert full.startswith(shown[:-1]), lines
