"""Seconds per notebook: executing the solutions vs. grading a synthetic class, JOBS=1 vs. JOBS=2.

    python autograder/benchmarks/bench_grading.py [--students N] [--assignments A ...]

Execution: nbclient runs each solutions/ notebook once, top to bottom, in a fresh kernel.
Grading: `tconv.grading` grades N copies of the perfect sample student (the whole course, or the
named assignments) in one batch: nbgrader's start-up, gradebook, autograde, the re-check outside
the kernel, feedback and export included, once with one job and once with two.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tconv import course, grading


def execute_seconds(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def grading_seconds(students: int, assignments: list[str], jobs: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as scratch:
        submitted = Path(scratch) / "submitted"
        for n in range(students):
            for assignment in assignments:
                shutil.copytree(course.SAMPLE_SUBMISSIONS / "perfect" / assignment,
                                submitted / f"student{n:02d}" / assignment)
        notebooks = len(list(submitted.glob("*/*/*.ipynb")))
        start = time.perf_counter()
        grading.grade(submitted, Path(scratch) / "grades", cell_timeout=120, jobs=jobs)
        return time.perf_counter() - start, notebooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--assignments", nargs="+", default=course.assignments())
    args = parser.parse_args()

    print("executing each solutions notebook once:")
    executed = {}
    for assignment in args.assignments:
        for name in course.notebooks(assignment):
            executed[name] = execute_seconds(course.SOLUTIONS / assignment / f"{name}.ipynb")
            print(f"  {name:<28} {executed[name]:6.1f} s")
    mean_executed = sum(executed.values()) / len(executed)

    print(f"execution: {mean_executed:.1f} s per notebook (mean of {len(executed)})")
    for jobs in (1, 2):
        seconds, notebooks = grading_seconds(args.students, args.assignments, jobs)
        print(f"grading, JOBS={jobs}: {seconds / notebooks:.1f} s per notebook "
              f"({args.students} students, {notebooks} notebooks, {seconds:.0f} s in all)",
              flush=True)


if __name__ == "__main__":
    main()
