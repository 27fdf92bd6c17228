"""The runner and the task's verdict on whose fault a failure is, with a pool of threads instead of
Dask and a stand-in for nbgrader's work (runner.run's ``pool``): a grader's failure is tried
again, never kept, never a score; a nearly full disk stops the handing out; a task past its
budget is given up. The real pipeline runs in the class batch (test_grading.py)."""

from __future__ import annotations

import concurrent.futures
import errno
import pickle
import tempfile
import threading

import pytest

from tconv.grader import course, runner, task
from tconv.grader.records import GRADED, GRADERS_FAULT, NOT_GRADED, CellResult, Job

CELLS = {"seed_example": 1.0, "random_cases": 2.0}


class ThreadPool:
    """runner.run's pool: ``grade(job)`` in threads, ``slots`` at a time."""

    def __init__(self, grade, slots: int = 1):
        self.grade, self.slots, self.given_up = grade, slots, []
        self.executor = concurrent.futures.ThreadPoolExecutor(4)

    def submit(self, job, n):
        return self.executor.submit(self.grade, job)

    def wait(self, futures, timeout):
        return concurrent.futures.wait(futures, timeout,
                                       return_when=concurrent.futures.FIRST_COMPLETED).done

    def give_up(self, future):
        self.given_up.append(future)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where Settings writes its template
    monkeypatch.setattr(task, "graded_cells", lambda db, assignment, notebook: dict(CELLS))
    return task.Settings(template=b"a gradebook", scratch=str(tmp_path))


def class_of(*students):
    return [Job(student, "01_chapter", "01_chapter", b'{"cells": []}') for student in students]


def test_a_full_disk_is_never_a_students_zero_and_a_rerun_gives_the_real_grades(
        settings, tmp_path, monkeypatch):
    """The issue's scenario: the disk fills while honest students are graded (every task fails
    with ENOSPC). Each is tried twice, reported "not graded: rerun" with the reason, given no
    score and not kept; once there is room, the same command grades them for real, and a third
    run reuses those grades."""
    cache, calls = tmp_path / "results", []

    def disk_full(job, settings, result):
        calls.append(job.student)
        raise OSError(errno.ENOSPC, "No space left on device")

    def graded(job, settings, result):
        calls.append(job.student)
        result.cells += [CellResult(name, points, points, points) for name, points in CELLS.items()]

    jobs = class_of("ada", "grace")
    monkeypatch.setattr(task, "_grade_in", disk_full)
    first = runner.run(jobs, settings, cache=cache, pool=ThreadPool(lambda job: task.grade(job, settings)),
                       disk_full=lambda: None)
    assert sorted(calls) == ["ada", "ada", "grace", "grace"]  # tried once more
    for result in first:
        assert result.status == GRADERS_FAULT and result.cells == [] and not result.kept
        assert "No space left on device" in result.notes[-1] and NOT_GRADED in result.notes[-1]
    assert not cache.exists() or not list(cache.iterdir())

    calls.clear()
    monkeypatch.setattr(task, "_grade_in", graded)
    second = runner.run(jobs, settings, cache=cache, pool=ThreadPool(lambda job: task.grade(job, settings)),
                        disk_full=lambda: None)
    assert sorted(calls) == ["ada", "grace"]
    assert [sum(cell.score for cell in r.cells) for r in second] == [3.0, 3.0]
    assert all(r.status == GRADED for r in second)

    calls.clear()
    third = runner.run(jobs, settings, cache=cache, pool=ThreadPool(lambda job: task.grade(job, settings)),
                       disk_full=lambda: None)
    assert calls == [] and [r.cells for r in third] == [r.cells for r in second]


@pytest.mark.parametrize("log, status, words", [
    ("Traceback ...\nnbclient.exceptions.DeadKernelError: Kernel died", "student", "kernel died"),
    ("CellTimeoutError: ... Timeout waiting for IOPub output", "student", "output stopped"),
    ("sqlite3.OperationalError: database or disk is full", "grader", NOT_GRADED),
    ("OSError: [Errno 28] No space left on device", "grader", NOT_GRADED),
    ("RuntimeError: Kernel died before replying to kernel_info", "grader", NOT_GRADED),
    ("KeyError: 'something nbgrader did not expect'", "grader", NOT_GRADED),
])
def test_whose_fault_an_nbgrader_failure_is(log, status, words):
    """The kernel dying or its output stopping is the notebook's (zeros); no space, the database,
    a kernel that never started, or any crash of nbgrader is the grader's (no score)."""
    found, note = task.why_not_graded({"log": log, "error": ""})
    assert found == status and words in note


def test_the_grader_crashing_on_a_notebook_is_the_graders_fault(settings, monkeypatch):
    def crash(job, settings, result):
        raise KeyError("a bug in the grader")

    monkeypatch.setattr(task, "_grade_in", crash)
    result = task.grade(class_of("ada")[0], settings)
    assert result.status == GRADERS_FAULT and result.cells == []
    assert "KeyError" in result.notes[-1] and NOT_GRADED in result.notes[-1]
    missing = task.grade(Job("bob", "01_chapter", "01_chapter", None, ("missing",)), settings)
    assert missing.status == "student" and [c.score for c in missing.cells] == [0.0, 0.0]


def test_a_nearly_full_disk_stops_the_handing_out(settings, monkeypatch):
    monkeypatch.setattr(task, "_grade_in", lambda job, settings, result: None)
    checks = iter([None, "the disk of /grades is nearly full (12 MB free)"])
    results = runner.run(class_of("ada", "bob", "carl"), settings, disk_full=lambda: next(checks),
                         pool=ThreadPool(lambda job: task.grade(job, settings)))
    assert [r.status for r in results] == [GRADED, GRADERS_FAULT, GRADERS_FAULT]
    assert "nearly full (12 MB free)" in results[1].notes[-1]
    assert NOT_GRADED in results[2].notes[-1] and results[2].cells == []


def test_a_task_past_its_budget_is_given_up_and_not_graded(settings, monkeypatch):
    """One task never comes back: the runner stops waiting for it after its budget, tells the
    pool to give it up (Dask: cancel, restart its worker), and grades the others."""
    release = threading.Event()

    def grade(job):
        if job.student == "hangs":
            release.wait()
        return task.grade(job, settings)

    monkeypatch.setattr(task, "_grade_in", lambda job, settings, result: None)
    pool = ThreadPool(grade, slots=2)
    try:
        results = runner.run(class_of("hangs", "ada"), settings, pool=pool, budget=0.5,
                             disk_full=lambda: None)
    finally:
        release.set()
    assert [r.status for r in results] == [GRADERS_FAULT, GRADED]
    assert "took more than" in results[0].notes[-1] and len(pool.given_up) == 2  # both attempts


def test_a_task_lost_twice_is_not_graded(settings):
    def lost(job):
        raise RuntimeError("worker died")

    result, = runner.run(class_of("ada"), settings, pool=ThreadPool(lost), disk_full=lambda: None)
    assert result.status == GRADERS_FAULT and result.cells == []
    assert "failed twice" in result.notes[-1]


@pytest.mark.slow
def test_a_killed_worker_costs_no_later_task_the_batchs_settings(settings):
    """The batch's settings travel with each task. Scattered once, they lived on one worker: when
    that worker was killed, every task handed out after it was cancelled ("lost dependencies")
    and the whole class came out not graded (CI, 2026-12-05)."""
    import os
    import signal

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        pool = runner.DaskPool(client, settings)
        pid, = client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)  # its nanny starts another
        client.wait_for_workers(1, timeout=60)
        missing = Job("bob", "01_chapter", "01_chapter", None, ("missing",))
        result = pool.submit(missing, 0).result(timeout=120)
    assert result.job_student == "bob" and "missing" in result.notes


def test_a_task_on_dask_carries_its_own_assignments_notebooks_alone():
    """Settings travel with every task (above): a chapter-01 task carries chapter 01's
    instructors' and released notebooks, not the batch's seven chapters (about 400 KB)."""
    from tconv.grader.course_notebooks import CourseNotebooks

    class Client:
        sent = []

        def nthreads(self):
            return {"worker": 1}

        def submit(self, function, job, settings, **options):
            self.sent.append((job.assignment, settings))

    chapters = course.assignments()
    batch = task.Settings(b"a gradebook", notebooks=CourseNotebooks.read(chapters))
    pool = runner.DaskPool(Client(), batch)
    for n, chapter in enumerate([chapters[0], chapters[-1], chapters[0]]):
        pool.submit(Job("ada", chapter, chapter, b"{}"), n)
    for chapter, settings in Client.sent:
        assert settings.notebooks.assignments == [chapter]
        assert settings.notebooks.solution(chapter, chapter) == batch.notebooks.solution(chapter,
                                                                                          chapter)
        assert settings.template == batch.template and settings.secret == batch.secret
    assert len(pickle.dumps(Client.sent[0][1])) < len(pickle.dumps(batch)) / 3
