"""Generate the learners' notebooks and the sample submissions from solutions/.

    python -m tconv.grader.release [--into DIR]

writes course/<assignment>/<notebook>.ipynb with `nbgrader generate_assignment` (answers replaced
by stubs, hidden tests removed), then autograder/samples/submitted/ from the released notebooks
and autograder/samples/samples.toml. ``--into DIR`` writes both into DIR instead (DIR/course,
DIR/samples), which is how the tests check that the committed copies are up to date.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import tomllib
from pathlib import Path

import nbformat

from . import course
from .cells import cell_id, delimiters, is_solution


def release_notebooks(into: Path) -> None:
    """`nbgrader generate_assignment` for every assignment, into ``into``."""
    with tempfile.TemporaryDirectory() as scratch:
        course.generate_assignments(course.assignments(), release_directory=into,
                                    db_url=f"sqlite:///{scratch}/gradebook.db")
    missing = [a for a in course.assignments() if not (into / a).is_dir()]
    if missing:
        raise RuntimeError(f"nbgrader released no notebook for {missing}")


def stale(released: Path | None = None) -> list[str]:
    """The learners' notebooks in ``released`` (default course/) that differ from what `make
    release` writes now from solutions/: changed, missing or extra, by path. Compared by content
    (the release is reproducible to the byte), not by file times, which a checkout resets."""
    released = course.COURSE if released is None else Path(released)
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "course"
        release_notebooks(fresh)
        wanted = {str(p.relative_to(fresh)): p.read_bytes() for p in fresh.rglob("*.ipynb")}
    present = {str(p.relative_to(released)): p.read_bytes() for p in released.rglob("*.ipynb")
               if ".ipynb_checkpoints" not in p.parts}
    return sorted(name for name in wanted.keys() | present.keys()
                  if wanted.get(name) != present.get(name))


# --- sample submissions --------------------------------------------------------------------------

def load_catalog(path: Path = course.SAMPLES / "samples.toml") -> dict:
    """The sample students: {student_id: spec}. See autograder/samples/README.md."""
    with open(path, "rb") as file:
        students = tomllib.load(file)["students"]
    for student, spec in students.items():
        if spec.get("answers", "solutions") not in {"solutions", "none"}:
            raise ValueError(f"samples.toml: [students.{student}] answers must be 'solutions' or "
                             f"'none', not {spec['answers']!r}")
    return students


def solution_sources() -> dict[str, str]:
    """{grade_id: the instructors' answer} for every solution cell, markers removed."""
    answers = {}
    for assignment in course.assignments():
        for name in course.notebooks(assignment):
            notebook = nbformat.read(course.SOLUTIONS / assignment / f"{name}.ipynb", as_version=4)
            for cell in notebook.cells:
                if is_solution(cell):
                    answers[cell_id(cell)] = delimiters().solution.unmarked(cell.source)
    return answers


def build_samples(released: Path, into: Path) -> None:
    """One submission folder per sample student, made from the released notebooks."""
    students = load_catalog()
    answers = solution_sources()
    unknown = {grade_id for spec in students.values() for grade_id in spec.get("cells", {})} - set(answers)
    if unknown:
        raise ValueError(f"samples.toml names solution cells that do not exist: {sorted(unknown)}")
    if into.exists():
        shutil.rmtree(into)
    for student, spec in students.items():
        for assignment in spec.get("assignments", course.assignments()):
            for name in course.notebooks(assignment):
                notebook = nbformat.read(released / assignment / f"{name}.ipynb", as_version=4)
                for cell in notebook.cells:
                    grade_id = cell_id(cell)
                    if not is_solution(cell):
                        continue
                    if grade_id in spec.get("cells", {}):
                        cell.source = spec["cells"][grade_id].strip("\n")
                    elif spec.get("answers", "solutions") == "solutions":
                        cell.source = answers[grade_id].strip("\n")
                tamper(notebook, spec.get("tamper", []))
                target = into / student / assignment / f"{name}.ipynb"
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, target)


def tamper(notebook, actions: list[str]) -> None:
    """What a student can do to the notebook's cells, as "action:grade_id": empty, edit (the test
    becomes `pass`), markdown, strip (the nbgrader metadata), delete, move (a solution cell to
    the end). Actions naming a cell of another notebook are ignored."""
    for action in actions:
        verb, _, grade_id = action.partition(":")
        if verb not in {"empty", "edit", "markdown", "strip", "delete", "move"}:
            raise ValueError(f"samples.toml: unknown tamper action {action!r}")
        found = [n for n, c in enumerate(notebook.cells)
                 if cell_id(c) == grade_id]
        if not found:
            continue
        cell = notebook.cells[found[0]]
        if verb == "empty":
            cell.source = ""
        elif verb == "edit":
            cell.source = "pass  # the checks were here"
        elif verb == "markdown":
            notebook.cells[found[0]] = nbformat.v4.new_markdown_cell(
                cell.source, metadata=cell.metadata, id=cell.id)  # the same id: a stable release
        elif verb == "strip":
            del cell.metadata["nbgrader"]
        elif verb == "delete":
            del notebook.cells[found[0]]
        else:
            notebook.cells.append(notebook.cells.pop(found[0]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--into", type=Path, help="write course/ and samples/ under this folder")
    args = parser.parse_args(argv)
    released = args.into / "course" if args.into else course.COURSE
    samples = args.into / "samples" if args.into else course.SAMPLE_SUBMISSIONS
    release_notebooks(released.resolve())
    build_samples(released, samples)
    print(f"released {len(course.assignments())} assignments into {released}; "
          f"sample submissions in {samples}")


if __name__ == "__main__":
    main()
