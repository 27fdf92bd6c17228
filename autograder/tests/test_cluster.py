"""Grading on Dask: a scheduler and two worker processes started here stand in for a cluster; a
worker is killed mid-batch; the grades are the same, cell by cell, as the session's local batch
gave the same notebooks (conftest.graded_class, whose scores test_grading checks against the
catalog). That a second run grades nothing again: test_grading."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import classroom
from tconv.grader import course, grading, verdicts

CH01 = "01_scatter_add_1d"
STUDENTS = ["perfect", "untouched", "overwrites_instead_of_adding", "integer_output_array"]


@pytest.fixture(scope="session")
def small_class(tmp_path_factory) -> Path:
    submitted = tmp_path_factory.mktemp("cluster") / "submitted"
    for student in STUDENTS:
        shutil.copytree(course.SAMPLE_SUBMISSIONS / student / CH01, submitted / student / CH01)
    return submitted


def _cells(rows) -> dict:
    return {(r["student_id"], r["grade_id"]): r["score"] for r in rows
            if r["student_id"] in STUDENTS and r["assignment"] == CH01}


class Cluster:
    """`dask scheduler` and two `dask worker` processes on this machine's loopback."""

    def __init__(self, folder: Path):
        self.file = folder / "scheduler.json"
        dask = str(Path(sys.executable).parent / "dask")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.file)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        import json

        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [subprocess.Popen(
            [dask, "worker", self.address, "--nthreads", "1", "--nworkers", "1",
             "--no-dashboard", "--name", f"worker{n}"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True) for n in range(2)]
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)

    def worker_pids(self) -> list[int]:
        """The worker processes themselves (children of the nannies)."""
        found = subprocess.run(["pgrep", "-f", "distributed.nanny|dask worker|spawn_main"],
                               capture_output=True, text=True).stdout.split()
        nannies = {w.pid for w in self.workers}
        return [int(pid) for pid in found if _parent(int(pid)) in nannies]

    def close(self):
        for process in [*self.workers, self.scheduler]:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


@dataclass
class OnCluster:
    rows: list[dict]   # what grading.grade returned
    killed: list[int]  # the worker killed while it graded
    printed: str       # what grading printed


@pytest.fixture(scope="session")
def graded_on_cluster(small_class, tmp_path_factory) -> OnCluster:
    """The small class graded on a scheduler and two workers; one worker is killed as soon as
    it runs a notebook's kernel. Session-scoped: it runs early, beside the session's class batch,
    and the comparison with that batch comes once the batch is done."""
    running = Cluster(tmp_path_factory.mktemp("scheduler"))
    killed = []

    def kill_a_worker_once_busy():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = [pid for pid in running.worker_pids()
                    if any("ipykernel" in _cmdline(child) for child in _children(pid))]
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_worker_once_busy)
    killer.start()
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            rows = grading.grade(small_class, tmp_path_factory.mktemp("cluster-grades"),
                                 cell_timeout=classroom.CELL_TIMEOUT, scheduler=running.address)
    finally:
        killer.join()
        running.close()
    return OnCluster(rows, killed, printed.getvalue())


def test_a_cluster_that_loses_a_worker_still_grades_everyone(graded_on_cluster, sample_catalog):
    """Every graded cell of every student, each with the score samples.toml states."""
    assert graded_on_cluster.killed, "no worker was busy grading, so none was killed"
    graded = _cells(graded_on_cluster.rows)
    cells = [grade_id for grade_id, _ in verdicts.test_cells(course.SOLUTIONS / CH01 / f"{CH01}.ipynb")]
    assert sorted(graded) == sorted((s, c) for s in STUDENTS for c in cells)
    for row in graded_on_cluster.rows:
        want = classroom.catalog_score(sample_catalog[row["student_id"]], row)
        assert float(row["score"]) == want, (row["student_id"], row["grade_id"], row["score"])
    assert "dashboard" in graded_on_cluster.printed


def test_the_cluster_gives_the_local_batchs_grades_cell_by_cell(graded_on_cluster, graded_class):
    rows = graded_class.rows
    assert _cells(graded_on_cluster.rows) == _cells(rows)
    assert len(_cells(rows)) > len(STUDENTS)  # every graded cell of chapter 01, for each of them
    assert {score > 0 for score in _cells(rows).values()} == {True, False}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent(int(entry.name)) == pid:
            found.append(int(entry.name))
            found += _children(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
