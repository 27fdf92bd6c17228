"""Seconds per notebook: executing the solutions vs. grading a synthetic class, with and without
the sandbox, JOBS=1 vs. JOBS=2.

    python autograder/benchmarks/bench_grading.py [--students N] [--assignments A ...]

Execution: nbclient runs each solutions/ notebook once, top to bottom, in a fresh kernel.
Grading: `tconv.grader.grading` grades N copies of the perfect sample student (default: 20 students,
chapters 01-02) in one batch: worker start-up, gradebook, sandboxed autograde, the re-check,
feedback and export included; with the sandbox on and off, with one job and with two.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tconv.grader import course, grading, runner


def execute_seconds(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def grading_seconds(students: int, assignments: list[str], jobs: int,
                    sandboxed: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as scratch:
        submitted = Path(scratch) / "submitted"
        for n in range(students):
            for assignment in assignments:
                shutil.copytree(course.SAMPLE_SUBMISSIONS / "perfect" / assignment,
                                submitted / f"student{n:02d}" / assignment)
        notebooks = len(list(submitted.glob("*/*/*.ipynb")))
        start = time.perf_counter()
        grading.grade(submitted, Path(scratch) / "grades", cell_timeout=120, jobs=jobs,
                      sandbox_mode="on" if sandboxed else "off")
        return time.perf_counter() - start, notebooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--assignments", nargs="+", default=course.assignments()[:2])
    args = parser.parse_args()

    print("executing each solutions notebook once:")
    executed = {}
    for assignment in args.assignments:
        for name in course.notebooks(assignment):
            executed[name] = execute_seconds(course.SOLUTIONS / assignment / f"{name}.ipynb")
            print(f"  {name:<28} {executed[name]:6.1f} s")
    mean_executed = sum(executed.values()) / len(executed)

    print(f"execution: {mean_executed:.1f} s per notebook (mean of {len(executed)})")
    per_notebook = {}
    for sandboxed in (True, False):
        for jobs in (1, 2):
            seconds, notebooks = grading_seconds(args.students, args.assignments, jobs, sandboxed)
            per_notebook[(sandboxed, jobs)] = seconds / notebooks
            dask = runner.LAST_RUN
            overhead = (jobs * dask["wall"] - dask["tasks"]) / dask["count"]
            print(f"grading, sandbox {'on ' if sandboxed else 'off'}, JOBS={jobs}: "
                  f"{seconds / notebooks:.1f} s per notebook, {60 * notebooks / seconds:.1f} "
                  f"notebooks per minute ({args.students} students, {notebooks} notebooks, "
                  f"{seconds:.0f} s in all); a task takes {dask['tasks'] / dask['count']:.2f} s "
                  f"on its worker, Dask adds {overhead:.2f} s per task "
                  f"({overhead / (dask['tasks'] / dask['count']):.1%})", flush=True)
    for sandboxed in (True, False):
        one, two = per_notebook[(sandboxed, 1)], per_notebook[(sandboxed, 2)]
        print(f"sandbox {'on ' if sandboxed else 'off'}: JOBS=1 grades at {one / mean_executed:.2f}x "
              f"the time of executing; JOBS=2 is {one / two:.2f}x faster than JOBS=1")
    print(f"the sandbox costs {per_notebook[(True, 1)] / per_notebook[(False, 1)]:.2f}x "
          f"(JOBS=1)")


if __name__ == "__main__":
    main()
