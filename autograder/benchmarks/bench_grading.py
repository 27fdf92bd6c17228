"""Seconds per notebook: executing a solutions notebook vs. grading the same answers.

    python autograder/benchmarks/bench_grading.py [--students N]

Execution: nbclient runs each solutions/ notebook once, top to bottom, in a fresh kernel.
Grading: `tconv.grading` grades N copies of the perfect sample student in one batch (nbgrader's
start-up, gradebook, autograde and feedback included), divided by the number of notebooks.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2)
    args = parser.parse_args()

    print("executing each solutions notebook once:")
    executed = {}
    for path in sorted(course.SOLUTIONS.glob("*/*.ipynb")):
        executed[path.stem] = execute_seconds(path)
        print(f"  {path.stem:<28} {executed[path.stem]:6.1f} s")

    with tempfile.TemporaryDirectory() as scratch:
        submitted = Path(scratch) / "submitted"
        for n in range(args.students):
            shutil.copytree(course.SAMPLE_SUBMISSIONS / "perfect", submitted / f"student{n:02d}")
        notebooks = len(list(submitted.glob("*/*/*.ipynb")))
        start = time.perf_counter()
        grading.grade(submitted, Path(scratch) / "grades", cell_timeout=120)
        graded = time.perf_counter() - start

    mean_executed = sum(executed.values()) / len(executed)
    print(f"execution: {mean_executed:.1f} s per notebook (mean of {len(executed)})")
    print(f"grading:   {graded / notebooks:.1f} s per notebook ({notebooks} notebooks, "
          f"{args.students} students, {graded:.0f} s in all)")


if __name__ == "__main__":
    main()
