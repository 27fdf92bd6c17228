"""Your progress: every chapter's exercises, each ✓, ✗ or not written, from your notebooks as they are.

    python -m tconv.progress [FOLDER]          (`make progress` in the learners' copy; FOLDER: course)

Each chapter's notebook, FOLDER/<chapter>/<chapter>.ipynb, runs from the top in a fresh kernel (two
chapters at a time on a machine with two cores or more), as *Validate* runs it: every cell in
order, going on past a failing one so that every check runs. The notebook files are only read:
nothing in them changes. An exercise is *not written* while its cell still holds
``raise NotImplementedError()``; otherwise ✓ when every one of its check cells ran without an
error, ✗ (with how many failed) when not. The checks' messages are in the notebook.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

STUB = re.compile(r"^\s*raise NotImplementedError\(\)\s*$", re.MULTILINE)
DEFINED = re.compile(r"^(?:def|class)\s+(\w+)", re.MULTILINE)
CELL_TIMEOUT = 300  # seconds, as Validate's (jupyter-config/nbgrader_config.py)


@dataclasses.dataclass(frozen=True)
class Exercise:
    chapter: str
    name: str
    written: bool
    checks: int
    failed: int

    @property
    def status(self) -> str:
        if not self.written:
            return "not written"
        return "✓" if not self.failed else f"✗ ({self.failed} of {self.checks} checks fail)"


def _role(cell) -> str | None:
    # nbgrader.utils.is_solution / is_grade read the same keys; importing nbgrader costs a learner's
    # `make progress` seconds (its package imports its server extensions), so they are read here.
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if cell.cell_type != "code":
        return None
    return "answer" if meta.get("solution") else "check" if meta.get("grade") else None


def exercises(notebook, chapter: str) -> list[Exercise]:
    """The exercises of an executed notebook: each answer cell with the check cells after it
    (an answer cell with no check, e.g. a function pasted from an earlier chapter, is left out)."""
    found: list[dict] = []
    for cell in notebook.cells:
        role = _role(cell)
        if role == "answer":
            names = DEFINED.findall(cell.source)
            found.append(dict(name=names[0] if names else cell.metadata["nbgrader"]["grade_id"],
                              written=not STUB.search(cell.source), checks=0, failed=0))
        elif role == "check" and found:
            found[-1]["checks"] += 1
            found[-1]["failed"] += any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    return [Exercise(chapter, **item) for item in found if item["checks"]]


def run_chapter(path: Path):
    """The chapter's notebook, read from ``path`` and executed in memory (the file is not written)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    # as in Validate: chapters 06 and 07 train briefly, and no picture opens a window (the
    # kernel's environment only: this process's is left as it is)
    env = dict(os.environ, NBGRADER_EXECUTION="validate", MPLBACKEND="Agg")
    NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}
                   ).execute(stderr=subprocess.DEVNULL, env=env)  # the kernel's log, not the cells'
    return notebook


def progress(folder: Path, say=print) -> list[Exercise]:
    """Every chapter's exercises, in the chapters' order; two chapters run at a time where the
    machine has two cores or more (each kernel spends its first seconds importing, which the
    other's computing overlaps)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = [path for path in sorted(folder.glob("*/*.ipynb"))
             if ".ipynb_checkpoints" not in path.parts and path.stem == path.parent.name]
    kernels = min(2, os.cpu_count() or 1)

    def run(path: Path) -> list[Exercise]:
        say(f"running {path.relative_to(folder)} ...", flush=True)
        return exercises(run_chapter(path), path.parent.name)

    with ThreadPoolExecutor(kernels, thread_name_prefix="chapter") as pool:
        return [row for rows in pool.map(run, paths) for row in rows]


def table(rows: list[Exercise]) -> str:
    header = ("chapter", "exercise", "checks")
    lines = [header] + [(row.chapter, row.name, row.status) for row in rows]
    widths = [max(len(line[n]) for line in lines) for n in range(2)]
    text = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in lines]
    done = sum(row.written and not row.failed for row in rows)
    return "\n".join(text + [f"{done} of {len(rows)} exercises pass every check"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="course", type=Path,
                        help="the folder of the chapters' folders (default: course)")
    folder = parser.parse_args(argv).folder
    if not any(folder.glob("*/*.ipynb")):
        raise SystemExit(f"error: no chapter notebooks in {folder}/ (expected "
                         f"{folder}/<chapter>/<chapter>.ipynb): run this in the course's folder")
    rows = progress(folder)
    print(table(rows))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
