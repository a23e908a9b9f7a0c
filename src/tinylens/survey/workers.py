"""The survey's checks of its Dask workers before and while they fit: that they import the task's
module (:func:`check_worker_imports`), run the same tinylens as the survey
(:func:`check_worker_copies`), see its lens and output folders (:func:`check_worker_folders`) and
have the template's sampler's package (:func:`check_worker_samplers`); and the task each lens is
sent as (:data:`checked_task`), which checks the worker it runs on again and refuses its lens
(:data:`REFUSED`) on one that fails, so that the survey gives the lens to another.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinylens.errors import (ConfigWarning, DataWarning, SURVEY_FOLDER_CHOICE, SURVEY_LENS_DIR_CHOICE, SURVEY_RERUN,
                             TinyLensError, listed)
from tinylens.filenames import SURVEY_LOCK_FILE
from tinylens.survey import cluster as survey_cluster
from tinylens.survey.discovery import Lens
from tinylens.survey.rows import describe_exception
from tinylens.survey.task import sampler_check
from tinylens.survey.threads import in_a_thread, resolved_within

#: The module a worker imports to run a survey task (:func:`tinylens.survey.task.fit_lens` lives there).
TASK_MODULE = "tinylens.survey.task"


#: How long each worker is given to import tinylens when the survey checks its copy (seconds): a
#: first import of JAX from a shared disk takes seconds, one from a hung NFS mount for ever.
IMPORT_CHECK_SECONDS = 60.0


def check_worker_imports(client: Any, module: str | None = None, timeout: float = IMPORT_CHECK_SECONDS,
                         unchecked: dict[str, str] | None = None) -> list[str]:
    """TinyLensError naming the workers of ``client``'s cluster that cannot import ``module``
    (default :data:`TASK_MODULE`); else the workers that gave no answer (below), which the later
    checks leave out (each would be waited for again: :func:`check_worker_folders`, :func:`task_copies`).

    A worker started without tinylens (another environment, no ``PYTHONPATH``) cannot even read
    a survey task: Dask closes it on the first one, and the survey would wait silently for
    workers that no longer exist. Then :func:`check_worker_copies`: the workers must import the
    same tinylens as this process. Workers that join later are checked by each survey task (:data:`checked_task`).
    Each worker is given ``timeout`` seconds, the cluster :data:`CONNECT_TIMEOUT` more: workers
    that do not answer (an import from a hung NFS mount) are named in a ConfigWarning, as is the
    error of a cluster that cannot be asked, and the survey goes on (:func:`warn_unimported`). The
    workers whose tinylens was not checked so (:data:`EVERY_WORKER` where the cluster could not be
    asked) are added to ``unchecked``, with why, for :func:`refused_worker_note`."""
    try:
        answers = ask_workers(client, f"{module or TASK_MODULE}:__name__", timeout)
    except Exception as exc:  # a cluster that cannot be asked: each task checks its worker
        why = unasked_reason(exc, timeout + survey_cluster.connect_seconds())
        warn_unimported(f": {why}")
        if unchecked is not None:
            unchecked[EVERY_WORKER] = why
        return []
    failed = {address: answer for address, answer in answers.items() if isinstance(answer, BaseException)}
    older = {address: lacked for address, answer in failed.items() if (lacked := tinylens_part_lacked(answer))}
    if older:
        raise TinyLensError(older_copies_text(older, worker_copies_or_unknown(client, sorted(older), timeout),
                                              len(answers)))
    if failed:
        error = failed[min(failed)]
        raise TinyLensError(
            f"{some_workers(len(failed), len(answers))} cannot import tinylens ({listed(sorted(failed), 3)}: "
            f"{describe_exception(error)}), so {'it' if len(failed) == 1 else 'they'} could not run a survey task. "
            "Start the workers in an environment where tinylens is installed (the same one as this process, or "
            f"with PYTHONPATH set as for it), then run {SURVEY_RERUN} again.")
    silent = sorted(address for address, answer in answers.items() if answer is None)
    if silent:
        warn_unimported(unanswered_imports_text(silent, len(answers), timeout))
    answered = [address for address in answers if address not in silent]
    if answered:
        check_worker_copies(client, answered, timeout, unchecked=unchecked)
    return silent


def tinylens_part_lacked(error: Any) -> str | None:
    """The module of tinylens (``tinylens.survey.task``, say) that a worker's import check failed to
    find, its ``tinylens`` itself imported (another copy: an older one, made before that module
    was): ``error`` the ModuleNotFoundError it answered; else ``None``."""
    if not isinstance(error, ModuleNotFoundError):
        return None
    name = error.name
    if not name:  # its name lost on the way back: read from its text, "No module named 'tinylens.x'"
        quoted = str(error).partition("'")[2].rpartition("'")[0]
        name = quoted or None
    return name if name is not None and name.startswith("tinylens.") else None


def worker_copies_or_unknown(client: Any, workers: Sequence[str], timeout: float) -> dict[str, tuple[str, str]]:
    """:func:`worker_copies` of ``workers``, ``?`` for what they did not tell (a worker that gave
    no answer, a cluster that could not be asked again)."""
    try:
        copies = worker_copies(client, workers, timeout)
    except Exception:  # what it asks is said unknown: the error names the workers all the same
        copies = {}
    return {address: copies.get(address, ("?", "?")) for address in workers}


def older_copies_text(lacked: Mapping[str, str], copies: Mapping[str, tuple[str, str]], total: int) -> str:
    """The error of the workers (of a cluster of ``total``) whose tinylens has no module that this
    process's survey task needs (``lacked``: address -> that module, :func:`tinylens_part_lacked`):
    another copy than this process's, an older one it may be, named by its version and file
    (``copies``, :func:`worker_copies`), beside this process's."""
    import tinylens

    one = len(lacked) == 1
    found = listed([f"{address}: tinylens {copies[address][0]} from {copies[address][1]} without {lacked[address]}"
                    for address in sorted(lacked)], 3)
    return (f"{some_workers(len(lacked), total)} {'imports' if one else 'import'} another copy of tinylens than this "
            f"process, older it may be, which lacks the module a survey task runs ({found}; this process runs "
            f"tinylens {tinylens.__version__} from {tinylens.__file__}), so {'it' if one else 'they'} could not run a "
            "survey task. Start the workers in the same environment as this process (or with PYTHONPATH set as for "
            f"it), then run {SURVEY_RERUN} again.")


def unasked_reason(exc: Exception, deadline: float) -> str:
    """Why the workers were not checked (a warning's first sentence ends ``: <it>``, and
    :func:`refused_worker_note` gives it): the cluster gave no answer within ``deadline`` seconds
    (``exc`` a TimeoutError), or asking it raised ``exc``."""
    if isinstance(exc, TimeoutError):
        return f"the cluster did not answer within {deadline:g} s"
    return f"the cluster could not be asked ({describe_exception(exc)})"


def unanswered_imports_text(unanswered: Sequence[str], total: int, timeout: float) -> str:
    """The rest of :func:`warn_unimported`'s first sentence where the workers ``unanswered``, of the
    cluster's ``total`` asked, gave no answer within ``timeout`` seconds."""
    whom = "the one worker" if total == 1 else f"{len(unanswered)} of the {total} workers"
    return (f" for {whom}: {listed(unanswered, 3)} gave no answer within {timeout:g} s "
            f"{hung_mount_question(len(unanswered), 'it imports from', 'they import from')}")


def ask_workers(client: Any, target: str, timeout: float, workers: Sequence[str] | None = None) -> dict[str, Any]:
    """:data:`resolved_within` of ``target`` on each of ``workers`` (default: all) of ``client``'s
    cluster, by address: the value (plain text here), the exception it raised, or ``None`` where the
    worker gave no answer within ``timeout`` seconds; TimeoutError where the cluster gave none within
    :data:`CONNECT_TIMEOUT` more."""
    return client.run(resolved_within, target, timeout, workers=None if workers is None else list(workers),
                      on_error="return", callback_timeout=timeout + survey_cluster.connect_seconds())


def warn_unimported(why: str) -> None:
    """A ConfigWarning that the tinylens the Dask workers import was not checked (``why``: the
    rest of its first sentence)."""
    warnings.warn(f"Which tinylens the Dask workers import was not checked{why}. The survey goes on: each task "
                  "checks its worker's tinylens, but a worker whose import hangs holds the lenses given to it: look "
                  "at its node if they do not finish.", ConfigWarning, stacklevel=3)


def asked_workers(client: Any, skip: Sequence[str]) -> list[str] | None:
    """The workers of ``client``'s cluster to ask, leaving out those of ``skip`` (whose import
    check gave no answer): ``None`` for all where there are none to leave out, ``[]`` where every
    worker is left out; raises what asking the scheduler which workers there are raises."""
    return [address for address in cluster_workers(client) if address not in skip] if skip else None


def some_workers(n: int, total: int) -> str:
    """The subject of a sentence on ``n`` of a cluster's ``total`` Dask workers: ``The one Dask
    worker``, ``1 of the 2 Dask workers`` (its verb singular, as where ``n`` is 1), ``2 of the 4 Dask workers``."""
    return "The one Dask worker" if total == 1 else f"{n} of the {total} Dask workers"


#: How long each worker is given to look at the survey's folders (seconds): a file system that
#: works answers in milliseconds, an NFS mount whose server is down not at all.
FOLDER_CHECK_SECONDS = 30.0


def worker_view(lock: str, folders: Sequence[str], timeout: float | None = None) -> tuple[str | None, list[str]] | None:
    """What a worker sees of a survey (run on each worker): the text of its ``--out`` lock file
    ``lock`` (``None``: it cannot read it) and those of ``folders`` that are not folders there;
    ``None`` when its file system did not tell within ``timeout`` seconds (the reads are left to a
    thread of their own, so that a hung mount does not hold the worker, nor the survey)."""
    if timeout is None:
        return _view(lock, folders)
    return in_a_thread(lambda: _view(lock, folders), timeout, "tinylens-folder-check")


def _view(lock: str, folders: Sequence[str]) -> tuple[str | None, list[str]]:
    """:func:`worker_view`'s reads, without a deadline."""
    try:
        text = Path(lock).read_text()
    except (OSError, UnicodeDecodeError):
        text = None
    return text, [folder for folder in folders if not os.path.isdir(folder)]


def seen_folders(lens_dir: Path, lenses: Sequence[Lens]) -> dict[str, str]:
    """The folders a worker must see for the survey of ``lenses`` in ``lens_dir``, each with how a
    message names it: ``lens_dir``, and where links in it lead elsewhere (a lens folder is read
    resolved), the first lens folder in each other folder they lead to."""
    folders, parents = {str(lens_dir): f"{SURVEY_LENS_DIR_CHOICE} {lens_dir}"}, {lens_dir}
    for lens in lenses:
        if lens.folder.parent not in parents:
            parents.add(lens.folder.parent)
            folders[str(lens.folder)] = f"{lens.folder}, the lens folder {lens.lens_id} that {SURVEY_LENS_DIR_CHOICE} links to"
    return folders


#: The key, among the workers the start's checks left unchecked (:func:`check_worker_folders`'s
#: answer, the ``unchecked`` of :func:`check_worker_imports` and :func:`check_worker_copies`), that
#: stands for every worker of the cluster (it could not be asked, nor say which workers it has).
EVERY_WORKER = "*"


def check_worker_folders(client: Any, out: Path, lens_dir: Path, lenses: Sequence[Lens] = (),
                         timeout: float = FOLDER_CHECK_SECONDS, skip: Sequence[str] = ()) -> dict[str, str]:
    """TinyLensError naming the workers of ``client``'s cluster that do not see ``lens_dir``, the
    lens folders elsewhere that its links among ``lenses`` lead to (:func:`seen_folders`), or the ``out``
    this process writes (its :data:`~tinylens.filenames.SURVEY_LOCK_FILE`, which this survey holds, with this
    process's text: not a node's own folder of the same name), before anything is written there.

    A survey whose folders are on one node's own disk (``/tmp``, a login node's scratch) had every
    lens fail on the workers ('image.fits not found') or, with ``out`` alone there, wrote the fits
    on the nodes' disks, where a rerun could not find them and fitted every lens again. A worker
    that reads the lock file empty sees it: NFS may show a file's text to other nodes only once
    its writer closes it, and the survey holds it open. Where this file system has no locks (no
    lock file) only ``lens_dir`` is checked. Each worker is given ``timeout`` seconds, the cluster
    :data:`CONNECT_TIMEOUT` more to answer: workers that do not (a hung NFS mount), or whose check
    fails, are not refused but named in a DataWarning (:func:`warn_unchecked`), and the survey goes
    on: returned, by address (:data:`EVERY_WORKER` where the cluster could not be asked), with why
    they were not checked, for :func:`refused_worker_note`. The workers of ``skip`` (their import
    check gave no answer, warned of then) are not asked."""
    from tinylens.locks import holder_text

    lock = out / SURVEY_LOCK_FILE
    mine = holder_text(lock) if lock.is_file() else ""
    folders = seen_folders(lens_dir, lenses)
    deadline = timeout + survey_cluster.connect_seconds()
    try:
        workers = asked_workers(client, skip)
    except Exception as exc:  # a scheduler that cannot say which workers it has: as a cluster that cannot be asked
        why = unasked_reason(exc, survey_cluster.connect_seconds())
        warn_unchecked(f": {why}")
        return {EVERY_WORKER: why}
    if workers == []:  # every worker left out: each was warned of by the import check
        return {}
    try:
        views = client.run(worker_view, str(lock), list(folders), timeout, workers=workers, on_error="return",
                           callback_timeout=deadline)
    except Exception as exc:  # a cluster that cannot be asked: its workers will tell by their lenses' reasons
        why = unasked_reason(exc, deadline)
        warn_unchecked(f": {why}")
        return dict.fromkeys(workers or [EVERY_WORKER], why)
    total = len(views) + len(set(skip).difference(views))  # the workers left out are the cluster's too
    blind, unchecked = {}, {}
    for address, view in views.items():
        if view is None or isinstance(view, BaseException):
            unchecked[address] = view
            continue
        missing = unseen_names(view, folders, mine, out)
        if missing:
            blind[address] = " and ".join(missing)
    if unchecked:
        whom = "the one worker" if total == 1 else f"{len(unchecked)} of the {total} workers"
        warn_unchecked(f" for {whom}: {unchecked_text(unchecked, timeout)}")
    if blind:
        first = min(blind)
        which = first if len(blind) == 1 else f"{listed(sorted(blind), 3)}: e.g. {first}"
        raise TinyLensError(
            f"{some_workers(len(blind), total)} {'does' if len(blind) == 1 else 'do'} not see the survey's "
            f"folders as this process does ({which} does not see {blind[first]}). The lens folders and "
            f"{SURVEY_FOLDER_CHOICE} must be on a file system that every node sees (not a node's own disk such as "
            f"/tmp): give folders on a shared disk, then run {SURVEY_RERUN} again.")
    return {address: unchecked_reason(view, timeout) for address, view in unchecked.items()}


def unchecked_reason(view: BaseException | None, timeout: float) -> str:
    """Why a worker's folders (or its tinylens: :func:`check_worker_copies`) were not checked, its
    check's answer ``view`` being ``None`` (none within ``timeout`` seconds) or the exception it raised."""
    if view is None:
        return f"it gave no answer within {timeout:g} s"
    return f"its check failed ({describe_exception(view)})"


def unseen_names(view: tuple[str | None, list[str]], folders: Mapping[str, str], mine: str, out: Path) -> list[str]:
    """How messages name what a worker's ``view`` (:func:`worker_view`) misses of ``folders``
    (path -> name, :func:`seen_folders`) and of ``out``, whose lock file this process reads as
    ``mine`` (``""``: none, then ``out`` is not checked so)."""
    text, unseen = view
    missing = [folders[folder] for folder in unseen]
    seen = None if text is None else " ".join(text.split())
    if mine and seen not in (mine, ""):  # "": on NFS its text may reach other nodes only when closed
        missing.append(f"{SURVEY_FOLDER_CHOICE} {out}")
    return missing


def task_view(out: Path, mine: str, lens: Lens) -> tuple[str, str, dict[str, str]]:
    """What the worker of ``lens``'s survey task must see as this process does (:data:`checked_task`):
    the lock file of ``out``, whose text this process reads as ``mine`` (``""``: none, then ``out``
    must be a folder there), and the folders (the lens folder, and ``out`` where ``mine`` is
    ``""``), each path with how a message names it."""
    folders = {str(lens.folder): f"the lens folder {lens.folder}"}
    if not mine:
        folders[str(out)] = f"{SURVEY_FOLDER_CHOICE} {out}"
    return str(out / SURVEY_LOCK_FILE), mine, folders


def unseen_here(seen: tuple[str, str, Mapping[str, str]]) -> str:
    """What this process (a survey task's worker) does not see of ``seen`` (:func:`task_view`), as
    messages name it (``""``: it sees all)."""
    lock, mine, folders = seen
    return " and ".join(unseen_names(_view(lock, list(folders)), folders, mine, Path(lock).parent))


def hung_mount_question(n: int, one: str, many: str) -> str:
    """``(does a file system it reads hang, such as an NFS mount whose server is down?)``: why ``n``
    workers gave no answer, ``one`` (``it reads``) said of one worker, ``many`` (``they read``) of more."""
    return f"(does a file system {one if n == 1 else many} hang, such as an NFS mount whose server is down?)"


def unchecked_text(unchecked: Mapping[str, BaseException | None], timeout: float) -> str:
    """Which workers of ``unchecked`` (address -> ``None``, no answer in ``timeout`` seconds, or
    the exception their check raised) were not checked, and why."""
    silent = sorted(address for address, view in unchecked.items() if view is None)
    failed = sorted(address for address, view in unchecked.items() if view is not None)
    parts = []
    if silent:
        parts.append(f"{listed(silent, 3)} gave no answer within {timeout:g} s "
                     f"{hung_mount_question(len(silent), 'it reads', 'they read')}")
    if failed:
        parts.append(f"on {listed(failed, 3)} the check failed ({describe_exception(unchecked[failed[0]])})")
    return ", and ".join(parts)


def warn_unchecked(why: str) -> None:
    """A DataWarning that the workers' view of the survey's folders was not checked (``why``: the
    rest of its first sentence); each task still asks its worker (:data:`checked_task`)."""
    warnings.warn(f"Whether the Dask workers see the survey's folders as this process does was not checked{why}. "
                  f"The survey goes on: each task asks its worker whether it sees its lens folder and {SURVEY_FOLDER_CHOICE}, "
                  "and one that does not fits none of them, but a worker whose file system hangs holds the lenses "
                  "given to it: look at its node if its lenses do not finish.", DataWarning, stacklevel=3)


def worker_copies(client: Any, workers: Sequence[str] | None = None, timeout: float = IMPORT_CHECK_SECONDS,
                  unanswered: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """The tinylens each of ``workers`` (default: all) of ``client``'s cluster imports, by address:
    its version and the file of its package (``?`` for what a worker cannot tell). Asked of plain
    strings, which a worker with any copy of tinylens can send, each worker given ``timeout``
    seconds (:func:`ask_workers`): those that give no answer are left out, added to ``unanswered``,
    and a worker that gave none for its version is not asked for its file (its import hangs: it
    would be waited for again)."""
    versions = ask_workers(client, "tinylens:__version__", timeout, workers)
    answered = [address for address, version in versions.items() if version is not None]
    files = ask_workers(client, "tinylens:__file__", timeout, answered) if answered else {}
    copies = {address: tuple(str(answer) if isinstance(answer, str) else "?" for answer in (versions[address], files.get(address)))
              for address in answered if files.get(address, "?") is not None}
    if unanswered is not None:
        unanswered.extend(sorted(address for address in versions if address not in copies))
    return copies


def other_copies(copies: Mapping[str, tuple[str, str]], mine: tuple[str, str]) -> tuple[dict, dict]:
    """Of the workers' tinylens ``copies`` (:func:`worker_copies`), those of another version than
    ``mine`` (this process's version and package file), and those of the same version imported
    from another file."""
    version = {address: copy for address, copy in copies.items() if copy[0] != mine[0]}
    path = {address: copy for address, copy in copies.items() if address not in version and copy[1] != mine[1]}
    return version, path


def check_worker_copies(client: Any, workers: Sequence[str] | None = None, timeout: float = IMPORT_CHECK_SECONDS,
                        unchecked: dict[str, str] | None = None) -> None:
    """TinyLensError naming the workers of ``client``'s cluster (``workers``, default all) that import
    another version of tinylens than this process (their fits would not be those the template was
    checked with, nor what the catalogue says made them); a ConfigWarning naming those that import
    the same version from another file (another checkout, or the same installation seen by another
    path). Each worker is given ``timeout`` seconds (:func:`worker_copies`): those that give no
    answer, and all where the cluster cannot be asked, are named in a ConfigWarning and added to
    ``unchecked`` with why (:data:`EVERY_WORKER` for all where ``workers`` is ``None``)."""
    import tinylens

    unanswered: list[str] = []
    try:
        copies = worker_copies(client, workers, timeout, unanswered=unanswered)
    except Exception as exc:  # a cluster that cannot be asked: each task checks its worker
        why = unasked_reason(exc, timeout + survey_cluster.connect_seconds())
        warn_unimported(f": {why}")
        if unchecked is not None:
            unchecked.update(dict.fromkeys(workers if workers is not None else [EVERY_WORKER], why))
        return
    if unanswered:
        warn_unimported(unanswered_imports_text(unanswered, len(copies) + len(unanswered), timeout))
        if unchecked is not None:
            unchecked.update(dict.fromkeys(unanswered, unchecked_reason(None, timeout)))
    mine = (tinylens.__version__, str(tinylens.__file__))
    version, path = other_copies(copies, mine)

    def which(found: Mapping[str, tuple[str, str]]) -> str:
        return listed([f"{address}: tinylens {v} from {f}" for address, (v, f) in sorted(found.items())], 3)

    here = f"this process runs tinylens {mine[0]} from {mine[1]}"
    if version:
        one = len(version) == 1
        raise TinyLensError(
            f"{some_workers(len(version), len(copies))} {'imports' if one else 'import'} another version of tinylens "
            f"than this process ({which(version)}; {here}), so {'its' if one else 'their'} fits would not be what "
            "the template was checked with. Start the workers in the same environment as this process (or with "
            f"PYTHONPATH set as for it), then run {SURVEY_RERUN} again.")
    if path:
        one = len(path) == 1
        warnings.warn(
            f"{some_workers(len(path), len(copies))} {'imports' if one else 'import'} tinylens from another place than "
            f"this process ({which(path)}; {here}); {'it fits' if one else 'they fit'} the lenses with "
            f"{'its' if one else 'their'} copy. If it is another checkout, start the workers with PYTHONPATH set as "
            "for this process.", ConfigWarning, stacklevel=3)


def check_worker_samplers(client: Any, module: str | None, skip: Sequence[str] = (),
                          timeout: float = IMPORT_CHECK_SECONDS) -> dict[str, dict[str, str]]:
    """The workers of ``client``'s cluster (those of ``skip`` left out: their import check gave no
    answer) whose Python lacks a package that the template's search needs (their import of
    ``module``, :func:`sampler_module`, fails: :func:`missing_here`), by address, with what is
    missing there; each host among them is named in one ConfigWarning (:func:`lacking_host_text`).

    Such a worker (started in another environment than the survey's, whose own Python passed the
    template check) would fail each lens it took; the survey gives its lenses to the other workers
    (:func:`_fit_lenses`), and fails them only where no other worker is connected. Each worker is
    given ``timeout`` seconds, the cluster :data:`CONNECT_TIMEOUT` more; one that gives no answer,
    and every one where the cluster cannot be asked, is not named: each task checks its worker
    (:data:`checked_task`)."""
    if module is None:
        return {}
    try:
        workers = asked_workers(client, skip)
        if workers == []:
            return {}
        answers = client.run(sampler_check, module, timeout, workers=workers, on_error="return",
                             callback_timeout=timeout + survey_cluster.connect_seconds())
    except Exception:  # noqa: BLE001 - a cluster that cannot be asked: each task checks its worker
        return {}
    lacking = {address: answer for address, answer in answers.items() if isinstance(answer, dict)}
    every = len(lacking) == len(answers) and not skip
    hosts: dict[tuple[str, str, str], list[str]] = {}
    for address, answer in sorted(lacking.items()):
        hosts.setdefault((answer["host"], answer["missing"], answer["python"]), []).append(address)
    for (host, package, python), addresses in hosts.items():
        warnings.warn(lacking_host_text(host, package, python, addresses, every), ConfigWarning, stacklevel=2)
    return lacking


def lacking_host_text(host: str, package: str, python: str, workers: Sequence[str], every: bool = False,
                      lead: str = "Host") -> str:
    """What the survey says, once, of the host ``host`` whose Dask ``workers`` lack ``package`` in
    their Python ``python``: what to install there, and that their lenses go to the other workers
    (``every``: there are none, so that the lenses fail unless a worker that has it joins); its
    first word ``lead`` (``survey: host`` for a line under the progress bar)."""
    from tinylens.inference import install_command

    one = len(workers) == 1
    whose = f"Dask worker {workers[0]}" if one else f"Dask workers {listed(list(workers), 3)}"
    then = ("no other worker is connected, so that the lenses fail unless one that has it joins" if every else
            f"{'it fits' if one else 'they fit'} no lens, {'its' if one else 'their'} lenses being given to the "
            "other workers")
    return (f"{lead} {host} ({whose}) lacks the package {package} (not installed in its Python, {python}), "
            f"which the template's sampler needs: {then}. Install it there ({install_command(python, package)}) or "
            "start its workers in the survey's environment.")


def my_copy() -> tuple[str, str]:
    """This process's tinylens: its version and the file of its package."""
    import tinylens

    return tinylens.__version__, str(tinylens.__file__)


def task_copies(client: Any, skip: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
    """The tinylens a survey task may run on its worker (:data:`checked_task`): this process's
    version, imported from this process's package file (by any path to it) or from that of a
    worker of the same version connected now (warned of by :func:`check_worker_copies` when the
    survey started), those of ``skip`` (:func:`unasked_copies`: whose check gave no answer) left unasked."""
    mine = my_copy()
    try:
        workers = asked_workers(client, skip)
        copies = worker_copies(client, workers) if workers != [] else {}
    except Exception:  # a cluster that cannot be asked: this process's copy only
        copies = {}
    files = dict.fromkeys([mine[1], os.path.realpath(mine[1]),
                           *(file for version, file in copies.values() if version == mine[0] and file != "?")])
    return mine[0], tuple(files)


def unasked_copies(silent: Sequence[str], copies_unchecked: Mapping[str, str] | None) -> list[str]:
    """The workers :func:`task_copies` leaves unasked: those ``silent`` (their import check gave no
    answer) and those of ``copies_unchecked`` (:func:`check_worker_copies`: no answer for their
    version or file, or not asked), each of which would be waited for again. Their tasks still check
    their tinylens (:data:`checked_task`): one of this process's package file fits, one of another is
    refused, its note saying why it was not checked (:func:`refused_worker_note`). :data:`EVERY_WORKER`
    (the cluster could not be asked at all) leaves none out: each is asked again."""
    return [*silent, *(address for address in copies_unchecked or {} if address != EVERY_WORKER and address not in silent)]


#: The ``status`` of what a survey task returns, without fitting its lens, on a worker that runs
#: another tinylens than the survey's, does not see its folders or lacks its sampler's package (:data:`checked_task`); the
#: survey gives the lens to another.
REFUSED = "refused"


def _task_on_a_checked_worker() -> Callable[..., dict[str, Any]]:
    """:data:`checked_task`, made here so that it is local: Dask then pickles it by value."""

    def worker_address() -> str:
        """The address of the worker this runs on (``?``: not on a worker)."""
        try:
            from distributed import get_worker
            return get_worker().address
        except ValueError:  # not on a worker
            return "?"

    def checked_task(allowed: tuple[str, tuple[str, ...]], fit: str, lens_id: str, *args: Any,
                     seen: tuple[str, str, dict[str, str]] | None = None, needs: str | None = None,
                     **kwargs: Any) -> dict[str, Any]:
        import importlib
        import os

        try:
            import tinylens
            version, file = str(tinylens.__version__), str(tinylens.__file__)
        except Exception as exc:  # a worker without tinylens, or with a broken one
            version, file = None, f"{type(exc).__name__}: {exc}"
        if version != allowed[0] or (file not in allowed[1] and os.path.realpath(file) not in allowed[1]):
            return {"lens_id": lens_id, "status": "refused",  # REFUSED (a literal: this function is pickled by value)
                    "worker": worker_address(), "version": version, "file": file}
        if seen is not None:  # the survey's tinylens version, here: it tells what this worker does not see
            # (task_view; a copy of that version from before the check cannot: not asked, as before)
            told = getattr(importlib.import_module("tinylens.survey.workers"), "unseen_here", None)
            unseen = told(seen) if told is not None else ""
            if unseen:
                return {"lens_id": lens_id, "status": "refused", "worker": worker_address(), "unseen": unseen}
        if needs is not None:  # the template's sampler's package, which this worker's Python may lack (missing_here)
            lacks = getattr(importlib.import_module("tinylens.survey.task"), "missing_here", None)
            missing = lacks(needs) if lacks is not None else None
            if missing:
                return {"lens_id": lens_id, "status": "refused", "worker": worker_address(), **missing}
        module, _, name = fit.partition(":")
        return getattr(importlib.import_module(module), name)(lens_id, *args, **kwargs)

    return checked_task


#: What a survey task runs on its worker: ``checked_task(allowed, fit, lens_id, *args, seen=None, needs=None, **kwargs)``
#: calls the function named ``fit`` (``module:name``, :func:`fit_lens`) where the worker runs the
#: tinylens ``allowed`` (:func:`task_copies`), sees the folders ``seen`` (:func:`task_view`;
#: ``None``: not asked) as the survey does and imports the module ``needs`` (:func:`sampler_module`;
#: ``None``: not asked), else returns a :data:`REFUSED` row naming the worker and its tinylens,
#: what it does not see (``unseen``), or the package its Python lacks (``missing``, with its
#: ``host`` and ``python``: :func:`missing_here`), its lens untouched. Workers that join a
#: cluster after the survey checked it (a batch system starting them late, a worker restarted after
#: a death) are checked so. It is pickled by value, so that a worker without tinylens can run it too.
checked_task = _task_on_a_checked_worker()


def refused_worker_note(refusal: Mapping[str, Any], mine: tuple[str, str], silent: Sequence[str] = (),
                        folders_unchecked: Mapping[str, str] | None = None,
                        copies_unchecked: Mapping[str, str] | None = None) -> str:
    """What the survey says of a worker whose task refused its lens (:data:`checked_task`): that one
    of ``silent`` (its import check gave no answer) was not checked when the survey started, as
    neither its tinylens nor its folders were; that one of ``folders_unchecked`` (address, or :data:`EVERY_WORKER`,
    -> why, :func:`check_worker_folders`) refusing for its folders did not have them checked, and
    why; that one of ``copies_unchecked`` (the same, :func:`check_worker_imports`) refusing for its
    tinylens did not have it checked, and why; that another joined the cluster since, it may be."""
    unchecked = refusal.get("worker") in silent
    if refusal.get("unseen"):
        skipped = unchecked_why(folders_unchecked, refusal.get("worker"))
        why = ("its tinylens import gave no answer when the survey checked its workers, so its folders were not "
               "checked then: on a node without the survey's disk?" if unchecked else
               f"its folders were not checked when the survey started: {skipped}; on a node without the survey's "
               "disk?" if skipped is not None else
               "it joined the cluster after the survey checked its workers, on a node without the survey's disk?")
        return (f"survey: the Dask worker {refusal.get('worker')} does not see {refusal['unseen']} as this process does "
                f"({why}): its lenses are given to the other workers. The lens folders and "
                f"{SURVEY_FOLDER_CHOICE} must be on a file system that every node sees: stop it, and start workers "
                "only on nodes that see them.")
    runs = (f"runs tinylens {refusal.get('version')} from {refusal.get('file')}" if refusal.get("version") is not None
            else f"cannot import tinylens ({refusal.get('file')})")
    skipped = unchecked_why(copies_unchecked, refusal.get("worker"))
    why = ("its tinylens import gave no answer when the survey checked its workers, so it was not checked then"
           if unchecked else f"its tinylens was not checked when the survey started: {skipped}" if skipped is not None
           else "it joined the cluster after the survey checked its workers?")
    return (f"survey: the Dask worker {refusal.get('worker')} {runs}, not the tinylens {mine[0]} from {mine[1]} of this "
            f"process ({why}): it fits no lens of the survey, and its lenses are given to the other workers. Stop it, "
            "and start workers in the same environment as this process (or with PYTHONPATH set as for it).")


def unchecked_why(unchecked: Mapping[str, str] | None, worker: Any) -> str | None:
    """Why ``worker`` was not checked when the survey started, by ``unchecked`` (address, or
    :data:`EVERY_WORKER` for all, -> why: :func:`check_worker_folders`, :func:`check_worker_imports`);
    ``None`` where it was (or joined the cluster since)."""
    unchecked = unchecked or {}
    return unchecked.get(worker, unchecked.get(EVERY_WORKER))


#: ``info`` not given to :func:`good_workers` or ``runner._in_flight_limit``: they ask the scheduler themselves.
ASK = object()


def good_workers(client: Any, refused: Mapping[str, Any], info: Any = ASK) -> list[str] | None:
    """The workers of ``client``'s cluster not among those ``refused`` (``None``: none, or the
    scheduler cannot be asked), by ``info`` where given (:func:`every_worker_info`'s answer, asked once
    for this and the tasks-in-flight limit; ``None``: it gave none, and is not asked again)."""
    if info is None:
        return None
    try:
        listed = cluster_workers(client) if info is ASK else list(info["workers"])
        return [address for address in listed if address not in refused] or None
    except Exception:  # an info call failing must not stop the survey
        return None


def every_worker_info(client: Any) -> Mapping[str, Any] | None:
    """The scheduler's ``scheduler_info`` listing every worker of ``client``'s cluster, which tells
    both the workers not refused (:func:`good_workers`) and the threads (``runner.cluster_threads``)
    in one question; None where it cannot be asked or gives no answer in time (:func:`answered`)."""
    try:
        return _every_worker_info(client)
    except Exception:  # an info call failing must not stop the survey
        return None


def _every_worker_info(client: Any) -> Mapping[str, Any]:
    try:
        return survey_cluster.answered(lambda: client.scheduler_info(n_workers=-1), client=client)
    except TypeError:  # distributed 2024.x: every worker is listed
        return survey_cluster.answered(client.scheduler_info, client=client)


def cluster_workers(client: Any) -> list[str]:
    """The addresses of the workers of ``client``'s cluster, as its scheduler lists them; raises
    what asking it raises (TimeoutError: no answer within :data:`CONNECT_TIMEOUT`, :func:`answered`)."""
    return list(_every_worker_info(client)["workers"])
