"""Grade a class's submissions with nbgrader and write the instructor's files.

    python -m tconv.grading --submitted DIR --grades DIR [--timeout SECONDS]

DIR (submitted) holds <student_id>/<assignment>/<notebook>.ipynb. Students are registered as they
are found; a student who handed in only some assignments is graded on those. Writes:

- GRADES/grades.csv      nbgrader's export: one row per student and assignment;
- GRADES/exercises.csv   one row per graded cell:
                         student_id,assignment,notebook,grade_id,score,max_score;
- GRADES/feedback/<student_id>/<assignment>/<notebook>.html;
- GRADES/nbgrader/       nbgrader's own working folders and gradebook, remade on every run.

The submitted folder, solutions/ and course/ are only read, so a run can be repeated.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

from . import course

EXERCISE_COLUMNS = ["student_id", "assignment", "notebook", "grade_id", "score", "max_score"]


def find_submissions(submitted: Path) -> dict[str, list[str]]:
    """{assignment: [student_id, ...]} for the course's assignments found under ``submitted``."""
    if not submitted.is_dir():
        raise SystemExit(f"error: SUBMITTED={submitted} is not a folder. It must hold "
                         f"<student_id>/<assignment>/<notebook>.ipynb.")
    known = course.assignments()
    found: dict[str, list[str]] = {}
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for assignment in sorted(p for p in student.iterdir() if p.is_dir()):
            if assignment.name in known and any(assignment.glob("*.ipynb")):
                found.setdefault(assignment.name, []).append(student.name)
    if not found:
        raise SystemExit(f"error: no submissions under {submitted}: expected "
                         f"<student_id>/<assignment>/<notebook>.ipynb with an assignment among "
                         f"{', '.join(known)}.")
    return found


class Workspace:
    """nbgrader's folders for one grading run, all under GRADES/nbgrader/."""

    def __init__(self, grades: Path):
        self.root = grades / "nbgrader"
        self.release = self.root / "release"
        self.submitted = self.root / "submitted"
        self.autograded = self.root / "autograded"
        self.feedback = self.root / "feedback"
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}"

    def options(self) -> list[str]:
        return [f"--CourseDirectory.release_directory={self.release}",
                f"--CourseDirectory.submitted_directory={self.submitted}",
                f"--CourseDirectory.autograded_directory={self.autograded}",
                f"--CourseDirectory.feedback_directory={self.feedback}",
                f"--CourseDirectory.db_url={self.db_url}"]


def grade(submitted: Path, grades: Path, cell_timeout: int) -> list[dict]:
    """Grade everything under ``submitted``; return the exercises.csv rows."""
    submitted, grades = submitted.resolve(), grades.resolve()
    found = find_submissions(submitted)
    work = Workspace(grades)
    if work.root.exists():
        shutil.rmtree(work.root)
    work.root.mkdir(parents=True)
    for assignment, students in found.items():
        for student in students:
            shutil.copytree(submitted / student / assignment, work.submitted / student / assignment)

    for assignment, students in found.items():
        print(f"grading {assignment}: {len(students)} student(s)", flush=True)
        # Records the assignment and its graded cells (points, locked test code) in the gradebook.
        course.run_nbgrader("generate_assignment", assignment, "--force", *work.options())
        result = course.run_nbgrader("autograde", assignment, "--force", *work.options(),
                                     cell_timeout=cell_timeout, check=False)
        if result.returncode != 0:
            # nbgrader goes on with the other students when one fails (e.g. its kernel died)
            # and exits 1 at the end: say so, and keep the grades it did record.
            print(f"  nbgrader autograde reported a problem; the submissions it could not grade "
                  f"score 0:\n{_tail(result)}", file=sys.stderr)
        course.run_nbgrader("generate_feedback", assignment, "--force", *work.options(),
                            check=False)

    course.run_nbgrader("export", f"--to={grades / 'grades.csv'}", *work.options())
    rows = exercise_rows(work, found)
    write_exercises(rows, grades / "exercises.csv")
    copy_feedback(work, grades / "feedback")
    return rows


def _tail(result, lines: int = 15) -> str:
    text = (result.stdout + result.stderr).strip().splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def exercise_rows(work: Workspace, found: dict[str, list[str]]) -> list[dict]:
    """One row per graded cell of every submitted notebook; 0 where nbgrader recorded nothing."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(work.db_url) as gradebook:
        for assignment, students in found.items():
            source = gradebook.find_assignment(assignment)
            for student in students:
                for notebook in source.notebooks:
                    try:
                        graded = gradebook.find_submission_notebook(notebook.name, assignment,
                                                                    student)
                        scores = {g.name: g.score for g in graded.grades}
                    except MissingEntry:
                        scores = {}
                    for cell in sorted(notebook.grade_cells, key=lambda c: c.name):
                        rows.append({"student_id": student, "assignment": assignment,
                                     "notebook": notebook.name, "grade_id": cell.name,
                                     "score": float(scores.get(cell.name) or 0.0),
                                     "max_score": float(cell.max_score)})
    return rows


def write_exercises(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=EXERCISE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def copy_feedback(work: Workspace, into: Path) -> None:
    if into.exists():
        shutil.rmtree(into)
    for html in sorted(work.feedback.glob("*/*/*.html")):
        target = into / html.relative_to(work.feedback)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(html, target)


def summary(rows: list[dict]) -> str:
    totals: dict[str, list[float]] = {}
    for row in rows:
        got, out_of = totals.setdefault(row["student_id"], [0.0, 0.0])
        totals[row["student_id"]] = [got + row["score"], out_of + row["max_score"]]
    width = max(len(student) for student in totals)
    return "\n".join(f"  {student:<{width}}  {got:g} / {out_of:g}"
                     for student, (got, out_of) in sorted(totals.items()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submitted", type=Path, default=course.SAMPLE_SUBMISSIONS,
                        help="folder of <student_id>/<assignment>/<notebook>.ipynb "
                             "(default: the sample class)")
    parser.add_argument("--grades", type=Path, default=course.BUILD / "grades",
                        help="where grades.csv, exercises.csv and feedback/ are written")
    parser.add_argument("--timeout", type=int, default=30,
                        help="seconds one cell may run before it is stopped (default 30)")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout={args.timeout} must be a whole number of seconds >= 1")
    args.grades.mkdir(parents=True, exist_ok=True)
    rows = grade(args.submitted, args.grades, args.timeout)
    print(f"wrote {args.grades / 'grades.csv'}, {args.grades / 'exercises.csv'} and "
          f"{args.grades / 'feedback'}/\n{summary(rows)}")


if __name__ == "__main__":
    main()
