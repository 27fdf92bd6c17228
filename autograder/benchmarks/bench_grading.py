"""Seconds per notebook, per chapter: running a chapter as a learner does against grading it, measured
side by side in one run; then JOBS=2 against JOBS=1 on one batch.

    python autograder/benchmarks/bench_grading.py [--students N] [--repeats R] [--chapters 01 02 ...]
                                                  [--jobs-students M] [--sandbox on|off]

Executing: nbclient runs the chapter's solutions notebook top to bottom in a fresh kernel, as Run All
does (kernel start-up included), R times; the median.
Grading: `tconv.grader.grading` grades N copies of the perfect sample student's notebooks of those
chapters in one batch with JOBS=1, R times: each notebook's task on its worker (sandboxed kernel,
autograde, the re-check, feedback), the median per chapter; and the batch's fixed cost once per
batch (probe, gradebook, workers' start-up), the wall time not spent in tasks.
Each repeat executes then grades, so both see the machine in the same state.
JOBS: M students x chapters 01-02 (20 notebooks by default) graded with JOBS=1 and JOBS=2.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tconv.grader import course, grading, runner


def execute_seconds(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def grade_batch(students: int, assignments: list[str], jobs: int, sandbox: str) -> dict:
    """{"wall": s, "tasks": {assignment: [s, ...]}, "count": n} of one batch of the perfect sample."""
    with tempfile.TemporaryDirectory(prefix="tconv-bench-") as scratch:
        submitted = Path(scratch) / "submitted"
        for n in range(students):
            for assignment in assignments:
                shutil.copytree(course.SAMPLE_SUBMISSIONS / "perfect" / assignment,
                                submitted / f"student{n:02d}" / assignment)
        start, cpu = time.perf_counter(), _cpu_seconds()
        rows = grading.grade(submitted, Path(scratch) / "grades", jobs=jobs, sandbox_mode=sandbox)
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    wrong = [row for row in rows if float(row.get("score") or 0) < float(row.get("max_score") or 0)]
    if wrong:
        raise SystemExit(f"the perfect sample lost points: {wrong[:3]}")
    tasks = defaultdict(list)
    for assignment, seconds in runner.LAST_RUN["each"]:
        tasks[assignment].append(seconds)
    return {"wall": wall, "tasks": tasks, "count": runner.LAST_RUN["count"], "cpu": cpu}


def _cpu_seconds() -> float:
    """CPU seconds of this process and every process it started that has ended (the workers, and
    through them the kernels and re-check children, are waited for when the batch ends)."""
    return sum(getattr(resource.getrusage(who), field)
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chapters", nargs="+", default=None, help="e.g. 01 07 (default: all)")
    parser.add_argument("--jobs-students", type=int, default=10,
                        help="students x chapters 01-02 for JOBS=1 against JOBS=2 (0: skip)")
    parser.add_argument("--sandbox", default="on")
    args = parser.parse_args()
    assignments = [a for a in course.assignments()
                   if args.chapters is None or a.split("_")[0] in args.chapters]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}; {args.students} students x {len(assignments)} chapters, "
          f"{args.repeats} repeats, sandbox {args.sandbox}", flush=True)

    executed, graded, fixed = defaultdict(list), defaultdict(list), []
    for repeat in range(args.repeats):
        for assignment in assignments:
            for name in course.notebooks(assignment):
                executed[assignment].append(
                    execute_seconds(course.SOLUTIONS / assignment / f"{name}.ipynb"))
        batch = grade_batch(args.students, assignments, 1, args.sandbox)
        for assignment, seconds in batch["tasks"].items():
            graded[assignment] += seconds
        fixed.append(batch["wall"] - sum(sum(s) for s in batch["tasks"].values()))
        print(f"  repeat {repeat + 1}: batch of {batch['count']} notebooks, {batch['wall']:.0f} s "
              f"(load {os.getloadavg()[0]:.2f})", flush=True)

    print(f"\n{'chapter':<28} {'executing':>10} {'grading':>9} {'ratio':>6}   (s per notebook, "
          f"medians)")
    for assignment in assignments:
        run, grade = statistics.median(executed[assignment]), statistics.median(graded[assignment])
        print(f"{assignment:<28} {run:>9.1f}s {grade:>8.1f}s {grade / run:>6.2f}")
    print(f"a batch's fixed cost (probe, gradebook, workers' start-up, not in any task): "
          f"{statistics.median(fixed):.1f} s (median of {len(fixed)})")

    if args.jobs_students:
        first = course.assignments()[:2]
        walls = {}
        for jobs in (1, 2):
            batch = grade_batch(args.jobs_students, first, jobs, args.sandbox)
            walls[jobs] = batch["wall"]
            tasks = sum(sum(s) for s in batch["tasks"].values())
            print(f"JOBS={jobs}: {batch['count']} notebooks in {batch['wall']:.0f} s "
                  f"({batch['wall'] / batch['count']:.2f} s a notebook; the tasks' own seconds "
                  f"{tasks / batch['count']:.2f} each; {batch['cpu']:.0f} CPU seconds, "
                  f"{batch['cpu'] / batch['wall']:.2f} cores busy on average; load "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
        print(f"JOBS=2 is {walls[1] / walls[2]:.2f}x faster than JOBS=1")


if __name__ == "__main__":
    main()
