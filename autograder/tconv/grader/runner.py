"""Who runs the tasks: Dask, on this machine or on a cluster.

Each student notebook is one task, ``task.grade(job, settings)``: a snapshot (bytes) in, a Result
(data) out. ``run`` hands the tasks out and collects the results; it never writes a grade.

- ``scheduler=None``: a local cluster of ``workers`` processes, one thread each (``make grade
  JOBS=N``, nothing to set up).
- ``scheduler="tcp://host:8786"``: an existing cluster (``make grade SCHEDULER=...``); its workers
  need this repository and its environment, and each applies the same sandbox, as the task does.

Tasks are handed out one at a time as workers free up, longest first, and only while the disk has
room (``course.disk_nearly_full``, checked before each): on a nearly full disk no more are handed
out, and the rest are "not graded: rerun". A task gets a wall-clock budget (``task_budget``: the
notebook's own limit, the re-check's and the grader's own work); past it the runner stops waiting,
and the notebook is not graded (the grader's fault: the notebook's own time is already bounded
inside the sandbox, so an overrun is the grader's or the machine's, never a reason for a zero).

Nothing is lost when a worker is: Dask gives a task whose worker died to another worker (the task
is pure, so running it twice is harmless). A task that fails for the grader's reasons
(``Result.status``), or never comes back, is tried once more; if it fails again it is reported
"not graded: rerun", never as a score. Results that are grades (graded, or zeros that are the
submission's fault) are kept under ``cache`` (one JSON file per task, named by a digest of
everything the result depends on), so a second run on the same input does only what is missing
or failed, and no result is counted twice. A failure of the grader is never kept.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import secrets
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from . import course, task
from .course_notebooks import CourseNotebooks
from .records import GRADERS_FAULT, NOT_GRADED, CellResult, Job, Result

# The last run's timing, for the benchmark: seconds from the first task handed to Dask to the last
# result back ("wall"), the tasks' own seconds added up ("tasks"), how many ran ("count"), and
# each task's (assignment, seconds) ("each").
LAST_RUN: dict = {}

GRADER_SECONDS = 300  # a task's budget beyond the notebook's and the re-check's own limits


def task_budget(settings: task.Settings) -> float:
    """Seconds one task may take, from the moment it is handed out: the notebook's wall-clock
    limit in its sandbox, the re-check's, and GRADER_SECONDS for nbgrader's and the grader's own
    work (a few seconds for a course notebook: intake caps what a submission can make it do)."""
    return settings.limits.wall_seconds + max(60, 4 * settings.cell_timeout) + GRADER_SECONDS


def run(jobs: list[Job], settings: task.Settings, *, workers: int = 1,
        scheduler: str | None = None, cache: Path | None = None,
        course_digests: dict[str, str] | None = None, pool=None,
        budget: float | None = None, disk_full=None) -> list[Result]:
    """A Result for every job, in order. ``course_digests``: per assignment, a digest of what its
    results depend on besides the submission (kept results are reused only while it holds).
    ``pool``: who runs the tasks (default: a DaskPool); ``budget``: seconds per task (default
    ``task_budget``); ``disk_full()``: why no task may be handed out now, or None (default: the
    free space of ``cache``'s and the scratch folder's disks)."""
    keys = [task_key(job, settings, (course_digests or {}).get(job.assignment, ""))
            for job in jobs]
    results: list[Result | None] = [_cached(cache, key) for key in keys]
    todo = [n for n, result in enumerate(results) if result is None]
    reused = len(jobs) - len(todo)
    if reused:
        print(f"  {reused} notebook(s) already graded in an earlier run with the same input: "
              f"kept", flush=True)
    if disk_full is None:
        folders = [f for f in (cache.parent if cache else None, settings.scratch) if f]
        disk_full = functools.partial(course.disk_nearly_full, *folders)
    budget = task_budget(settings) if budget is None else budget
    LAST_RUN.clear()  # this run's timing, its retries included
    if todo:
        made = pool is None
        if made:  # found here once, not by every worker before its first notebook
            settings = task.with_packages(settings)
        with (_dask_pool(settings, workers, scheduler, len(todo)) if made
              else contextlib.nullcontext(pool)) as pool:
            for attempt in (1, 2):
                again = [n for n in todo if results[n] is None or not results[n].kept]
                if not again:
                    break
                if attempt == 2:
                    print(f"  {len(again)} notebook(s) got no grade for the grader's reasons: "
                          f"trying them once more", file=sys.stderr)
                stopped = False
                for n, outcome in _hand_out(pool, [jobs[n] for n in again], budget, disk_full,
                                            settings.notebooks):
                    stopped = stopped or outcome.stopped_for_disk
                    new, at = outcome.result, again[n]
                    if new is not None and (results[at] is None or new.kept):
                        results[at] = new   # a second failure keeps the first one's reason
                    if cache is not None and new is not None and new.kept:
                        _store(cache, keys[at], new)
                if stopped:
                    break
    return [result if result is not None else not_graded(
                job, "its grading failed twice (its worker died or the cluster lost it)")
            for job, result in zip(jobs, results)]


class _Outcome:
    """What became of one task handed out (or not): its Result, or None when it got none."""
    __slots__ = ("result", "stopped_for_disk")

    def __init__(self, result: Result | None, stopped_for_disk: bool = False):
        self.result, self.stopped_for_disk = result, stopped_for_disk


def _hand_out(pool, jobs: list[Job], budget: float, disk_full, notebooks: CourseNotebooks):
    """(index, _Outcome) for each of ``jobs``: handed to ``pool`` one at a time as its slots
    free up, longest first (``_code_cells``), each only after ``disk_full()`` said there is room."""
    cells = _code_cells(notebooks, {(job.assignment, job.notebook) for job in jobs})
    waiting = sorted(range(len(jobs)), key=lambda n: -cells[jobs[n].assignment, jobs[n].notebook])
    running: dict = {}   # future -> (index, when handed out)
    progress = Progress(len(jobs))
    for key, empty in (("wall", 0.0), ("tasks", 0.0), ("count", 0), ("each", [])):
        LAST_RUN.setdefault(key, empty)
    started = LAST_RUN.setdefault("started", time.monotonic())
    full = None
    while waiting or running:
        while waiting and len(running) < pool.slots and full is None:
            full = disk_full()
            if full:
                print(f"  STOPPED handing out notebooks: {full}. {len(waiting)} notebook(s) "
                      f"left are not graded: rerun `make grade` once there is room.",
                      file=sys.stderr, flush=True)
                break
            n = waiting.pop(0)
            running[pool.submit(jobs[n], n)] = (n, time.monotonic())
        if not running:
            break
        oldest = min(handed for _, handed in running.values())
        done = pool.wait(set(running), timeout=max(0.0, oldest + budget - time.monotonic()))
        for future in done:
            n, _ = running.pop(future)
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - tried again, then "not graded"
                print(f"  {jobs[n].student}/{jobs[n].assignment}: no result from the cluster "
                      f"({type(error).__name__}: {str(error)[:200]})", file=sys.stderr)
                progress.done(True)
                yield n, _Outcome(None)
                continue
            progress.done(not result.kept)
            LAST_RUN.update(wall=time.monotonic() - started,
                            tasks=LAST_RUN["tasks"] + result.seconds,
                            count=LAST_RUN["count"] + 1)
            LAST_RUN["each"].append((result.assignment, result.seconds))
            yield n, _Outcome(result)
        now = time.monotonic()
        for future, (n, handed) in list(running.items()):
            if now - handed > budget:
                del running[future]
                pool.give_up(future)
                progress.done(True)
                yield n, _Outcome(not_graded(
                    jobs[n], f"its grading took more than {budget:.0f} s and was stopped (the "
                             f"notebook's own time is limited inside its sandbox, so the rest "
                             f"was the grader's: a loaded machine, or a grader bug)"))
    for n in waiting:
        yield n, _Outcome(not_graded(jobs[n], f"not handed out: {full}"), stopped_for_disk=True)
    progress.finish()


class DaskPool:
    """Tasks on a Dask client: ``slots`` at a time (the cluster's threads)."""

    def __init__(self, client, settings: task.Settings):
        self.client = client
        # sent with each task, not scattered once: scattered data lives on workers, and when the
        # worker holding it died, every task that needed it was cancelled ("lost dependencies");
        # so each carries its own assignment's notebooks alone (``for_assignment``)
        self.settings = settings
        self.narrowed: dict[str, task.Settings] = {}
        self.slots = max(1, sum(client.nthreads().values()))

    def for_assignment(self, assignment: str) -> task.Settings:
        """The batch's settings with only ``assignment``'s notebooks: a task of chapter 01 need
        not carry the other chapters' (about 400 KB of the seven, for each of thousands)."""
        if assignment not in self.narrowed:
            self.narrowed[assignment] = replace(
                self.settings, notebooks=self.settings.notebooks.only([assignment]))
        return self.narrowed[assignment]

    def submit(self, job: Job, n: int):
        # a key of its own for each try: a retried task never meets its forgotten first try
        key = f"grade-{n}-{job.student}-{secrets.token_hex(4)}"
        return self.client.submit(task.grade, job, self.for_assignment(job.assignment), key=key,
                                  pure=False)

    def wait(self, futures: set, timeout: float) -> set:
        """The futures done, once one is or ``timeout`` seconds have passed."""
        from distributed import wait
        from distributed.client import FuturesCancelledError

        try:
            return set(wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED").done)
        except TimeoutError:
            return {future for future in futures if future.done()}
        except FuturesCancelledError:  # e.g. its worker killed: collected as a failed try
            return {future for future in futures
                    if future.done() or future.status == "cancelled"}

    def give_up(self, future) -> None:
        """Stop waiting for a task past its budget: cancel it and restart the worker running
        it (a running Python task cannot be stopped otherwise; its sandbox ends with it)."""
        busy = [worker for worker, keys in self.client.processing().items()
                if future.key in keys]
        self.client.cancel(future)
        if busy:
            try:
                self.client.restart_workers(busy, raise_for_error=False)
            except Exception as error:  # noqa: BLE001 - e.g. a worker with no nanny
                print(f"  could not restart the worker of {future.key} ({error}): it goes on "
                      f"with that task", file=sys.stderr)


@contextlib.contextmanager
def _dask_pool(settings: task.Settings, workers: int, scheduler: str | None, count: int):
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        cluster = None
    else:
        cluster = LocalCluster(n_workers=max(1, min(workers, count)), threads_per_worker=1,
                               processes=True, dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        if scheduler:
            print(f"  Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} "
                  f"worker(s); dashboard: {client.dashboard_link}", flush=True)
        client.run(task.warm_up)  # each worker pays its imports once, before the clock starts
        yield DaskPool(client, settings)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _code_cells(notebooks: CourseNotebooks, keys) -> dict[tuple[str, str], int]:
    """How long a task takes, roughly, per (assignment, notebook) of ``keys``: the code cells of
    its instructors' notebook (0 for one ``notebooks`` does not hold)."""
    counts = dict.fromkeys(keys, 0)
    for key in counts:
        if key in notebooks.solution_texts:
            counts[key] = sum(cell.cell_type == "code" for cell in notebooks.solution(*key).cells)
    return counts


class Progress:
    """One line on stderr: notebooks done / total, failures so far, and the time left."""

    def __init__(self, total: int):
        self.total, self.count, self.failures = total, 0, 0
        self.started = time.monotonic()
        self.live = sys.stderr.isatty()
        self.shown = -1

    def done(self, failure: bool) -> None:
        self.count += 1
        self.failures += failure
        tenth = 10 * self.count // self.total
        if self.live or tenth != self.shown or self.count == self.total:
            self.shown = tenth
            elapsed = time.monotonic() - self.started
            left = elapsed / self.count * (self.total - self.count)
            line = (f"  graded {self.count}/{self.total} notebooks, {self.failures} failed, "
                    f"{elapsed:.0f} s so far, about {left:.0f} s left")
            print(f"\r{line}" if self.live else line, end="" if self.live else "\n",
                  file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.live:
            print(file=sys.stderr)


def not_graded(job: Job, why: str) -> Result:
    """A notebook the grader could not grade: no score at all (never a zero), and why."""
    return Result(job.student, job.assignment, job.notebook, notes=[*job.notes,
                  f"{why}: {NOT_GRADED}"], status=GRADERS_FAULT)


# --- results kept between runs -------------------------------------------------------------------

def task_key(job: Job, settings: task.Settings, course_digest: str) -> str:
    """A digest of everything a task's result depends on."""
    digest = hashlib.sha256()
    for part in (job.student, job.assignment, job.notebook, *job.notes, course_digest,
                 repr((settings.cell_timeout, settings.limits, settings.sandbox)),
                 settings.secret):  # another secret draws other hidden cases
        digest.update(part.encode() + b"\0")
    digest.update(job.notebook_bytes or b"(none)")
    return digest.hexdigest()


def _cached(cache: Path | None, key: str) -> Result | None:
    path = cache / f"{key}.json" if cache is not None else None
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        data["cells"] = [CellResult(**dict(cell, found=tuple(cell["found"])))
                         for cell in data["cells"]]
        return Result(**data)
    except (ValueError, TypeError, KeyError):
        return None  # an unreadable cache entry: graded again


def _store(cache: Path, key: str, result: Result) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{key}.json.part"
    partial.write_text(json.dumps(asdict(result)))
    partial.rename(cache / f"{key}.json")
