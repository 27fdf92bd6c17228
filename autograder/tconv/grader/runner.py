"""Who runs the tasks: Dask, on this machine or on a cluster.

Each student notebook is one task, ``task.grade(job, settings)``: a snapshot (bytes) in, a Result
(data) out. ``run`` hands the tasks to Dask and collects the results; it never writes a grade.

- ``scheduler=None``: a local cluster of ``workers`` processes, one thread each (``make grade
  JOBS=N``, nothing to set up).
- ``scheduler="tcp://host:8786"``: an existing cluster (``make grade SCHEDULER=...``); its workers
  need this repository and its environment, and each applies the same sandbox, as the task does.

Nothing is lost when a worker is: Dask gives a task whose worker died to another worker (the task
is pure, so running it twice is harmless); a task that fails on ``allowed_failures`` workers, or
never comes back, becomes a Result with a note and zeros. Finished results are kept under
``cache`` (one JSON file per task, named by a digest of everything the result depends on), so a
second run on the same input does only what is missing, and no result is counted twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import nbformat

from . import course, task
from .records import CellResult, Job, Result


# The last run's timing, for the benchmark: seconds from the first task handed to Dask to the last
# result back ("wall"), the tasks' own seconds added up ("tasks"), and how many ran ("count").
LAST_RUN: dict = {}


def run(jobs: list[Job], settings: task.Settings, *, workers: int = 1,
        scheduler: str | None = None, cache: Path | None = None,
        course_digests: dict[str, str] | None = None) -> list[Result]:
    """A Result for every job, in order. ``course_digests``: per assignment, a digest of what its
    results depend on besides the submission (kept results are reused only while it holds)."""
    keys = [task_key(job, settings, (course_digests or {}).get(job.assignment, ""))
            for job in jobs]
    results: list[Result | None] = [_cached(cache, key) for key in keys]
    todo = [n for n, result in enumerate(results) if result is None]
    reused = len(jobs) - len(todo)
    if reused:
        print(f"  {reused} notebook(s) already graded in an earlier run with the same input: "
              f"kept", flush=True)
    if todo:
        for attempt in (1, 2):
            missing = [n for n in todo if results[n] is None]
            if not missing:
                break
            if attempt == 2:
                print(f"  {len(missing)} task(s) got no result: trying them once more",
                      file=sys.stderr)
            for n, result in _on_dask([jobs[n] for n in missing], settings, workers, scheduler):
                results[missing[n]] = result
                if cache is not None and not _failed_in_grading(result):
                    _store(cache, keys[missing[n]], result)
    return [result if result is not None else failed(
                job, settings, "its grading failed twice (its worker died or the cluster lost it)")
            for job, result in zip(jobs, results)]


def _on_dask(jobs: list[Job], settings: task.Settings, workers: int, scheduler: str | None):
    """(index, Result) as each task finishes."""
    from distributed import Client, LocalCluster, as_completed

    if scheduler:
        client = Client(scheduler, timeout="30s")
        cluster = None
    else:
        cluster = LocalCluster(n_workers=max(1, min(workers, len(jobs))), threads_per_worker=1,
                               processes=True, dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        if scheduler:
            print(f"  Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} "
                  f"worker(s); dashboard: {client.dashboard_link}", flush=True)
        client.run(task.warm_up)  # each worker pays its imports once, before the clock starts
        shared = client.scatter(settings, broadcast=True)
        # Dask starts tasks in the order they are submitted: the longest first, so that the
        # batch does not end with one worker busy on a long notebook and the others idle.
        longest_first = sorted(range(len(jobs)), key=lambda n: -_code_cells(jobs[n]))
        futures = [client.submit(task.grade, jobs[n], shared, key=f"grade-{n}-{jobs[n].student}",
                                 pure=False) for n in longest_first]
        index = {future.key: n for n, future in zip(longest_first, futures)}
        progress = Progress(len(futures))
        LAST_RUN.update(wall=0.0, tasks=0.0, count=0)
        started = time.monotonic()
        for future in as_completed(futures):
            n = index[future.key]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - tried again, then a note
                print(f"  {jobs[n].student}/{jobs[n].assignment}: no result from the cluster "
                      f"({type(error).__name__}: {str(error)[:200]})", file=sys.stderr)
                progress.done(True)
                continue
            progress.done(_failed_in_grading(result))
            LAST_RUN.update(wall=time.monotonic() - started, tasks=LAST_RUN["tasks"] + result.seconds,
                            count=LAST_RUN["count"] + 1)
            yield n, result
        progress.finish()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _code_cells(job: Job) -> int:
    """How long a task takes, roughly: the code cells of its instructors' notebook."""
    return _source_code_cells(job.assignment, job.notebook)


@functools.cache
def _source_code_cells(assignment: str, notebook: str) -> int:
    source = course.SOLUTIONS / assignment / f"{notebook}.ipynb"
    if not source.exists():
        return 0
    return sum(cell.cell_type == "code" for cell in nbformat.read(source, as_version=4).cells)


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


def failed(job: Job, settings: task.Settings, why: str) -> Result:
    cells = [CellResult(grade_id, 0.0, points, 0.0) for grade_id, points in
             task.graded_cells(settings.template_db, job.assignment, job.notebook).items()]
    return Result(job.student, job.assignment, job.notebook, cells=cells,
                  notes=[*job.notes, f"{why}: every graded cell scores 0"])


def _failed_in_grading(result: Result) -> bool:
    return any("its grading" in note for note in result.notes)


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
        data["cells"] = [CellResult(**cell) for cell in data["cells"]]
        return Result(**data)
    except (ValueError, TypeError, KeyError):
        return None  # an unreadable cache entry: graded again


def _store(cache: Path, key: str, result: Result) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{key}.json.part"
    partial.write_text(json.dumps(asdict(result)))
    partial.rename(cache / f"{key}.json")
