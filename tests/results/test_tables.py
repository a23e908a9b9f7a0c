"""Output folders and atomic writes (tinylens.results.tables)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tinylens.errors import OutputError
from tinylens.results import tables
from tinylens.results.tables import ensure_writable, missing_folders, remove_made_folders, remove_unfinished


def test_ensure_writable_creates_nested_folders(tmp_path):
    assert ensure_writable(tmp_path / "a" / "b").is_dir()


def test_the_folders_made_for_an_output_are_removed_but_not_what_others_put_beside_them(tmp_path):
    made = missing_folders(tmp_path / "a" / "b" / "out")
    assert made == [tmp_path / "a" / "b" / "out", tmp_path / "a" / "b", tmp_path / "a"]
    ensure_writable(made[0])
    (made[0] / "lens.fits").write_text("ours")
    (tmp_path / "a" / "theirs.txt").write_text("another process's")
    remove_made_folders(made)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["a", "a/theirs.txt"]
    assert missing_folders(tmp_path) == []
    assert missing_folders(tmp_path / "typo" / ".." / "a") == []  # a, which is there, once typo is made
    assert missing_folders(tmp_path / "typo" / ".." / "new") == [tmp_path / "new"]


def test_an_output_folder_refused_leaves_none_of_the_folders_made_for_it(tmp_path):
    """A new folder below new folders whose own name is too long for the system (255 bytes on most
    disks): the system finds no folder on the way until they are made, so only the making fails;
    the refusal left the folders made on the way behind, empty. Another's file beside them stays."""
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "theirs.txt").write_text("another process's")
    for target in (tmp_path / "new" / "deeper" / ("o" * 300), tmp_path / "kept" / "new" / ("o" * 300),
                   tmp_path / ("o" * 300)):  # (in a folder that is there: a bare OSError from Path.exists on 3.11)
        with pytest.raises(OutputError, match="cannot be written"):
            ensure_writable(target)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["kept", "kept/theirs.txt"]


@pytest.mark.parametrize("below", ["", "sub/deeper"])
def test_a_file_in_the_way_is_named(tmp_path, below):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / below if below else tmp_path / "afile"
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'afile'} is a file, not a folder). Choose another --out.")):
        ensure_writable(target, "another --out")


def test_remove_unfinished_deletes_what_a_killed_write_left_and_nothing_else(tmp_path):
    """A process SIGKILLed inside ``atomic_path`` leaves its temporary file (no ``finally`` runs)."""
    killed = (
        "import os, signal, sys\n"
        "from tinylens.results.tables import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    (tmp_path / "result.json").write_text("{}")  # the last finished result
    for name in ("result.json", "result_summary.csv"):
        assert subprocess.run([sys.executable, "-c", killed, str(tmp_path / name)]).returncode != 0
    left = sorted(p.name for p in tmp_path.glob(".*"))
    assert len(left) == 2 and left[0].startswith(".result.unfinished-") and left[1].startswith(".result_summary.")
    users = [".result-notes.txt", ".result-my-notes.json", ".result-mynotes1.json",
             ".result.unfinished-notes.json", ".result_summary-v1-final.csv"]  # a user's own hidden files
    for name in users:
        (tmp_path / name).write_text("mine")

    remove_unfinished(tmp_path / "result.json")
    assert sorted(p.name for p in tmp_path.glob(".*")) == sorted([*users, left[1]])
    assert (tmp_path / "result.json").read_text() == "{}"


def test_remove_all_unfinished_leaves_a_folder_that_cannot_be_listed_as_it_is(tmp_path, monkeypatch):
    """A fit's output folder that can be written but not listed (chmod 733, a shared drop folder)
    made 984ef84's remove_all_unfinished raise os.scandir's PermissionError, which stopped every
    fit there at its start, where remove_unfinished's glob had found nothing; such a folder now
    has nothing removed, and a folder that can be listed has its temporaries removed as before."""
    import errno
    import os

    (tmp_path / ".result.unfinished-k1ll3d00.json").write_text("half")
    (tmp_path / "image.fits").write_text("data")
    listable = os.scandir

    def scandir(path):  # root (the test's user) lists any folder: refuse this one as chmod 733 would
        if os.fspath(path) == os.fspath(tmp_path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return listable(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert tables.remove_all_unfinished(tmp_path) == []
    monkeypatch.setattr(os, "scandir", listable)
    assert tables.remove_all_unfinished(tmp_path) == [tmp_path / ".result.unfinished-k1ll3d00.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["image.fits"]


@pytest.mark.parametrize("name, magic", [("summary.parquet", b"PAR1"), ("summary.PQ", b"PAR1"),
                                         ("summary.csv", b"parameter,"), ("summary.txt", b"parameter,")])
def test_a_table_is_written_in_the_format_its_name_says(tmp_path, name, magic):
    """output.tables.summary: result_summary.parquet gave CSV text under a .parquet name, which
    pandas.read_parquet and astropy refuse; a name ending in .parquet (or .pq) is now written as
    Parquet, any other as CSV, and either reads back as the frame that was written."""
    import numpy as np
    import pandas as pd

    from tinylens.results.tables import summarize, summary_frame, write_table

    rng = np.random.default_rng(1)
    frame = summary_frame(summarize({"lens_mass.0.theta_E": rng.normal(1.2, 0.01, 500)}), {}, -12.5)
    path = write_table(tmp_path / name, frame)
    assert path.read_bytes()[:len(magic)] == magic
    back = pd.read_parquet(path) if magic == b"PAR1" else pd.read_csv(path)
    pd.testing.assert_frame_equal(back, frame, rtol=1e-7)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it


def test_a_write_that_cannot_be_made_names_the_file_asked_for_not_a_temporary_one(tmp_path):
    """plots.save_model_figure(problem, best, "figs/model.png") with no folder figs, or a table
    written over a folder, failed naming a hidden temporary file ('figs/.model.unfinished-1tnw2smz.png',
    '... -> figs'): the error is of the same type and names the path given, as open() would."""
    from tinylens.results.tables import write_atomic

    missing = tmp_path / "figs" / "model.png"
    with pytest.raises(FileNotFoundError) as err:
        write_atomic(missing, lambda tmp: tmp.write_text("x"))
    assert err.value.filename == str(missing) and str(err.value).endswith(f": '{missing}'")
    (tmp_path / "table.csv").mkdir()
    with pytest.raises(IsADirectoryError) as err:
        write_atomic(tmp_path / "table.csv", lambda tmp: tmp.write_text("x"))
    assert err.value.filename == str(tmp_path / "table.csv") and "unfinished" not in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary file left beside it


def test_a_table_named_json_is_json_that_pandas_and_astropy_read_back_exactly(tmp_path):
    """output.tables.summary: result_summary.json was CSV text under a .json name, which
    pandas.read_json and astropy refuse; it is now a JSON list of rows, read back with every
    float in full precision and the missing percentiles of log_evidence as NaN."""
    import io

    import numpy as np
    import pandas as pd
    from astropy.table import Table

    from tinylens.results.tables import summarize, summary_frame, write_table

    rng = np.random.default_rng(1)
    frame = summary_frame(summarize({"lens_mass.0.theta_E": rng.normal(1.2, 0.01, 500)}), {}, -12.345678901234567)
    path = write_table(tmp_path / "summary.json", frame)
    back = pd.read_json(io.StringIO(path.read_text()), precise_float=True)  # pandas parses loosely by default
    pd.testing.assert_frame_equal(back, frame, rtol=0, atol=0)
    assert np.isnan(back["percentile_16"].iloc[-1])
    table = Table.read(path, format="pandas.json", precise_float=True).to_pandas()
    pd.testing.assert_frame_equal(table, frame, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


@pytest.mark.parametrize("name", ["summary.csv", "summary.parquet", "summary.json"])
def test_every_table_format_keeps_the_floats_of_result_json(tmp_path, name):
    """result_summary.csv held 8 significant digits (theta_E 1.0007441 where result.json and the
    Parquet copy say 1.0007440931132088), so the CSV disagreed with both; every format now reads
    back the very floats written, and a missing value as NaN."""
    import io

    import numpy as np
    import pandas as pd
    from astropy.table import Table

    from tinylens.results.tables import summarize, summary_frame, write_table

    rng = np.random.default_rng(2)
    frame = summary_frame(summarize({"lens_mass.0.theta_E": rng.normal(1.2, 0.01, 500)}), {}, 1589.839140351386)
    path = write_table(tmp_path / name, frame)
    if name.endswith(".json"):
        back = pd.read_json(io.StringIO(path.read_text()), precise_float=True)
        astro = Table.read(path, format="pandas.json", precise_float=True).to_pandas()
    else:
        back = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
        astro = Table.read(path).to_pandas()
    for read in (back, astro):
        pd.testing.assert_frame_equal(read, frame, rtol=0, atol=0)
        assert np.isnan(read["percentile_84"].iloc[-1]) and read["median"].iloc[-1] == 1589.839140351386


def test_a_json_table_of_whole_floats_reads_back_as_floats_as_the_docs_read_it(tmp_path):
    """An optimiser's samples table holds one point of weight 1.0: pandas.read_json, as docs/config.md
    read it, gave the weight column as int64; read as the docs now say (dtype=False), pandas and
    astropy give the floats written, in their type."""
    import numpy as np
    import pandas as pd
    from astropy.table import Table

    from tinylens.results.tables import samples_frame, write_table

    frame = samples_frame(["lens_mass.0.theta_E", "lens_mass.0.e1"], np.array([[1.0, 0.0]]), np.ones(1), np.array([-2.0]))
    path = write_table(tmp_path / "result_samples.json", frame)
    assert '"weight": 1.0' in path.read_text()
    pd.testing.assert_frame_equal(pd.read_json(path, precise_float=True, dtype=False), frame, rtol=0, atol=0)
    astro = Table.read(path, format="pandas.json", precise_float=True, dtype=False).to_pandas()
    pd.testing.assert_frame_equal(astro, frame, rtol=0, atol=0)


def test_a_write_that_finds_the_disk_full_names_the_file_being_written(tmp_path):
    """A write or close that finds the disk full raises an OSError naming no file (the system
    says none), so a full disk while writing result.json or a report's table was said as 'A file
    cannot be written'; the error now names the file written, not its hidden temporary, also
    through a temporary of atomic_path (a report's files), and the earlier file stays whole.
    Errors naming another file, and OSErrors without a number (h5py's), are raised as they were."""
    import errno
    import os

    from tinylens.results.tables import atomic_path, write_atomic

    target = tmp_path / "result.json"
    target.write_text("earlier")

    def full(tmp):
        with open(tmp, "w") as handle:
            handle.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a real write's: no filename

    with pytest.raises(OSError) as caught:
        write_atomic(target, full)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    with pytest.raises(OSError) as caught, atomic_path(target) as outer:
        write_atomic(outer, full)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert target.read_text() == "earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]

    other = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "elsewhere"))
    h5 = OSError("Unable to synchronously create file")
    for error in (other, h5):
        def raising(tmp, error=error):
            raise error

        with pytest.raises(OSError) as caught:
            write_atomic(target, raising)
        assert caught.value is error


def _old_a_and_b(folder, monkeypatch, links: bool) -> None:
    """Write an earlier a.csv ("old a") and b.json ("old b") in folder; where links is False,
    patch os.link to refuse, as a disk without hard links does."""
    import errno
    import os

    (folder / "a.csv").write_text("old a")
    (folder / "b.json").write_text("old b")
    if not links:
        def no_link(*args, **kwargs):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

        monkeypatch.setattr(os, "link", no_link)


def _rename_failing_once(monkeypatch, name: str) -> list:
    """Patch os.replace to fail the first rename into a file named ``name`` (EDQUOT: a folder's
    quota reached) and pass every other rename on; the list returned gets that rename's source."""
    import errno
    import os

    replace, failed = os.replace, []

    def failing_once_into(src, dst, *args, **kwargs):
        if os.path.basename(dst) == name and not failed:
            failed.append(src)
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), src, None, dst)
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_once_into)
    return failed


@pytest.mark.parametrize("links", [True, False])
def test_files_written_together_are_all_left_as_they_were_when_a_rename_fails(tmp_path, monkeypatch, links):
    """write_together renamed its files into place one after another, so a rename that failed on
    the second file (a folder's quota, a network disk gone) left the first new and the second old,
    half of one run and half of another; the files replaced already are now put back, each as it
    was (a file that was not there deleted), the error names the file, and no temporary or kept
    copy is left; also on a disk without hard links (``links`` False), where a file is moved aside."""
    import errno

    from tinylens.results.tables import write_together

    _old_a_and_b(tmp_path, monkeypatch, links)
    failed = _rename_failing_once(monkeypatch, "b.json")
    writers = {tmp_path / "new.txt": lambda tmp: tmp.write_text("new"), tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"),
               tmp_path / "b.json": lambda tmp: tmp.write_text("new b"), tmp_path / "c.txt": lambda tmp: tmp.write_text("new c")}
    with pytest.raises(OSError) as raised:
        write_together(writers)
    assert failed and raised.value.errno == errno.EDQUOT and raised.value.filename == str(tmp_path / "b.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json"]
    assert (tmp_path / "a.csv").read_text() == "old a" and (tmp_path / "b.json").read_text() == "old b"

    write_together(writers)  # and when every rename succeeds, every file is new, nothing else left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json", "c.txt", "new.txt"]
    assert [(tmp_path / name).read_text() for name in ("new.txt", "a.csv", "b.json", "c.txt")] == ["new", "new a", "new b", "new c"]


@pytest.mark.parametrize("links", [True, False])
def test_a_file_that_cannot_be_put_back_keeps_its_earlier_version_where_no_cleanup_deletes_it(tmp_path, monkeypatch, links):
    """Where putting back a file already replaced failed too, its earlier version was left under
    its hidden .unfinished- name, which the next remove_unfinished (any later write of that file)
    deleted: a finished result lost. It is now kept under a .kept- name that no cleanup deletes,
    and the error, an OutputError, says where; on a disk without hard links (``links`` False) the
    file whose rename failed, moved aside and not put back, is kept so too."""
    import errno
    import os

    from tinylens.atomic import remove_all_unfinished, write_together

    _old_a_and_b(tmp_path, monkeypatch, links)
    replace, failed = os.replace, []

    def failing_from_b_on(src, dst, *args, **kwargs):  # the rename into b.json, then every put-back
        if os.path.basename(dst) == "b.json" and not failed or failed and not os.path.basename(dst).startswith("."):
            failed.append(dst)
            raise OSError(errno.EIO, os.strerror(errno.EIO), src, None, dst)
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_from_b_on)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.raises(OutputError) as raised:
        write_together(writers)
    monkeypatch.setattr(os, "replace", replace)
    assert len(failed) >= 2 and isinstance(raised.value.__cause__, OSError)
    remove_all_unfinished(tmp_path)
    tables.remove_unfinished(tmp_path / "a.csv", tmp_path / "b.json")
    stranded = {"a": "old a"} if links else {"a": "old a", "b": "old b"}
    for stem, earlier in stranded.items():
        (kept,) = tmp_path.glob(f".{stem}.kept-*")
        assert kept.read_text() == earlier and str(kept) in str(raised.value)
    assert (tmp_path / "a.csv").read_text() == "new a"
    assert (tmp_path / "b.json").read_text() == "old b" if links else not (tmp_path / "b.json").exists()
    assert len(list(tmp_path.iterdir())) == 2 + len(stranded) - (not links)


def test_a_write_killed_on_a_disk_without_hard_links_leaves_no_earlier_file_for_cleanup_to_delete(tmp_path):
    """Where no hard link can be made, replace_together moves each file aside just before it
    renames the new one into place; the file moved aside had a hidden .unfinished- name, so a
    process killed in between (SIGKILL: no rollback runs) left the only copy of the finished file
    there, and the next remove_unfinished (any later write of that file) deleted it. It is now
    moved aside under a .kept- name, which no cleanup deletes."""
    killed = (
        "import errno, os, signal, sys\n"
        "from pathlib import Path\n"
        "from tinylens.atomic import write_together\n"
        "def no_link(*args, **kwargs):\n"
        "    raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))\n"
        "os.link, replace = no_link, os.replace\n"
        "def killed_at_b(src, dst, *args, **kwargs):\n"
        "    if os.path.basename(dst) == 'b.json':  # b.json moved aside, the new one not renamed in yet\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return replace(src, dst, *args, **kwargs)\n"
        "os.replace = killed_at_b\n"
        "folder = Path(sys.argv[1])\n"
        "write_together({folder / 'a.csv': lambda tmp: tmp.write_text('new a'),\n"
        "                folder / 'b.json': lambda tmp: tmp.write_text('new b')})\n"
    )
    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.json").write_text("old b")
    assert subprocess.run([sys.executable, "-c", killed, str(tmp_path)]).returncode != 0
    assert not (tmp_path / "b.json").exists() and (tmp_path / "a.csv").read_text() == "new a"

    tables.remove_all_unfinished(tmp_path)
    remove_unfinished(tmp_path / "a.csv", tmp_path / "b.json")
    left = {p.name: p.read_text() for p in tmp_path.iterdir()}
    (kept,) = (name for name, text in left.items() if text == "old b")
    assert re.fullmatch(r"\.b\.kept-[a-z0-9_]{8}\.json", kept), left


def test_a_ctrl_c_the_moment_a_file_is_moved_aside_puts_it_back(tmp_path, monkeypatch):
    """On a disk without hard links, a Ctrl-C (KeyboardInterrupt) that came the moment the rename
    moving a file aside returned had _moved_aside delete the name it had just moved the file to,
    as for a rename that failed: the finished file was gone from both names. It is now put back,
    the files written before it too, and the Ctrl-C stays one."""
    import os

    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links=False)
    replace, stopped = os.replace, []

    def interrupted_moving_b_aside(src, dst, *args, **kwargs):
        replace(src, dst, *args, **kwargs)
        if os.path.basename(src) == "b.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted_moving_b_aside)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.raises(KeyboardInterrupt):
        write_together(writers)
    assert stopped and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json"]
    assert (tmp_path / "a.csv").read_text() == "old a" and (tmp_path / "b.json").read_text() == "old b"


def test_a_file_moved_aside_the_moment_a_ctrl_c_comes_that_cannot_be_put_back_is_said_where_it_is_kept(tmp_path, monkeypatch):
    """On a disk without hard links, a Ctrl-C (KeyboardInterrupt) the moment the rename moving a
    file aside returned had _moved_aside put it back itself, before noting it in kept, so that
    where that failed the earlier file stayed under its .kept- name and nothing said so. The file
    is now noted before it is moved, replace_together puts it back as any other (_put_back_unnoted)
    and warns where it is kept where it cannot, and the Ctrl-C stays one."""
    import os
    from pathlib import Path

    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links=False)
    replace, stopped = os.replace, []

    def interrupted_moving_b_aside_and_not_put_back(src, dst, *args, **kwargs):
        if stopped and os.fspath(src) == os.fspath(stopped[0]):
            raise PermissionError(13, "Permission denied", src, None, dst)
        replace(src, dst, *args, **kwargs)
        if os.path.basename(src) == "b.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted_moving_b_aside_and_not_put_back)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.warns(UserWarning) as warned, pytest.raises(KeyboardInterrupt) as raised:
        write_together(writers)
    monkeypatch.setattr(os, "replace", replace)
    kept = Path(stopped[0])
    assert kept.name.startswith(".b.kept-") and kept.read_text() == "old b" and not (tmp_path / "b.json").exists()
    assert (tmp_path / "a.csv").read_text() == "old a"
    said = [str(w.message) for w in warned if "could not be undone" in str(w.message)]
    assert len(said) == 1 and f"b.json's earlier version is kept at {kept} " in said[0], said
    assert said[0] in getattr(raised.value, "__notes__", [])


def _interrupted_after_moving(name: str, moved_aside, stopped: list):
    """atomic._moved_aside, raising KeyboardInterrupt (once) after it moved the file called ``name``
    aside and noted it, the kept name appended to ``stopped``."""

    def interrupted(path, kept):
        kept_name = moved_aside(path, kept)
        if path.name == name and not stopped:
            stopped.append(kept_name)
            raise KeyboardInterrupt
        return kept_name

    return interrupted


def test_a_ctrl_c_after_a_file_is_moved_aside_but_before_it_is_noted_puts_it_back(tmp_path, monkeypatch):
    """On a disk without hard links, a Ctrl-C (KeyboardInterrupt) that came after _moved_aside's
    rename, as it returned or before replace_together noted the file as one to undo, left nothing
    at its path: the file stayed under its kept name with no word of it, or the cleanup at the end
    deleted that copy, the only one. _moved_aside now notes the file at once, the cleanup puts
    back a kept file whose path holds nothing, and the Ctrl-C stays one."""
    import tinylens.atomic as atomic
    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links=False)
    stopped: list[str] = []
    monkeypatch.setattr(atomic, "_moved_aside", _interrupted_after_moving("b.json", atomic._moved_aside, stopped))
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.raises(KeyboardInterrupt):
        write_together(writers)
    assert stopped
    assert (tmp_path / "a.csv").read_text() == "old a" and (tmp_path / "b.json").read_text() == "old b"


def test_a_file_moved_aside_but_not_noted_that_cannot_be_put_back_is_said_where_it_is_kept(tmp_path, monkeypatch):
    """On a disk without hard links, a Ctrl-C (KeyboardInterrupt) after _moved_aside's rename but
    before replace_together noted the file as one to undo had the cleanup at the end put it back;
    where that rename failed, the earlier file stayed under its .kept- name and nothing said so.
    It is now warned of (and noted on the interrupt) as a file not put back is, naming where it is
    kept, and the Ctrl-C stays one."""
    import os

    import tinylens.atomic as atomic
    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links=False)
    replace, stopped = os.replace, []
    interrupted_after_moving_b = _interrupted_after_moving("b.json", atomic._moved_aside, stopped)

    def b_not_put_back(src, dst, *args, **kwargs):
        if stopped and os.fspath(src) == os.fspath(stopped[0]):
            raise PermissionError(13, "Permission denied", src, None, dst)
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(atomic, "_moved_aside", interrupted_after_moving_b)
    monkeypatch.setattr(os, "replace", b_not_put_back)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.warns(UserWarning) as warned, pytest.raises(KeyboardInterrupt) as raised:
        write_together(writers)
    monkeypatch.setattr(os, "replace", replace)
    kept = stopped[0]
    assert kept.name.startswith(".b.kept-") and kept.read_text() == "old b" and not (tmp_path / "b.json").exists()
    assert (tmp_path / "a.csv").read_text() == "old a"
    said = [str(w.message) for w in warned if "could not be undone" in str(w.message)]
    assert len(said) == 1 and f"b.json's earlier version is kept at {kept} " in said[0], said
    assert said[0] in getattr(raised.value, "__notes__", [])


def test_a_ctrl_c_the_moment_before_a_file_is_moved_aside_says_nothing_is_kept_and_leaves_no_empty_kept_file(tmp_path, monkeypatch):
    """On a disk without hard links, a Ctrl-C (KeyboardInterrupt) the moment before _moved_aside's
    rename (its .kept- name made, empty, and noted, the file not moved yet): nothing is said to be
    kept (an 'mv' of that empty file would put it over b.json), the empty name is deleted, the
    files are as they were, and the Ctrl-C stays one. (A guard found by s61r3 against a refactor
    that read the files not put back off the disk, 3e7d0e2, since reverted.)"""
    import os
    import warnings

    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links=False)
    replace, stopped = os.replace, []

    def interrupted_before_moving_b_aside(src, dst, *args, **kwargs):
        if os.path.basename(src) == "b.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", interrupted_before_moving_b_aside)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with warnings.catch_warnings(record=True) as warned, pytest.raises(KeyboardInterrupt) as raised:
        warnings.simplefilter("always")
        write_together(writers)
    assert stopped and [str(w.message) for w in warned] == [] and not getattr(raised.value, "__notes__", [])
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.csv": "old a", "b.json": "old b"}


@pytest.mark.parametrize("failing", ["a.csv", "b.json"])
def test_a_broken_link_left_as_it_was_is_not_said_to_be_kept(tmp_path, monkeypatch, failing):
    """b.json a link to a file that is not there (a broken link, which replace_together keeps by a
    hard link of the link itself): where a rename fails (into a.csv, b.json never replaced, or
    into b.json itself), the rename's own error is raised, the link is left as it was, and no
    earlier version is said to be kept nor any other name left. (A guard against comparing the
    files the links point to, which a reverted refactor, 3e7d0e2, did.)"""
    import errno
    import os

    from tinylens.atomic import write_together

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.json").symlink_to("nowhere.json")
    failed = _rename_failing_once(monkeypatch, failing)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.raises(OSError) as raised:
        write_together(writers)
    assert failed and type(raised.value) is OSError and raised.value.errno == errno.EDQUOT
    assert raised.value.filename == str(tmp_path / failing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.json"]
    assert (tmp_path / "a.csv").read_text() == "old a" and os.readlink(tmp_path / "b.json") == "nowhere.json"


def test_a_file_said_to_be_kept_is_not_put_back_after_the_words_by_the_cleanup(tmp_path, monkeypatch):
    """On a disk without hard links, where the rename into b.json fails and putting back b.json,
    moved aside, fails too, the OutputError says its earlier version is kept at its .kept- name,
    and the cleanup at the end leaves it there even where a put-back would now work: a file said
    to be kept stays where the words say. (A guard against a reverted refactor, 3e7d0e2, whose
    cleanup tried once more.)"""
    import errno
    import os

    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links=False)
    replace, failed = os.replace, []

    def b_failing_once_each_way(src, dst, *args, **kwargs):
        way = "back" if os.path.basename(src).startswith(".b.kept-") else "new"  # put back, or the new b.json
        if os.path.basename(dst) == "b.json" and way not in failed:
            failed.append(way)
            raise OSError(errno.EIO, os.strerror(errno.EIO), src, None, dst)
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", b_failing_once_each_way)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.raises(OutputError) as raised:
        write_together(writers)
    assert failed == ["new", "back"]
    (kept,) = (p for p in tmp_path.iterdir() if p.name.startswith(".b.kept-"))
    assert f"b.json's earlier version is kept at {kept} " in str(raised.value)
    assert kept.read_text() == "old b" and not (tmp_path / "b.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept.name, "a.csv"]) and (tmp_path / "a.csv").read_text() == "old a"


@pytest.mark.parametrize("links", [True, False])
@pytest.mark.parametrize("first", ["error", "ctrl-c"])
def test_a_second_ctrl_c_while_files_are_put_back_does_not_stop_the_putting_back(tmp_path, monkeypatch, links, first):
    """A Ctrl-C (KeyboardInterrupt) while replace_together put back the files it had replaced
    (after a rename failed, or a first Ctrl-C) stopped the putting back part-way: the files not
    put back yet were left new beside others old, and their earlier versions were deleted. Each
    file is now put back whatever comes meanwhile, and the Ctrl-C raised after (the user asked to
    stop: an error being undone ends as the interrupt, from that error)."""
    import errno
    import os

    from tinylens.atomic import write_together

    _old_a_and_b(tmp_path, monkeypatch, links)
    (tmp_path / "c.txt").write_text("old c")
    replace, stops = os.replace, []

    def stopped_at_c_then_putting_back_b(src, dst, *args, **kwargs):
        name, text = os.path.basename(dst), open(src).read()
        if name == "c.txt" and text == "new c" and not stops:  # the new c.txt's rename into place
            stops.append(name)
            if first == "error":
                raise OSError(errno.EIO, os.strerror(errno.EIO), src, None, dst)
            raise KeyboardInterrupt
        if name == "b.json" and text == "old b" and stops == ["c.txt"]:  # the second Ctrl-C, as b.json is put back
            stops.append(name)
            raise KeyboardInterrupt
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", stopped_at_c_then_putting_back_b)
    writers = {tmp_path / name: lambda tmp, name=name: tmp.write_text(f"new {name[0]}") for name in ("a.csv", "b.json", "c.txt")}
    with pytest.raises(KeyboardInterrupt) as raised:
        write_together(writers)
    assert stops == ["c.txt", "b.json"]
    assert isinstance(raised.value.__cause__, OSError) if first == "error" else raised.value.__cause__ is None
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.csv": "old a", "b.json": "old b", "c.txt": "old c"}


def test_a_ctrl_c_that_leaves_a_file_not_put_back_stays_an_interrupt_and_says_where_it_is(tmp_path, monkeypatch):
    """A Ctrl-C (KeyboardInterrupt) while files written together were renamed, where a file
    already replaced could not be put back, came out as an OutputError: the command line said
    'Error:' with exit 2, not 'Interrupted.' with 130, and a script's ``except Exception`` took the
    Ctrl-C for an error. It stays a KeyboardInterrupt; where the earlier version is kept is warned
    (and noted on the interrupt)."""
    import os

    from tinylens.atomic import write_together

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.json").write_text("old b")
    replace, stopped = os.replace, []

    def interrupted_at_b(src, dst, *args, **kwargs):  # one Ctrl-C, at the rename into b.json; a.csv's put-back fails
        if os.path.basename(dst) == "b.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt
        if os.path.basename(dst) == "a.csv" and (tmp_path / "a.csv").read_text() == "new a":
            raise PermissionError(13, "Permission denied", src, None, dst)
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", interrupted_at_b)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.warns(UserWarning) as warned, pytest.raises(KeyboardInterrupt) as raised:
        write_together(writers)
    monkeypatch.setattr(os, "replace", replace)
    (kept,) = tmp_path.glob(".a.kept-*")
    assert kept.read_text() == "old a" and (tmp_path / "b.json").read_text() == "old b"
    said = [str(w.message) for w in warned if str(kept) in str(w.message)]
    assert len(said) == 1 and "could not be undone" in said[0], [str(w.message) for w in warned]
    assert said[0] in getattr(raised.value, "__notes__", [])


def test_a_ctrl_c_the_moment_a_file_not_put_back_is_moved_to_its_kept_name_still_says_where_it_is(tmp_path, monkeypatch):
    """Where a file already replaced could not be put back, its earlier version is renamed to a
    .kept- name (_rescued); a Ctrl-C (KeyboardInterrupt) the moment that rename returned had the
    putting back take it for a file put back already, so the warning said the earlier version was
    still at its .unfinished- name, where nothing was, and named no .kept- file. It now names the
    file that holds it."""
    import os

    from tinylens.atomic import write_together

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.json").write_text("old b")
    replace, stopped = os.replace, []

    def interrupted_at_b_and_as_a_is_kept(src, dst, *args, **kwargs):  # a.csv's put-back fails
        if os.path.basename(dst) == "b.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt
        if os.path.basename(dst) == "a.csv" and (tmp_path / "a.csv").read_text() == "new a":
            raise PermissionError(13, "Permission denied", src, None, dst)
        replace(src, dst, *args, **kwargs)
        if os.path.basename(dst).startswith(".a.kept-") and len(stopped) == 1:  # the moment it is moved there
            stopped.append(dst)
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted_at_b_and_as_a_is_kept)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.warns(UserWarning) as warned, pytest.raises(KeyboardInterrupt):
        write_together(writers)
    monkeypatch.setattr(os, "replace", replace)
    assert len(stopped) == 2 and (tmp_path / "b.json").read_text() == "old b"
    holding = [p for p in tmp_path.iterdir() if p.name != "b.json" and p.read_text() == "old a"]
    assert len(holding) == 1 and holding[0].name.startswith(".a.kept-"), sorted(p.name for p in tmp_path.iterdir())
    said = [str(w.message) for w in warned if "could not be undone" in str(w.message)]
    assert len(said) == 1 and f"kept at {holding[0]} " in said[0], said


def test_a_file_whose_rename_to_its_kept_name_is_stopped_and_cannot_be_put_back_is_said_where_it_is(tmp_path, monkeypatch):
    """A Ctrl-C (KeyboardInterrupt) the moment the earlier version of a file not put back was
    renamed to its .kept- name had _rescued rename it back to its .unfinished- name; where that
    rename failed too, the file stayed under its .kept- name and the warning named the
    .unfinished- name, where nothing was: the earlier version unsaid. The warning now names the
    .kept- file that holds it, and the Ctrl-C stays one."""
    import os

    from tinylens.atomic import write_together

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.json").write_text("old b")
    replace, stopped = os.replace, []

    def interrupted_as_a_is_kept_and_not_renamed_back(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "b.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt
        if os.path.basename(dst) == "a.csv" and (tmp_path / "a.csv").read_text() == "new a":
            raise PermissionError(13, "Permission denied", src, None, dst)  # a.csv's put-back fails
        if os.path.basename(src).startswith(".a.kept-"):
            raise PermissionError(13, "Permission denied", src, None, dst)  # and so does _rescued's rename back
        replace(src, dst, *args, **kwargs)
        if os.path.basename(dst).startswith(".a.kept-") and len(stopped) == 1:  # the moment it is moved there
            stopped.append(dst)
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted_as_a_is_kept_and_not_renamed_back)
    writers = {tmp_path / "a.csv": lambda tmp: tmp.write_text("new a"), tmp_path / "b.json": lambda tmp: tmp.write_text("new b")}
    with pytest.warns(UserWarning) as warned, pytest.raises(KeyboardInterrupt) as raised:
        write_together(writers)
    monkeypatch.setattr(os, "replace", replace)
    assert len(stopped) == 2 and (tmp_path / "b.json").read_text() == "old b"
    holding = [p for p in tmp_path.iterdir() if p.name != "b.json" and p.read_text() == "old a"]
    assert [str(p) for p in holding] == [os.fspath(stopped[1])], sorted(p.name for p in tmp_path.iterdir())
    said = [str(w.message) for w in warned if "could not be undone" in str(w.message)]
    assert len(said) == 1 and f"kept at {holding[0]} " in said[0], said
    assert said[0] in getattr(raised.value, "__notes__", [])


class _StoppedBetweenFiles(list):
    """A list of paths whose first reversed walk raises KeyboardInterrupt after its first path, as a
    Ctrl-C does that comes after one file is undone and before the next is begun."""

    def __init__(self, paths):
        super().__init__(paths)
        self.walks = 0

    def __reversed__(self):
        self.walks += 1
        for i, path in enumerate(list.__reversed__(self)):
            if i == 1 and self.walks == 1:
                raise KeyboardInterrupt
            yield path


def test_a_ctrl_c_between_two_files_being_put_back_does_not_stop_the_putting_back(tmp_path, monkeypatch):
    """_undone caught a Ctrl-C (KeyboardInterrupt) only inside each file's undoing, so one that came
    after a file was put back and before the next was begun stopped it: the files not put back yet
    were left new beside others old, and replace_together's cleanup deleted their earlier versions.
    The walk over the files is now inside the catching too (done again from the first, each file
    undone once), every file put back and the Ctrl-C returned, for the caller to raise; b.json,
    moved aside (a disk without hard links) and not put back on the first walk, put back on the
    second, is no longer said to be kept."""
    import os

    from tinylens.atomic import _undone

    kept, stranded = {}, {}
    for name, hidden in (("a.csv", ".a.unfinished-abcdefgh.csv"), ("b.json", ".b.kept-abcdefgh.json")):
        (tmp_path / name).write_text(f"new {name[0]}")
        kept[tmp_path / name] = tmp_path / hidden
        kept[tmp_path / name].write_text(f"old {name[0]}")
    replace, refused = os.replace, []

    def b_refused_once(src, dst, *args, **kwargs):
        if os.path.basename(src).startswith(".b.kept-") and not refused:
            refused.append(src)
            raise PermissionError(13, "Permission denied", src, None, dst)
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", b_refused_once)
    done = _StoppedBetweenFiles(kept)
    try:
        caught = _undone(done, kept, stranded)
    except KeyboardInterrupt:  # not let through: it would stop pytest itself
        pytest.fail(f"the Ctrl-C stopped the putting back: {sorted(p.name for p in tmp_path.iterdir())}")
    assert isinstance(caught, KeyboardInterrupt)
    assert refused and done.walks == 2 and stranded == {}
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.csv": "old a", "b.json": "old b"}


def test_a_ctrl_c_the_instant_a_stranded_file_is_put_back_on_a_later_walk_leaves_it_unsaid_as_kept(tmp_path, monkeypatch):
    """b.json, moved aside (a disk without hard links), not put back on _undone's first walk, was
    noted in stranded as kept under its .kept- name; put back on the walk a Ctrl-C (KeyboardInterrupt)
    had _undone make again, a further Ctrl-C the instant after, before the note was dropped, left it
    noted, the third walk skipping a file put back already: the warning said its earlier version was
    kept at a name where nothing was, though it was in place. A file noted where nothing is left,
    its earlier version put back, is no longer said to be kept."""
    import os

    from tinylens.atomic import _undone

    kept, stranded = {}, {}
    for name, hidden in (("a.csv", ".a.unfinished-abcdefgh.csv"), ("b.json", ".b.kept-abcdefgh.json")):
        (tmp_path / name).write_text(f"new {name[0]}")
        kept[tmp_path / name] = tmp_path / hidden
        kept[tmp_path / name].write_text(f"old {name[0]}")
    replace, calls = os.replace, []

    def b_refused_then_stopped_the_instant_it_is_put_back(src, dst, *args, **kwargs):
        if os.path.basename(src).startswith(".b.kept-"):
            calls.append(src)
            if len(calls) == 1:
                raise PermissionError(13, "Permission denied", src, None, dst)
            replace(src, dst, *args, **kwargs)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return None
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", b_refused_then_stopped_the_instant_it_is_put_back)
    done = _StoppedBetweenFiles(kept)
    try:
        caught = _undone(done, kept, stranded)
    except KeyboardInterrupt:  # not let through: it would stop pytest itself
        pytest.fail(f"the Ctrl-C stopped the putting back: {sorted(p.name for p in tmp_path.iterdir())}")
    assert isinstance(caught, KeyboardInterrupt) and len(calls) == 2 and done.walks == 3
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.csv": "old a", "b.json": "old b"}
    assert stranded == {}


def test_the_atomic_write_helpers_are_still_imported_from_tables():
    """The atomic-write helpers moved to tinylens.atomic; ``from tinylens.results.tables import
    write_atomic`` (and the others) still gives the same function."""
    from tinylens import atomic

    names = ("UNFINISHED_NAME", "atomic_path", "errors_naming", "remove_all_unfinished", "remove_unfinished",
             "replace_together", "temporary_beside", "write_atomic", "write_together")
    assert all(getattr(tables, name) is getattr(atomic, name) for name in names)


def test_a_parquet_text_column_holding_a_missing_value_is_never_read_by_astropy_as_a_cut_none(tmp_path):
    """write_table recorded each text column's longest value as astropy's table::len::NAME
    (35d512b), counting no missing value, so that astropy read a missing text as "None" cut to that
    length ("N" beside "", "Non" beside "abc"), a value never written; such a column now gets no
    length, so astropy refuses the file rather than misread it, while a column without a missing
    value keeps its length (no warning) and pandas reads the file as before."""
    import warnings

    import pandas as pd
    from astropy.table import Table
    from astropy.utils.exceptions import AstropyUserWarning

    from tinylens.results.tables import write_table

    frame = pd.DataFrame({"lens_id": ["a", "b", "c"], "note": ["abc", None, ""], "x": [1.0, 2.0, 3.0]})
    path = write_table(tmp_path / "table.parquet", frame)
    back = pd.read_parquet(path)
    assert list(back["lens_id"]) == ["a", "b", "c"] and back["note"][0] == "abc" and pd.isna(back["note"][1])
    assert back["note"][2] == "" and list(back["x"]) == [1.0, 2.0, 3.0]
    read = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        try:
            read = Table.read(path)
        except TypeError:
            pass  # astropy cannot read a missing text: refused, not misread
    if read is not None:  # a later astropy that reads it must give it as missing or empty
        note = read["note"]
        assert bool(getattr(note, "mask", [False] * 3)[1]) or note[1] in ("", None)
    clean = write_table(tmp_path / "clean.parquet", frame.fillna({"note": ""}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyUserWarning)
        assert list(Table.read(clean)["note"]) == ["abc", "", ""]
