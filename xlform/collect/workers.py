"""Running many: each file read and checked in worker processes, where a file that crashes or hangs the
reader costs only itself (the pool is rebuilt and what it held is read one by one)."""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..forking import FORK
from ..form.template import TemplateRef
from ..reading import refusals as R
from ..reading.reader import Registry
from ..reading.refusals import Reason
from ..review.result import FileResult, check_file
from . import inbox
from .inbox import (
    Budget,
    DiskFile,
    Item,
    RunBudget,
    Source,
    _pool_context,
    _running,
    _Walk,
    file_hash,
    given_kind,
    is_junk,
    items_of,
    prefetch,
    shown_name,
)
from .outcome import Collected, FileOutcome, Outcome, check_item, item_key

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# Seconds a worker may spend on one workbook. A return takes milliseconds and the largest file the
# limits let through about a second; past this the reader is stuck (a parser caught in a loop), and
# the worker process ends itself, which the pool turns into one file listed as unreadable.
FILE_TIMEOUT = 60.0

# Fewer files than this are read in this process (see collect_files).
PARALLEL_FROM = 1 if FORK else 64

T = TypeVar("T")

_worker_registry: Registry | None = None
_worker_timeout: float | None = None  # set in worker processes only: the watchdog ends the whole process


@contextmanager
def _watchdog() -> Iterator[None]:
    """In a worker: end the process if the body runs longer than its timeout. The kernel delivers
    SIGALRM, whose default action ends the process, so it works even while a parser holds the
    interpreter inside native code (a Python-level timer would wait for it); re-arming is a system call."""
    if _worker_timeout is None:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, _worker_timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _watched(items: Iterator[Item]) -> Iterator[Item]:
    """Each step of opening a file (reading and hashing it, listing a zip, unzipping a member) under the
    watchdog too, as reading a workbook is: none of them may hang a worker."""
    while True:
        with _watchdog():
            item = next(items, None)
        if item is None:
            return
        yield item


def collect_file(disk: DiskFile, registry: Registry | None = None) -> FileOutcome:
    """Hash, open and check everything one file on disk holds. Never raises for a bad file."""
    source = Source(disk)
    collected = []
    for item in _watched(source.items()):
        with _watchdog():
            outcome = check_item(item, registry)
        collected.append(Collected(item.member, item_key(item), outcome, item.modified))
    return FileOutcome(disk, source.sha256, collected)


def _init_worker(templates: list[TemplateRef], timeout: float | None, run: RunBudget | None = None) -> None:
    global _worker_registry, _worker_timeout
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; no tracebacks per worker
    _die_with_parent()
    _worker_registry = Registry(list(templates)) if templates else None
    inbox._run_budget = run  # the budget every file this worker opens draws on
    if timeout is not None and hasattr(signal, "setitimer"):  # not on Windows: no watchdog there
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        _worker_timeout = timeout


def _die_with_parent() -> None:
    """On Linux, ask the kernel to end this worker when the parent dies (kill -9 included): otherwise it
    waits for work forever, holding the caller's terminal or pipes open."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


def _collect_chunk(chunk: list[DiskFile]) -> list[FileOutcome]:
    with _watchdog():
        prefetch(chunk)
    return [collect_file(d, _worker_registry) for d in chunk]


def collect_files(
    disks: list[DiskFile],
    *,
    jobs: int,
    templates: Sequence[TemplateRef] | None = None,
    on_done: Callable[[list[FileOutcome]], None],
    parallel_from: int | None = None,
    file_timeout: float | None = None,
    counted: int = 0,
) -> None:
    """Collect every file, handing results to `on_done` in batches as they finish.

    Files are read in `jobs` worker processes, where a file that crashes the reader
    or takes longer than `file_timeout` seconds (default FILE_TIMEOUT) costs only itself. Below
    `parallel_from` files everything runs here instead (default: never where a
    worker is forked in ~10 ms; below 64 files where each must start a fresh interpreter).
    All draw on one run budget: inbox.MAX_RUN_ITEMS less the files given, less `counted` (items the run
    already holds, such as results the store kept), so the report as a whole stays within it.
    """
    templates = list(templates or [])
    here = len(disks) < (PARALLEL_FROM if parallel_from is None else parallel_from)
    run = RunBudget(inbox.MAX_RUN_ITEMS - counted - len(disks), inbox.MAX_RUN_UNZIPPED, shared=not here)
    with _running(run):
        if here:
            _collect_here(disks, templates, on_done)
            return
        pending = _chunks(disks, jobs)
        init = _worker_args(templates, file_timeout, run)
        while pending:
            in_hand, pending = _in_pool(_collect_chunk, pending, jobs, init, lambda _, batch: on_done(batch))
            if in_hand:  # a worker died (killed, out of memory, a file that aborts or hangs the reader)
                _collect_isolated([d for chunk in in_hand for d in chunk], init, on_done)


MISSING = R.MISSING


def check_inputs(paths: Iterable[Path]) -> list[DiskFile | str]:
    """What `check` and `export` were handed, walked as the report walks an inbox: a folder stands for
    every file below it, OS and Office temporary files aside (so a stray .xls in a folder is answered
    too, and a link, a pipe or a folder that cannot be opened is listed); a path that does not exist stays
    as its name, to be answered as missing."""
    paths = [Path(p) for p in paths]
    kinds = [given_kind(p) for p in paths]
    walker = _Walk([p for p, kind in zip(paths, kinds, strict=True) if kind == "folder"])
    entries: list[DiskFile | str] = []
    for path, kind in zip(paths, kinds, strict=True):
        if kind == "folder":  # what the folder holds beside the returns is listed as ignored, as the report lists it
            entries += [replace(d, reason=R.JUNK().message, code=R.JUNK.code) if is_junk(os.path.relpath(d.path, path))
                        and not d.reason else d for d in walker.scan(str(path))]
        elif kind == "entry":
            entries.append(walker.given(str(path)))
        else:
            entries.append(shown_name(str(path)))
    return entries


def check_paths(paths: list[Path], templates: Sequence[TemplateRef] | None = None,
                file_timeout: float | None = None, *, jobs: int | None = None) -> list[FileResult]:
    """`xlform check` and `export`: every workbook under the paths, mailed zips opened as the report opens
    them, each read and checked in worker processes as collect_files does, so a file that crashes or hangs
    the reader is answered like any other unreadable file (timeout: default FILE_TIMEOUT). Results in order."""
    return checked_paths(paths, _as_is, templates, file_timeout, jobs=jobs)


def _as_is(result: FileResult) -> FileResult:
    return result


def checked_paths(paths: list[Path], render: Callable[[FileResult], T], templates: Sequence[TemplateRef] | None = None,
                  file_timeout: float | None = None, *, jobs: int | None = None) -> list[T]:
    """check_paths, each result passed through `render` where it was made: in the worker, so only what the
    caller needs (a line of text, a JSON object) comes back to this process, not every declaration."""
    templates = list(templates or [])
    entries = check_inputs(paths)
    disks = [e for e in entries if isinstance(e, DiskFile)]
    jobs = jobs or os.cpu_count() or 1
    by_disk: dict[str, list[T]] = {}
    here = len(disks) < PARALLEL_FROM
    run = RunBudget(inbox.MAX_RUN_ITEMS - len(disks), inbox.MAX_RUN_UNZIPPED, shared=not here)
    with _running(run):
        if here:
            registry = Registry(list(templates)) if templates else None
            by_disk = {d.path: [render(r) for r in _check_disk(d, registry)] for d in disks}
        else:
            work = functools.partial(_check_chunk, render=render)
            init = _worker_args(templates, file_timeout, run)

            def done(chunk: list[DiskFile], batch: list[list[T]]) -> None:
                by_disk.update((d.path, results) for d, results in zip(chunk, batch, strict=True))

            pending = _chunks(disks, jobs)
            while pending:
                in_hand, pending = _in_pool(work, pending, jobs, init, done)
                if in_hand:  # a worker died: each file of what it held again, on its own
                    worker = _OneWorker(init)
                    try:
                        for disk in (d for chunk in in_hand for d in chunk):
                            by_disk[disk.path] = _check_alone(disk, worker, render)
                    finally:
                        worker.close()
    results: list[T] = []
    for entry in entries:
        results += by_disk[entry.path] if isinstance(entry, DiskFile) else [render(FileResult.refused(entry, MISSING()))]
    return results


def _chunks(disks: list[DiskFile], jobs: int) -> list[list[DiskFile]]:
    """Chunks small enough to keep every worker busy to the end, large enough that handing them over costs little."""
    size = max(4, min(64, len(disks) // (jobs * 8) or 1))
    return [disks[i : i + size] for i in range(0, len(disks), size)]


def _result_of(item: Item, registry: Registry | None) -> FileResult:
    if item.data is None:
        return FileResult(item.name, error=item.reason, code=item.code)
    return check_file(item.name, registry, item.data, item.name)


def _check_disk(disk: DiskFile, registry: Registry | None) -> list[FileResult]:
    """Each item one file holds (a workbook, or each member of a mailed zip); junk is listed as ignored."""
    results = []
    for item in _watched(items_of(disk)):
        with _watchdog():
            results.append(_result_of(item, registry))
    return results


def _check_chunk(disks: list[DiskFile], render: Callable[[FileResult], T]) -> list[list[T]]:
    with _watchdog():
        prefetch(disks)
    return [[render(r) for r in _check_disk(d, _worker_registry)] for d in disks]


def _check_item_in_worker(item: Item, render: Callable[[FileResult], T]) -> T:
    with _watchdog():
        return render(_result_of(item, _worker_registry))


def _check_alone(disk: DiskFile, worker: _OneWorker, render: Callable[[FileResult], T]) -> list[T]:
    """One file on its own in the worker; a zip that kills it goes member by member (only the member at fault is lost)."""
    batch, failure = worker.run(functools.partial(_check_chunk, render=render), [disk])
    if failure is None:
        return list(batch[0])
    if not disk.name.lower().endswith(".zip"):
        return [render(FileResult.refused(disk.name, failure))]
    _, failure = worker.run(_opened_in_worker, disk)
    if failure is not None:  # opening the zip itself kills or hangs its reader
        return [render(FileResult.refused(disk.name, failure))]
    results = []
    for item in items_of(disk):  # listed here (unzipped, never parsed as a workbook), on the run's budget
        if item.data is None:
            results.append(render(_result_of(item, None)))
            continue
        one, failure = worker.run(functools.partial(_check_item_in_worker, render=render), item)
        results.append(one if failure is None else render(FileResult.refused(item.name, failure)))
    return results


def _collect_here(disks: list[DiskFile], templates: list[TemplateRef], on_done: Callable[[list[FileOutcome]], None]) -> None:
    registry = Registry(list(templates)) if templates else None
    for start in range(0, len(disks), 16):
        on_done([collect_file(d, registry) for d in disks[start: start + 16]])


CRASHED, TIMED_OUT = R.CRASHED, R.TIMEOUT
_WorkerArgs = tuple[list[TemplateRef], float | None, RunBudget]  # _init_worker's: templates, per-step timeout, run budget


def _worker_args(templates: list[TemplateRef], file_timeout: float | None, run: RunBudget) -> _WorkerArgs:
    return templates, FILE_TIMEOUT if file_timeout is None else file_timeout, run


def _collect_isolated(disks: list[DiskFile], init: _WorkerArgs, on_done: Callable[[list[FileOutcome]], None]) -> None:
    """After a worker died: one file at a time in one worker, so the file that kills or hangs its
    process is named and listed as unreadable (never re-read in this process, which it would kill
    too), and every other file is still read. Slower, but only for what was unfinished when the pool broke."""
    worker = _OneWorker(init)
    try:
        for disk in disks:
            if disk.name.lower().endswith(".zip"):  # a mailed zip of returns: lose only the member at fault
                on_done([_member_by_member(disk, worker)])
                continue
            batch, failure = worker.run(_collect_chunk, [disk])
            on_done(batch if failure is None else [_failed(disk, failure)])
    finally:
        worker.close()


class _OneWorker:
    """One worker process, started again after whatever ends it."""

    def __init__(self, init: _WorkerArgs) -> None:
        self.init = init
        self.pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable[[Any], Any], arg: Any) -> tuple[Any, Reason | None]:
        """(fn(arg), None) from the worker, or (None, why it failed) when the worker died on it."""
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=_pool_context(), initializer=_init_worker,
                                            initargs=self.init)
        started = time.monotonic()
        try:
            return self.pool.submit(fn, arg).result(), None
        except BrokenProcessPool:
            self.close()
            timeout = self.init[1]
            hung = timeout is not None and time.monotonic() - started >= timeout
            return None, TIMED_OUT(seconds=timeout) if hung else CRASHED()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def _check_in_worker(item: Item) -> Outcome:
    with _watchdog():
        return check_item(item, _worker_registry)


def _opened_in_worker(disk: DiskFile) -> int:
    """How many items a file holds, opening and unzipping all of it but checking nothing: in a worker, under
    its watchdog, before a zip is listed in the parent (on a budget of its own: nothing is spent twice)."""
    return sum(1 for _ in _watched(Source(disk, Budget(RunBudget())).items()))


def _member_by_member(disk: DiskFile, worker: _OneWorker) -> FileOutcome:
    """Each member of a zip checked on its own in the worker; the zip is listed here (its bytes are
    only unzipped, never parsed as a workbook, in this process), once a worker has opened it whole."""
    _, failure = worker.run(_opened_in_worker, disk)
    if failure is not None:  # opening the zip itself kills or hangs its reader: the zip is the file at fault
        return _failed(disk, failure)
    source = Source(disk)
    collected = []
    for item in source.items():
        outcome, failure = worker.run(_check_in_worker, item) if item.data is not None else (check_item(item), None)
        key = item_key(item) if failure is None else f"crashed|{source.sha256}|{item.member}"
        collected.append(Collected(item.member, key, outcome if failure is None else Outcome.refused(failure),
                                   item.modified))
    return FileOutcome(disk, source.sha256, collected)


def _failed(disk: DiskFile, why: Reason) -> FileOutcome:
    try:
        sha = file_hash(disk.path)
    except OSError:
        sha = ""
    return FileOutcome(disk, sha, [Collected("", f"crashed|{sha}", Outcome.refused(why))])


def _in_pool(work: Callable[[list[DiskFile]], Any], chunks: list[list[DiskFile]], jobs: int, init: _WorkerArgs,
             on_done: Callable[[list[DiskFile], Any], None]) -> tuple[list[list[DiskFile]], list[list[DiskFile]]]:
    """Run `work` on the chunks in worker processes, a bounded number in flight (memory stays flat), handing
    each chunk and its result to `on_done` as it finishes. When a worker dies the pool is broken: returns
    the chunks it had in hand (to be read one file at a time) and those not yet handed to it (for a fresh
    pool); ([], []) when all were read."""
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: imported only where a pool starts
    from concurrent.futures.process import BrokenProcessPool

    queue = list(reversed(chunks))
    running: dict[Future[Any], list[DiskFile]] = {}

    def hand_over() -> None:  # the chunk leaves the queue only once the pool has taken it
        running[pool.submit(work, queue[-1])] = queue[-1]
        queue.pop()

    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=_pool_context(),
                             initializer=_init_worker, initargs=init) as pool:
        try:
            while queue and len(running) < jobs * 4:
                hand_over()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    on_done(running[future], future.result())  # a dead worker: BrokenProcessPool, the chunk still in running
                    del running[future]
                    if queue:
                        hand_over()
        except BrokenProcessPool:
            return list(running.values()), list(reversed(queue))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [], []
