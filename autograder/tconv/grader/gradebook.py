"""The only writer of the batch's nbgrader gradebook and of the files the Formgrader reads.

GRADES/nbgrader/ is an nbgrader course folder: ``source/`` (the assignments as the kernel sees
them: hidden tests of re-checked cells left out, as those run only in the re-check), ``release/``,
``submitted/`` (the intake's snapshots), ``autograded/``, ``feedback/`` and ``gradebook.db``.
``make formgrader GRADES=...`` opens it.
"""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from pathlib import Path

import nbformat

from . import cells, course, recheck
from .course_notebooks import CourseNotebooks
from .records import Job, Result

class Workspace:
    """nbgrader's folders for one grading run, all under GRADES/nbgrader/."""

    def __init__(self, grades: Path):
        self.root = grades / "nbgrader"
        self.source = self.root / "source"
        self.release = self.root / "release"
        self.submitted = self.root / "submitted"
        self.autograded = self.root / "autograded"
        self.feedback = self.root / "feedback"
        self.scratch = self.root / "scratch"
        self.results = grades / "results"   # kept between runs: what is graded is not again
        self.template_db = self.root / "template.db"
        self.db = self.root / "gradebook.db"
        self.not_graded = self.root / "not_graded.json"   # notebooks the grader failed on
        self.db_url = f"sqlite:///{self.db}"

    def directories(self, db: Path | None = None) -> dict:
        """nbgrader's CourseDirectory settings for this workspace."""
        return course.directories(self.root, db or self.db)

    def options(self, db: Path | None = None) -> list[str]:
        """The same, as options of an nbgrader command."""
        return [f"--CourseDirectory.{name}={value}" for name, value in self.directories(db).items()]


def prepare(work: Workspace, notebooks: CourseNotebooks) -> None:
    """A fresh workspace with every assignment of ``notebooks`` generated into the template
    gradebook (copied as the batch's gradebook). The kernel runs the visible tests; hidden tests
    of re-checked cells run only in the re-check, so no learner code can read them."""
    if work.root.exists():
        shutil.rmtree(work.root)
    work.scratch.mkdir(parents=True)
    work.scratch.chmod(0o700)
    for assignment in notebooks.assignments:
        for notebook in notebooks.notebooks(assignment):
            source = notebooks.solution(assignment, notebook)
            rechecked = recheck.rechecked_cells(source)
            for cell in source.cells:
                if cells.cell_id(cell) in rechecked:
                    cell.source = cells.delimiters().hidden_tests.removed(cell.source).rstrip()
            target = work.source / assignment / f"{notebook}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(source, target)
    course.generate_assignments(notebooks.assignments, **work.directories(db=work.template_db))
    shutil.copy(work.template_db, work.db)


def record(work: Workspace, notebooks: CourseNotebooks, jobs: list[Job],
           results: list[Result]) -> None:
    """Scores into the gradebook (a re-check's zero as a manual score over the kernel's, with its
    reason as the comment on the answer's cell), and the snapshot, graded notebook and feedback
    where the Formgrader looks for them. A notebook the grader failed on (``Result.kept`` false)
    gets nothing: no score is stored for it anywhere. "Needs manual grade" is left only on cells
    nbgrader could not score (none in this course): the Formgrader flags only where a person must
    act."""
    from nbgrader.api import Gradebook, MissingEntry

    by_key = {(j.student, j.assignment, j.notebook): j for j in jobs}
    with warnings.catch_warnings(), Gradebook(work.db_url) as gradebook:
        course.quiet_gradebook_warnings()
        for result in results:
            student, assignment, notebook = result.key
            gradebook.update_or_create_student(student)  # in grades.csv, even if not graded
            if not result.kept:
                continue
            try:
                gradebook.find_submission(assignment, student)
            except MissingEntry:
                gradebook.add_submission(assignment, student)
            source = notebooks.solution(assignment, notebook)
            for cell in result.cells:
                grade = gradebook.find_grade(cell.grade_id, notebook, assignment, student)
                grade.auto_score = cell.kernel_score
                grade.manual_score = cell.score if cell.score != cell.kernel_score else None
                grade.needs_manual_grade = cell.manual
                if cell.comment:
                    add_comment(gradebook, source, cell.grade_id, notebook, assignment, student,
                                cell.comment)
            job = by_key.get(result.key)
            folder = Path(student) / assignment
            if job is not None and job.notebook_bytes is not None:
                _write(work.submitted / folder / f"{notebook}.ipynb", job.notebook_bytes)
            if result.autograded_json:
                _write(work.autograded / folder / f"{notebook}.ipynb",
                       result.autograded_json.encode())
            if result.feedback_html:
                _write(work.feedback / folder / f"{notebook}.html", result.feedback_html.encode())
        gradebook.db.commit()


def add_comment(gradebook, source: nbformat.NotebookNode, grade_id: str, notebook: str,
                assignment: str, student: str, text: str) -> None:
    """``text`` as the comment on the answer (solution) cell above graded cell ``grade_id`` of
    the instructors' notebook ``source``: in nbgrader a comment belongs to an answer cell, and
    the Formgrader and the feedback show it there. Added once, after any comment already there."""
    from nbgrader.api import MissingEntry

    above = None
    for cell in source.cells:
        if cells.is_solution(cell):
            above = cells.cell_id(cell)
        if cells.cell_id(cell) == grade_id:
            break
    if above is None:
        return
    try:
        comment = gradebook.find_comment(above, notebook, assignment, student)
    except MissingEntry:
        return
    if text not in (comment.manual_comment or ""):
        comment.manual_comment = "\n\n".join(filter(None, [comment.manual_comment, text]))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def save_not_graded(work: Workspace, items) -> None:
    """The notebooks this run's grader failed on (``NotGraded`` with ids), for ``export``."""
    work.not_graded.write_text(json.dumps(
        [[item.student_id, item.assignment, item.notebook] for item in items]))


def load_not_graded(work: Workspace) -> set[tuple[str, str, str]]:
    if not work.not_graded.exists():
        return set()
    return {tuple(key) for key in json.loads(work.not_graded.read_text())}


def export_csv(work: Workspace, path: Path) -> None:
    """nbgrader's export (one row per student and assignment), from the batch's gradebook: its
    CSV plugin, as `nbgrader export` runs it, in this process; then the score of an assignment
    the grader failed on (``save_not_graded``) left empty: nbgrader counts a missing submission
    as 0, and that zero is nobody's grade."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with Gradebook(work.db_url) as book:
        CsvExportPlugin(to=str(path)).export(book)
    failed = {(student, assignment) for student, assignment, _ in load_not_graded(work)}
    if not failed:
        return
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        columns, rows = reader.fieldnames, list(reader)
    for row in rows:
        if (row["student_id"], row["assignment"]) in failed:
            row.update(raw_score="", score="", late_submission_penalty="")
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
