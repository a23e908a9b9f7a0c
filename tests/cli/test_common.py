"""The CLI's warning report: what a user is shown, once, and what is left out."""

from __future__ import annotations

import errno
import os
import warnings

import pytest

from tinylens.cli import common
from tinylens.errors import DataWarning


def test_reported_warnings_prints_each_once_and_leaves_out_deprecations(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(common, "print_warning", shown.append)
    with common.reported_warnings():
        warnings.warn("12 pixels masked", DataWarning, stacklevel=1)
        warnings.warn("12 pixels masked", DataWarning, stacklevel=1)
        warnings.warn("'parseString' deprecated - use 'parse_string'", DeprecationWarning, stacklevel=1)
        warnings.warn("old keyword", PendingDeprecationWarning, stacklevel=1)
        warnings.warn("the sampler did not converge", RuntimeWarning, stacklevel=1)
    assert shown == ["12 pixels masked", "the sampler did not converge"]


def test_reported_warnings_are_printed_as_they_come(monkeypatch):
    """A fit's warnings about its data and priors were printed after its sampling (hours, for a
    large image), and not at all when it was stopped before its end."""
    shown: list[str] = []
    monkeypatch.setattr(common, "print_warning", shown.append)
    try:
        with common.reported_warnings():
            warnings.warn("the noise map's median is 30 times the scatter", DataWarning, stacklevel=1)
            assert shown == ["the noise map's median is 30 times the scatter"]  # before the fit goes on
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert shown == ["the noise map's median is 30 times the scatter"]


def test_main_help_gives_each_command_one_line():
    """``tinylens --help`` on a wide terminal: one row per command, in the documented order, no
    summary broken over lines by its docstring's line breaks."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    panel = result.output.split("Commands")[1].split("╰")[0]
    rows = [line.strip("│ ").split()[0] for line in panel.splitlines()[1:] if line.strip("│ ")]
    assert rows == ["fit", "validate", "demo", "simulate-population", "survey", "report"]


def test_dash_h_is_help_for_the_program_and_every_command(tmp_path, monkeypatch):
    """'tinylens fit -h', as most tools take it, was refused ('No such option: -h'), without a hint
    that --help was meant; it now shows the help, as --help does, and runs nothing."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    monkeypatch.chdir(tmp_path)
    for command in ([], ["fit"], ["validate"], ["demo"], ["simulate-population"], ["survey"], ["report"],
                    ["simulate-population", "-3", "pop"]):  # a count the command would refuse: help first
        short = CliRunner().invoke(app, [*command, "-h"], env={"COLUMNS": "200"})
        assert short.exit_code == 0, (command, short.output)
        assert short.output == CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
        assert "Usage: tinylens" in short.output and "Show this message and exit." in short.output
    assert not list(tmp_path.iterdir())  # nothing written (the demo's folder, a population)


def test_an_empty_path_is_refused_before_anything_runs(tmp_path, monkeypatch):
    """``-o "$OUT"`` with ``OUT`` unset: an empty path would be the current folder (a fit would
    write its results among the user's files there). Every path a command takes refuses it."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_config.yaml").write_text("not: read\n")
    cases = [["fit", "model_config.yaml", "-o", ""], ["fit", ""], ["validate", ""], ["demo", "", "--no-fit"],
             ["survey", "", "-c", "model_config.yaml", "-o", "run"],
             ["survey", "lenses", "-c", "", "-o", "run"], ["survey", "lenses", "-c", "model_config.yaml", "-o", ""],
             ["simulate-population", "2", ""], ["report", ""], ["report", "catalog.csv", "-o", ""],
             ["report", "catalog.csv", "--truth", ""], ["report", "catalog.csv", "--reference", ""]]
    for args in cases:
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, (args, result.output)
        assert "an empty path (an unset shell variable?)" in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_config.yaml"]  # nothing written


def test_a_warning_during_a_status_line_is_printed_above_it(capsys):
    """Printed the moment it is raised, a warning met the sampler's live status line: rich's
    console wrote it to the real stderr after the line (``calls 3 0:00:05Warning: ...``) and
    the line was redrawn below it. Written to ``sys.stderr``, which rich redirects while a
    status line is shown, it is printed above the line by the status line's own console."""
    import io

    from rich.console import Console
    from rich.progress import Progress, TextColumn

    screen = io.StringIO()
    with common.reported_warnings(), Progress(TextColumn("nautilus calls 3"),
                                              console=Console(file=screen, force_terminal=True, width=80)):
        warnings.warn("a prior half outside the allowed values", DataWarning, stacklevel=1)
    assert "a prior half outside the allowed values" not in capsys.readouterr().err
    lines = screen.getvalue().splitlines()
    (line,) = [line for line in lines if "a prior half outside" in line]
    assert "nautilus calls 3" not in line and "Warning:" in line


def test_no_command_help_breaks_a_sentence_at_its_docstrings_line_breaks():
    """typer keeps the line breaks of a docstring's paragraphs after the first, so a sentence
    wrapped in the source broke mid-line in the help ('in summed arc' / 'SNR (the' in
    simulate-population --help). Such a paragraph's lines are one each, or items (--set ...)."""
    import inspect

    from tinylens.cli.main import app

    for command in app.registered_commands:
        paragraphs = inspect.cleandoc(command.callback.__doc__ or "").split("\n\n")[1:]
        for paragraph in paragraphs:
            lines = paragraph.splitlines()
            assert all(line.startswith("-") for line in lines) or len(lines) == 1, (command.name, paragraph)


def test_a_home_folder_of_no_known_user_is_refused_by_name(tmp_path, monkeypatch):
    """``~nosuchuser/...`` (a typo in a user name) ended every command in Python's traceback
    'RuntimeError: Could not determine home directory'; a path argument now names the user."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_config.yaml").write_text("not: read\n")
    cases = [["validate", "~tl_no_such_user/c.yaml"], ["fit", "model_config.yaml", "-o", "~tl_no_such_user/run"],
             ["demo", "~tl_no_such_user/demo", "--no-fit"], ["simulate-population", "2", "~tl_no_such_user/mocks"],
             ["survey", "lenses", "-c", "model_config.yaml", "-o", "run", "--scheduler", "~tl_no_such_user/s.json"]]
    for args in cases:
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, (args, result.output)
        assert "there is no user 'tl_no_such_user' on this machine" in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_config.yaml"]  # nothing written


def test_a_survey_path_in_the_home_of_no_known_user_is_named(tmp_path, monkeypatch):
    """A survey template's ``dataset.mask_path`` or an ``--only`` file beginning ``~nosuchuser/``
    ended 'tinylens survey' in the traceback 'RuntimeError: Could not determine home directory'."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text("dataset: {pixel_scale: 0.05, mask_path: ~tl_no_such_user/mask.fits}\n")
    (tmp_path / "plain.yaml").write_text("dataset: {pixel_scale: 0.05}\n")
    (tmp_path / "lenses" / "a").mkdir(parents=True)
    for name in ("image", "noise", "psf"):
        (tmp_path / "lenses" / "a" / f"{name}.fits").touch()
    for template, extra in (("t.yaml", []), ("plain.yaml", ["--only", "~tl_no_such_user/ids.txt"])):
        args = ["survey", "lenses", "-c", template, "-o", "run", "--dry-run", *extra]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, (args, result.output)
        assert "there is no user 'tl_no_such_user' on this machine" in " ".join(result.output.split()), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)


def test_the_demos_folder_is_named_in_its_help_as_the_readme_names_it():
    """README.md shows ``tinylens demo [FOLDER]`` and every other folder option of the CLI is
    ``FOLDER``; the demo's own help called its argument ``DIRECTORY``."""
    from pathlib import Path

    from typer.testing import CliRunner

    from tinylens.cli.main import app

    usage = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"}).output
    assert "Usage: tinylens demo [OPTIONS] [FOLDER]" in usage and "DIRECTORY" not in usage
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "tinylens demo [FOLDER]" in readme


def _report_inputs(folder):
    """A catalogue of three ok lenses and their truth table in ``folder``, for ``tinylens report``."""
    import pandas as pd

    ids = ["a", "b", "c"]
    pd.DataFrame({"lens_id": ids, "status": "ok", "lens_mass.0.theta_E_median": [1.0, 1.1, 0.9]}).to_csv(
        folder / "catalog.csv", index=False)
    pd.DataFrame({"lens_id": ids, "lens_mass.0.theta_E": [1.0, 1.0, 1.0]}).to_csv(folder / "truth.csv", index=False)
    return ["report", str(folder / "catalog.csv"), "--truth", str(folder / "truth.csv"), "--out", str(folder / "rep")]


@pytest.mark.parametrize("code", [errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS])
def test_a_disk_that_refuses_the_writes_is_said_naming_the_file_without_a_traceback(tmp_path, monkeypatch, code):
    """A full disk, a full quota or a read-only disk while 'tinylens report' (or demo) wrote its
    files ended in OSError's traceback and exit code 1; it is now one paragraph naming the file,
    why and what to do, exit 2, and the report written before is kept whole: the disk refuses the
    figure, the last file, part-way through, after the new tables were written to their temporaries."""
    from pathlib import Path

    import pandas as pd
    from matplotlib.figure import Figure
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    args = _report_inputs(tmp_path)
    assert CliRunner().invoke(app, args).exit_code == 0
    rep = tmp_path / "rep"
    before = {p.name: p.read_bytes() for p in rep.iterdir()}
    assert {"report_stats.csv", "report_stats.json", "report.png"} <= set(before)
    catalog = pd.read_csv(tmp_path / "catalog.csv")
    catalog["lens_mass.0.theta_E_median"] = [1.3, 0.7, 1.2]  # a new report's tables differ from the old
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    target = rep / "report.png"
    written = []

    def refused(self, path, *args, **kwargs):
        written.extend(p.suffix for p in rep.iterdir() if ".report_stats.unfinished-" in p.name and p.stat().st_size)
        Path(path).write_bytes(b"\x89PNG half")  # the disk refuses part-way, saying no file
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Figure, "savefig", refused)
    run = CliRunner().invoke(app, args)
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in said and said.startswith(f"Error: {target} cannot be written ({os.strerror(code)}: "), said
    assert ("read-only" in said) == (code == errno.EROFS) and "run the command again" in said
    assert sorted(written) == [".csv", ".json"], written  # the new tables were written, not yet renamed into place
    assert {p.name: p.read_bytes() for p in rep.iterdir()} == before  # byte-identical, no temporary left


def _rename_fails(monkeypatch, name: str, error: OSError) -> None:
    """``os.replace`` of a temporary onto a file ``name`` fails with ``error``'s type and number,
    naming both files as the system does; every other rename is done."""
    replace = os.replace

    def failing(src, dst, *args, **kwargs):
        if os.path.basename(dst) == name:
            raise type(error)(error.errno, error.strerror, str(src), None, str(dst))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)


def test_another_os_error_while_writing_keeps_its_traceback(tmp_path, monkeypatch):
    """Only the disk's refusals are said as a user's matter: another OSError (EINVAL, a bug in
    what tinylens asked of the system) still reaches Python's handler, exit code 1."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    _rename_fails(monkeypatch, "report_stats.json", OSError(errno.EINVAL, os.strerror(errno.EINVAL)))
    run = CliRunner().invoke(app, _report_inputs(tmp_path))
    assert run.exit_code == 1 and isinstance(run.exception, OSError) and run.exception.errno == errno.EINVAL


def test_a_path_with_a_name_too_long_for_the_system_is_said_without_a_traceback(tmp_path):
    """A folder given with a name longer than the system allows (255 bytes on most disks), where
    no check of the command's own looked first ('tinylens demo FOLDER' looks for a population
    there), ended in OSError's traceback (ENAMETOOLONG) and exit code 1; it is one paragraph
    naming the path, why and what to do, exit 2, and nothing is written."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    folder = tmp_path / ("d" * 300)
    run = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in said and said.startswith(f"Error: {folder}"), said
    assert f": {os.strerror(errno.ENAMETOOLONG)}: a name in this path is longer than the system allows" in said
    assert said.endswith("give a shorter one.") and list(tmp_path.iterdir()) == []


def test_a_whole_path_too_long_for_the_system_is_not_said_to_hold_a_name_too_long(tmp_path):
    """A folder whose every name is short but whose whole path, with the hidden temporary name
    written beside a file first, passes the system's 4096 bytes was said to have 'a name in this
    path longer than the system allows (255 bytes on most disks)', which none had; it is now
    said to be the whole path, still one paragraph, exit 2, no file written."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    folder = tmp_path
    while len(str(folder)) < 4060 - 1:  # the demo's files fit (4060 + '/model_config.yaml'), their temporaries do not
        folder = folder / ("d" * min(200, 4060 - len(str(folder)) - 1))
    assert len(str(folder)) == 4060
    run = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in said and "a name in this path is longer" not in said, said
    assert said.endswith("is longer than the system allows (4096 bytes on Linux), though no name in it passes "
                         f"{os.pathconf(tmp_path, 'PC_NAME_MAX')} bytes; give a shorter one."), said
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def _deep_folder(top, length: int):
    """A folder under ``top`` whose path is ``length`` bytes long, made of names of 200 bytes or fewer."""
    folder = top
    while len(str(folder)) < length - 1:
        folder = folder / ("d" * min(200, length - len(str(folder)) - 1))
    assert len(str(folder)) == length
    return folder


def test_a_whole_path_too_long_itself_is_not_said_to_be_a_hidden_temporary_name(tmp_path):
    """The whole-path wording of too_long_text spoke of 'the hidden temporary name written beside
    it first' even where the path refused was no temporary's ('tinylens demo' of a folder whose
    own path passes 4096 bytes, looking for its population.json); that is said only where the name
    refused is a temporary's: one named so, or the file one was written for, itself short enough."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    folder = _deep_folder(tmp_path, 4200)
    run = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    assert "temporary" not in said and said.endswith(": the whole path is longer than the system allows (4096 bytes "
                                                     f"on Linux), though no name in it passes {limit} bytes; give a "
                                                     "shorter one."), said
    temporary = "the whole path (with the hidden temporary name written beside it first"
    short = _deep_folder(tmp_path, 4060) / "model_config.yaml"  # fits; its temporary beside it does not
    hidden = _deep_folder(tmp_path, 4100) / ".model_config.unfinished-abcd_123.yaml"
    for path, said_temporary in ((folder / "population.json", False), (short, True), (hidden, True)):
        text = common.too_long_text(OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path)))
        assert (temporary in text) is said_temporary and "a name in this path" not in text, text


def test_a_name_whose_hidden_temporary_name_is_too_long_is_not_said_to_be_a_whole_path_too_long(tmp_path):
    """A file name of 244 bytes fits the system's 255 bytes a name, but the hidden temporary name
    written beside it first (21 bytes more) does not (a fit's output.tables.summary, into a folder
    not yet made): the error, naming the file, a path of some 300 bytes, was said to be 'the whole
    path ... longer than the system allows (4096 bytes on Linux)'. It is said to be the temporary's
    name, longer than a name may be; a whole path too long is said as before."""
    name = "s" * 240 + ".csv"
    path = tmp_path / "out" / name
    text = common.too_long_text(OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path)))
    said = " ".join(text.split())
    assert said.startswith(f"{path}: {os.strerror(errno.ENAMETOOLONG)}: "), said
    assert said.endswith(": the hidden temporary name written beside it first (.NAME.unfinished-XXXXXXXX.SUFFIX, 265 "
                         f"bytes) is longer than the system allows a name ({os.pathconf(tmp_path, 'PC_NAME_MAX')} "
                         "bytes on that disk); give a shorter name."), said
    assert "4096 bytes" not in said and "whole path" not in said, said  # (not "4096": a pytest-4096 folder)
    short = _deep_folder(tmp_path, 4060) / "model_config.yaml"  # the name's temporary fits; the path does not
    assert "the whole path (with the hidden temporary name" in common.too_long_text(
        OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(short)))



def test_names_too_long_are_said_with_the_limit_of_the_paths_own_disk(tmp_path, monkeypatch):
    """On a disk that takes 143 bytes a name (eCryptfs; os.pathconf patched to say so), a name of
    150 bytes the system refused was said to be the whole path too long ('though no name in it
    passes 255 bytes'), and a name of 130 bytes, whose hidden temporary name (21 bytes more) the
    system refused, the same: each is said as the name too long, with that disk's limit, not
    '255 bytes on most disks'; the limit is that of the nearest folder there that can be looked
    at, under a folder not made yet or one whose own name is too long."""
    real_pathconf = os.pathconf

    def pathconf(path, name):
        value = real_pathconf(path, name)  # a folder not made yet is still not found
        return 143 if name == "PC_NAME_MAX" else value

    monkeypatch.setattr(os, "pathconf", pathconf)
    refused = os.strerror(errno.ENAMETOOLONG)
    names = (tmp_path / ("n" * 150), tmp_path / "new" / ("n" * 146 + ".csv"), tmp_path / ("d" * 300) / "s.csv")
    for path in names:
        said = " ".join(common.too_long_text(OSError(errno.ENAMETOOLONG, refused, str(path))).split())
        assert said == f"{path}: {refused}: a name in this path is longer than the system allows (143 bytes on " \
                       "that disk); give a shorter one.", said
    for folder in (tmp_path, tmp_path / "new"):
        path = folder / ("s" * 126 + ".csv")
        said = " ".join(common.too_long_text(OSError(errno.ENAMETOOLONG, refused, str(path))).split())
        assert said == f"{path}: {refused}: the hidden temporary name written beside it first (.NAME.unfinished-" \
                       "XXXXXXXX.SUFFIX, 151 bytes) is longer than the system allows a name (143 bytes on that " \
                       "disk); give a shorter name.", said


@pytest.mark.parametrize("pathconf_fails", ["missing", "eio"])
def test_a_name_limit_the_system_did_not_say_is_said_as_most_disks(tmp_path, monkeypatch, pathconf_fails):
    """Where the system gives no name limit (no os.pathconf, as on Windows, or an error other than
    not found / too long, here EIO), the 255 bytes of most disks that tinylens holds names against
    was said as '255 bytes on that disk', a limit it never learnt of that disk; it is said as
    '255 bytes on most disks'. A limit the system gave is still said as that disk's."""
    if pathconf_fails == "missing":
        monkeypatch.delattr(os, "pathconf", raising=False)
    else:
        def pathconf(path, name):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

        monkeypatch.setattr(os, "pathconf", pathconf)
    refused = os.strerror(errno.ENAMETOOLONG)
    path = tmp_path / ("n" * 300)
    said = " ".join(common.too_long_text(OSError(errno.ENAMETOOLONG, refused, str(path))).split())
    assert said == f"{path}: {refused}: a name in this path is longer than the system allows (255 bytes on most " \
                   "disks); give a shorter one.", said
    path = tmp_path / ("s" * 240 + ".csv")  # fits 255 bytes; its hidden temporary (265 bytes) does not
    said = " ".join(common.too_long_text(OSError(errno.ENAMETOOLONG, refused, str(path))).split())
    assert said.endswith("is longer than the system allows a name (255 bytes on most disks); give a shorter "
                         "name."), said
    monkeypatch.undo()
    said = " ".join(common.too_long_text(OSError(errno.ENAMETOOLONG, refused, str(tmp_path / ("n" * 300)))).split())
    assert said.endswith(f"({os.pathconf(tmp_path, 'PC_NAME_MAX')} bytes on that disk); give a shorter one."), said


def test_a_full_disk_while_a_report_is_written_names_the_file(tmp_path, full_disk):
    """A write that finds the disk full names no file (the system says none): 'tinylens report'
    said 'A file cannot be written'; it now names the report's file it was writing."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    full_disk("write_text", ".report_stats.unfinished-")
    run = CliRunner().invoke(app, _report_inputs(tmp_path))
    said = " ".join(run.output.split())
    assert run.exit_code == 2, repr(run.exception)
    assert f"Error: {tmp_path / 'rep' / 'report_stats.json'} cannot be written (No space left on device" in said, said
    assert not (tmp_path / "rep" / "report_stats.json").exists()


def test_a_path_this_user_may_not_write_is_said_with_what_to_do(tmp_path, monkeypatch):
    """A PermissionError that reached the command line (a folder of another user's, a file made
    read-only) was said as 'Error: PATH: Permission denied.' and no more; it now says that this
    user may not open or change the path, to check its and its folder's permissions (the ls
    command to do it) and, for a command that writes, to choose another output folder, by the
    argument that command takes. Exit 2, no traceback. The refusal is a patched rename of the
    report's report_stats.json into place (what every report file goes through), as the tests may
    run as root, whom permissions do not stop."""
    import shlex

    from typer.testing import CliRunner

    from tinylens.cli.common import EXIT_USER_ERROR
    from tinylens.cli.main import app

    _rename_fails(monkeypatch, "report_stats.json", PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    run = CliRunner().invoke(app, _report_inputs(tmp_path))
    said = " ".join(run.output.split())
    assert run.exit_code == EXIT_USER_ERROR and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in said, said
    refused_path = said.removeprefix("Error: ").partition(f": {os.strerror(errno.EACCES)}: ")[0]
    assert refused_path.startswith(str(tmp_path / "rep")), said
    ls = shlex.join(["ls", "-ld", refused_path, os.path.dirname(refused_path)])
    assert said == (f"Error: {refused_path}: {os.strerror(errno.EACCES)}: this user may not open or change it. Check "
                    f"the permissions of it and of its folder ({ls}), or ask their owner to change them; where it is "
                    "an output, choose another --out, a folder of your own."), said
    from tinylens.cli.common import permission_text

    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/lens 1/out")
    assert permission_text(denied, "simulate-population").endswith("choose another OUTDIR, a folder of your own.")
    assert permission_text(denied, "validate").endswith(
        "(ls -ld '/data/lens 1/out' '/data/lens 1'), or ask their owner to change them.")
    assert permission_text(PermissionError(errno.EPERM, "Operation not permitted"), "fit").startswith(
        "Operation not permitted: this user may not open or change a file or folder the command needs.")


@pytest.mark.parametrize("command", ["fit", "report"])
def test_a_command_that_runs_out_of_memory_says_what_to_do_without_a_traceback(tmp_path, monkeypatch, command):
    """A MemoryError anywhere in a command (the fit's sampler, the report's figure) ended in
    Python's traceback; it is one paragraph saying that tinylens ran out of memory and what to do,
    for a fit with the config keys that hold its memory, exit code 1."""
    from matplotlib.figure import Figure
    from typer.testing import CliRunner

    from tinylens.cli import fit as fit_cli
    from tinylens.cli.main import app

    def short(*args, **kwargs):
        raise MemoryError()  # as Python's own, often without a message

    if command == "fit":
        monkeypatch.setattr(fit_cli, "run_fit", short)
        args = ["fit", str(tmp_path / "model_config.yaml")]
    else:
        monkeypatch.setattr(Figure, "savefig", short)
        args = _report_inputs(tmp_path)
    run = CliRunner().invoke(app, args)
    said = " ".join(run.output.split())
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in said and said.startswith("Error: tinylens ran out of memory (MemoryError). "), said
    assert "on a machine with more" in said and said.endswith("then run the same command again."), said
    assert ("inference.settings.n_batch" in said and "pipeline.threads" in said) == (command == "fit"), said


@pytest.mark.parametrize("command", ["fit", "survey"])
def test_running_out_of_memory_names_a_sampling_section_s_keys_as_written(tmp_path, monkeypatch, command):
    """A fit (or survey) whose config writes TinyLensGpu's older ``sampling:`` section and that ran
    out of memory was told to set 'a smaller inference.settings.n_batch', a key the file does not
    hold; it is told sampling.n_batch, as the file writes it; a config with inference, or one
    that cannot be read, is still told inference.settings.n_batch."""
    import yaml
    from typer.testing import CliRunner

    import tinylens.survey.runner
    from tinylens.cli import fit as fit_cli
    from tinylens.cli.main import app

    def short(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(fit_cli, "run_fit", short)
    monkeypatch.setattr(tinylens.survey.runner, "run_survey", short)
    said = {}
    for name, text in [("sampling", "sampling:\n  sampler: nautilus\n  n_batch: 512\n"),
                       ("inference", "inference:\n  type: sampler\n  settings: {n_batch: 512}\n"),
                       ("unreadable", "sampling: [\n")]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        args = ["fit", str(path)] if command == "fit" else ["survey", str(tmp_path), "-c", str(path), "--out",
                                                            str(tmp_path / "out"), "-q"]
        run = CliRunner().invoke(app, args)
        said[name] = " ".join(run.output.split())
        assert run.exit_code == 1 and "Traceback" not in said[name], said[name]
        assert said[name].startswith("Error: tinylens ran out of memory (MemoryError). "), said[name]
    assert "n_batch" in yaml.safe_load((tmp_path / "sampling.yaml").read_text())["sampling"]  # the key written
    assert "a smaller sampling.n_batch or n_live" in said["sampling"], said["sampling"]
    assert "inference" not in said["sampling"], said["sampling"]
    assert "a smaller inference.settings.n_batch or n_live" in said["inference"], said["inference"]
    assert "a smaller inference.settings.n_batch or n_live" in said["unreadable"], said["unreadable"]


@pytest.mark.parametrize("edited", ["sampling:\n  n_batch: !!bool x\n", "sampling:\n  n_batch: !!timestamp 3\n",
                                    "sampling:\n  n_batch: 512\nsampling:\n  n_batch: 256\n"])
def test_running_out_of_memory_after_the_config_was_edited_into_no_config_says_so_without_a_traceback(
        tmp_path, monkeypatch, edited):
    """A fit whose config file was edited while it ran, into YAML that no config is read from (a
    value its tag cannot be built from, a key given twice), and that then ran out of memory ended
    in Python's traceback (AttributeError or KeyError from inside PyYAML, read again with its plain
    safe_load to name the sampler's keys), or named sampling.n_batch of a file the fit refuses; the
    file is read again as a config is, and, as one that cannot be read, the keys are said as of
    inference (exit 1)."""
    from typer.testing import CliRunner

    from tinylens.cli import fit as fit_cli
    from tinylens.cli.main import app
    from tinylens.config.loader import load_config
    from tinylens.errors import ConfigError

    path = tmp_path / "model_config.yaml"
    path.write_text("sampling:\n  sampler: nautilus\n  n_batch: 512\n")

    def edited_then_short(*args, **kwargs):
        path.write_text(edited)  # the user's edit for the next run, while this one runs
        raise MemoryError()

    monkeypatch.setattr(fit_cli, "run_fit", edited_then_short)
    run = CliRunner().invoke(app, ["fit", str(path)])
    said = " ".join(run.output.split())
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in said and said.startswith("Error: tinylens ran out of memory (MemoryError). "), said
    with pytest.raises(ConfigError):  # no config: read as such, the file names no key of its own
        load_config(path)
    assert "a smaller inference.settings.n_batch or n_live" in said and "sampling.n_batch" not in said, said


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_running_out_of_memory_with_a_config_read_from_a_named_pipe_says_so_and_exits(tmp_path, monkeypatch):
    """A fit whose CONFIG is a named pipe (mkfifo; its writer gone once the fit read it) and that
    ran out of memory hung for ever: the message opened the pipe again to name the sampler's keys
    as the file writes them, and opening a pipe without a writer waits for one. It says the
    message (the keys as of inference, the file no longer readable) and exits 1."""
    import threading

    from typer.testing import CliRunner

    from tinylens.cli import fit as fit_cli
    from tinylens.cli.main import app
    from tinylens.config.loader import read_text

    pipe = tmp_path / "model_config.yaml"
    os.mkfifo(pipe)
    read = {}

    def short(config, *args, **kwargs):
        read["text"] = read_text(config)  # as the fit reads its config: once
        raise MemoryError()

    def writer():
        with open(pipe, "w") as stream:  # waits for the fit to open it, writes, and is gone
            stream.write("sampling:\n  sampler: nautilus\n  n_batch: 512\n")

    monkeypatch.setattr(fit_cli, "run_fit", short)
    threading.Thread(target=writer, daemon=True).start()
    ran = {}
    command = threading.Thread(target=lambda: ran.update(run=CliRunner().invoke(app, ["fit", str(pipe)])), daemon=True)
    command.start()
    command.join(120)  # a hang, not a slow machine: it ends in well under a second
    if command.is_alive():  # give the waiting open its writer, so that the test run goes on
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        command.join(30)
        pytest.fail("the out-of-memory message waited for a writer of the config's named pipe")
    assert read["text"].startswith("sampling:"), read  # the fit did read the config from the pipe
    said = " ".join(ran["run"].output.split())
    assert ran["run"].exit_code == 1 and "Traceback" not in said, said
    assert said.startswith("Error: tinylens ran out of memory (MemoryError). "), said
    assert "a smaller inference.settings.n_batch or n_live" in said, said


@pytest.mark.parametrize("text, said_as_memory", [
    ("RESOURCE_EXHAUSTED: Out of memory allocating 1099511627776 bytes.\nallocator state ...", True),
    ("INTERNAL: something else broke in XLA", False),
])
def test_jaxs_out_of_memory_error_is_said_as_running_out_of_memory(tmp_path, monkeypatch, text, said_as_memory):
    """JAX says an array that does not fit in memory (on a CPU as on a GPU: jnp.ones((2**38,))
    under ``ulimit -v 16000000`` gave the first text) with its own JaxRuntimeError, not Python's
    MemoryError, so a fit out of memory ended in a traceback; it is said as running out of memory,
    its first line only, exit 1. Another JAX runtime error is a bug and keeps its traceback."""
    from jax.errors import JaxRuntimeError
    from typer.testing import CliRunner

    from tinylens.cli import fit as fit_cli
    from tinylens.cli.main import app

    def short(*args, **kwargs):
        raise JaxRuntimeError(text)

    monkeypatch.setattr(fit_cli, "run_fit", short)
    run = CliRunner().invoke(app, ["fit", str(tmp_path / "model_config.yaml")])
    said = " ".join(run.output.split())
    if said_as_memory:
        assert run.exit_code == 1 and isinstance(run.exception, SystemExit), repr(run.exception)
        assert said.startswith("Error: tinylens ran out of memory (JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory "
                               "allocating 1099511627776 bytes.). "), said
        assert "allocator state" not in said and "dataset.supersampling.levels" in said, said
    else:
        assert isinstance(run.exception, JaxRuntimeError), repr(run.exception)


def test_a_name_limit_the_system_gave_as_none_is_never_said_as_none_bytes(monkeypatch):
    """too_long_text chose its limit's words itself, apart from paths.limit_text, and said 'None
    bytes on that disk' where the system said its disk has no name limit (PC_NAME_MAX -1) and the
    error's path had no name to hold against it; it now says most disks' limit then, as the fit's
    checks do (paths.limit_text)."""
    from tinylens.paths import NAME_MAX

    monkeypatch.setattr(common, "name_max_said", lambda folder: (None, True))
    text = common.too_long_text(OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), ""))
    assert "None" not in text
    assert f"({NAME_MAX} bytes on most disks)" in text


@pytest.mark.parametrize("code", [errno.EIO, errno.EFBIG, errno.ESTALE, errno.ENOLCK])
@pytest.mark.parametrize("command", ["report", "simulate-population"])
def test_a_failing_disk_under_a_commands_outputs_is_said_naming_the_file_without_a_traceback(tmp_path, monkeypatch,
                                                                                            command, code):
    """A disk failing as a result was flushed to it (os.fsync's EIO; EFBIG, NFS's ESTALE or ENOLCK)
    ended 'tinylens report' and 'simulate-population' in OSError's traceback, exit code 1; it is
    one paragraph naming the file, the system's reason, that the earlier file is kept, what to
    check (dmesg) and to run the command again, exit 2, as a full disk is; the earlier report is
    kept byte for byte."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    if command == "report":
        args = _report_inputs(tmp_path)
        assert CliRunner().invoke(app, args).exit_code == 0
        folder, target = tmp_path / "rep", tmp_path / "rep" / "report_stats.csv"
    else:
        folder = tmp_path / "pop"
        args, target = ["simulate-population", "2", str(folder)], None
    before = {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}

    def failed(fd):
        raise OSError(code, os.strerror(code))  # the system's, naming no file

    monkeypatch.setattr(os, "fsync", failed)
    run = CliRunner().invoke(app, args)
    monkeypatch.undo()
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in run.output and "Error: " in said, said
    said = said[said.index("Error: "):]  # after the population's warnings, if any
    named = said.removeprefix("Error: ").split(" cannot be written (")[0]
    assert os.path.dirname(named) == str(folder) or os.path.dirname(os.path.dirname(named)) == str(folder), said
    assert target is None or named == str(target), said
    assert f"cannot be written ({os.strerror(code)}: " in said and "no result is left half-written" in said, said
    assert f"the earlier {os.path.basename(named)}, if there was one, is kept" in said, said
    assert "dmesg" in said and "run the same command again" in said, said
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}
    assert after == before  # byte-identical, no temporary (a population's new folder is not left)


def test_a_failing_disk_s_error_tinylens_raised_reading_keeps_its_traceback(tmp_path, monkeypatch):
    """Only an output's write is said as the disk's: an EIO that no writer of tinylens raised (a
    read of the catalogue, or a bug in what tinylens asked of the system) still reaches Python's
    handler, exit code 1, though it names a file."""
    from typer.testing import CliRunner

    from tinylens.cli import report
    from tinylens.cli.main import app

    def failed(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(tmp_path / "catalog.csv"))

    args = _report_inputs(tmp_path)
    monkeypatch.setattr(report, "build_report", failed)
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 1 and isinstance(run.exception, OSError) and run.exception.errno == errno.EIO


def test_a_failing_disk_under_a_reports_folder_flush_says_the_new_files_are_in_place(tmp_path, monkeypatch, fail_folder_flushes):
    """An EIO of flushing the report's folder after its files were renamed into it was said as
    'the earlier report_stats.csv, if there was one, is kept', though the new files had replaced the
    earlier ones; it now says the new file is whole and in place and that a crash may yet lose the
    rename, exit 2, no traceback, and the folder holds the new report whole, no temporary left."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    args = _report_inputs(tmp_path)
    folder = tmp_path / "rep"
    assert CliRunner().invoke(app, args).exit_code == 0
    (folder / "report_stats.csv").write_text("an earlier report\n")
    fail_folder_flushes()
    run = CliRunner().invoke(app, args)
    monkeypatch.undo()
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in run.output, said
    assert (folder / "report_stats.csv").read_text() != "an earlier report\n"  # the new one is in place
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert "if there was one, is kept" not in said, said
    assert "is whole and in place" in said and "crash" in said and "run the same command again" in said, said


def test_no_flag_shows_a_value_in_help_and_each_option_that_takes_one_names_it():
    """typer 0.29 writes each option's type after it in ``--help``: ``--retry-failed <bool>``, even
    ``--help -h <bool>``, read as if the flag took a value, and ``--workers <int>``, ``--set
    <list[str]>`` for the others. Every flag of every command (and of ``tinylens`` itself) now shows
    no value, and every option that takes one its own metavar (N, FOLDER, ARCSEC, KEY=VALUE...)."""
    import re

    import typer
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    group = typer.main.get_command(app)
    type_label = re.compile(r"<[A-Za-z][\w\[\], |]*>|\b(?:BOOLEAN|INTEGER|FLOAT|TEXT)\b")  # typer 0.29's, older click's
    for command in ([], *([name] for name in group.commands)):
        target = group if not command else group.commands[command[0]]
        result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, (command, result.output)
        assert "<bool>" not in result.output, command
        panel = result.output.split("Options")[1].split("╰")[0]
        assert not type_label.findall(panel), (command, type_label.findall(panel))
        rows = {line.strip("│ *").split()[0].split(",")[0]: line.strip("│ *") for line in panel.splitlines()
                if line.strip("│ *").startswith("--")}
        ctx = target.make_context("tinylens", ["--help"], resilient_parsing=True, **group.context_settings)
        for param in [*target.get_params(ctx)]:
            if param.param_type_name != "option" or param.hidden:
                continue
            long = next(name for name in param.opts if name.startswith("--"))
            row = rows[long]
            words = row.split()
            while words and set(words[0].split(",")) <= {*param.opts, *param.secondary_opts}:
                words.pop(0)
            after = " ".join(words)  # what follows the option's names
            if getattr(param, "is_flag", False):  # straight on with its help: no value between
                assert param.help and after.startswith(param.help.split()[0]), (command, long, row)
            else:
                assert param.metavar and after.startswith(param.metavar), (command, long, row)
    survey = CliRunner().invoke(app, ["survey", "--help"], env={"COLUMNS": "250"}).output
    assert re.search(r"--workers\s+-w\s+N\s+Local worker processes", survey)
    assert re.search(r"--retry-failed\s+Fit again the lenses", survey)
