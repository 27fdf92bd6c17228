"""Grade a class's submissions with nbgrader and write the instructor's files.

    python -m tconv.grading --submitted DIR --grades DIR [--timeout SECONDS]

DIR (submitted) holds <student_id>/<assignment>/<notebook>.ipynb. Students are registered as they
are found; a student who handed in only some assignments is graded on those. Writes:

- GRADES/grades.csv      nbgrader's export: one row per student and assignment;
- GRADES/exercises.csv   one row per graded cell:
                         student_id,assignment,notebook,grade_id,score,max_score;
- GRADES/feedback/<student_id>/<assignment>/<notebook>.html;
- GRADES/report.md       per exercise: mean, share of full marks, the most common diagnosed
                         mistakes; per student: one line per notebook on what went wrong;
- GRADES/nbgrader/       nbgrader's own working folders and gradebook, remade on every run.

The submitted folder, solutions/ and course/ are only read, so a run can be repeated.
"""

from __future__ import annotations

import argparse
import csv
import re
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
            if assignment.name in known:
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
    notes: dict[tuple, list[str]] = {}
    for assignment, students in found.items():
        for student in students:
            for notebook, note in take_in(submitted / student / assignment,
                                          work.submitted / student / assignment, assignment):
                notes.setdefault((student, assignment, notebook), []).append(note)

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
    for key, note in cell_notes(work, rows).items():
        notes.setdefault(key, []).append(note)
    write_report(rows, notes, grades / "report.md")
    return rows


# --- taking submissions in -----------------------------------------------------------------------

def take_in(source: Path, target: Path, assignment: str):
    """Copy one student's assignment folder for grading; yield (notebook, note) for what was
    not as expected. A lone notebook under another name is graded under the expected name; a
    file that is not a notebook, or a missing notebook, scores 0."""
    import nbformat

    target.mkdir(parents=True)
    expected = course.notebooks(assignment)
    present = {p.stem: p for p in sorted(source.glob("*.ipynb"))}
    strays = [name for name in present if name not in expected]
    for name in expected:
        path = present.get(name)
        if path is None and len(expected) == 1 and len(strays) == 1:
            path = present[strays[0]]
            yield name, f"handed in as `{path.name}`; graded as `{name}.ipynb`"
        if path is None:
            yield name, f"`{name}.ipynb` is missing: every graded cell scores 0"
            continue
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
        except Exception as error:  # any unreadable file: this student's problem, not the batch's
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            yield name, f"`{path.name}` is not a readable notebook ({reason}): scores 0"
            continue
        shutil.copy2(path, target / f"{name}.ipynb")


def cell_notes(work: Workspace, rows: list[dict]) -> dict[tuple, str]:
    """(student, assignment, notebook) -> one line naming what went wrong in the graded notebook."""
    import nbformat

    notes = {}
    lost = {(r["student_id"], r["assignment"], r["notebook"]) for r in rows
            if r["score"] < r["max_score"]}
    for student, assignment, notebook in sorted(lost):
        path = work.autograded / student / assignment / f"{notebook}.ipynb"
        if not path.exists():
            if (work.submitted / student / assignment / f"{notebook}.ipynb").exists():
                notes[(student, assignment, notebook)] = (
                    "nbgrader could not run this notebook to the end (its kernel died, e.g. "
                    "os._exit or a crash): every graded cell scores 0")
            continue
        problems = []
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if not cell.metadata.get("nbgrader", {}).get("grade"):
                continue
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    problems.append(f"{grade_id}: {diagnosis_of(output)}")
                    break
        if problems:
            notes[(student, assignment, notebook)] = "; ".join(problems)
    return notes


def diagnosis_of(error_output) -> str:
    """The shortest useful reading of a failed check: the named mistake, else the error line."""
    text = error_output.get("evalue", "")
    for pattern in (r"known mistake, ([^:]+):", r"\n  calls (.+?)\. This exercise",
                    r"(not written yet)", r"(returned None)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    if error_output.get("ename") in {"CellTimeoutError", "TimeoutError"} or "timed out" in text:
        return "a cell ran past the time limit and was stopped"
    first = text.strip().splitlines()[1:2] or text.strip().splitlines()[:1]
    return f"{error_output.get('ename', 'error')}: {first[0].strip() if first else ''}"[:160]


def write_report(rows: list[dict], notes: dict[tuple, list[str]], path: Path) -> None:
    """report.md: per exercise, mean score, share of full marks and the most common mistakes;
    per student, one line per notebook that lost points or was not as expected."""
    from collections import Counter, defaultdict

    by_cell = defaultdict(list)
    for row in rows:
        by_cell[(row["assignment"], row["grade_id"])].append(row)
    mistakes_by_cell = defaultdict(Counter)
    for (student, assignment, notebook), lines in notes.items():
        for line in lines:
            for part in line.split("; "):
                grade_id, _, mistake = part.partition(": ")
                if mistake:
                    mistakes_by_cell[(assignment, grade_id)][mistake] += 1
    out = ["# Grading report", "",
           f"{len({r['student_id'] for r in rows})} students, {len(rows)} graded cells.", "",
           "## Per exercise", "",
           "| assignment | graded cell | mean | full marks | most common problems |",
           "|---|---|---|---|---|"]
    for (assignment, grade_id), cells in sorted(by_cell.items()):
        mean = sum(r["score"] for r in cells) / len(cells)
        full = sum(r["score"] == r["max_score"] for r in cells) / len(cells)
        common = ", ".join(f"{name} ({count})" for name, count in
                           mistakes_by_cell[(assignment, grade_id)].most_common(3))
        out.append(f"| {assignment} | {grade_id} | {mean:.2f} / {cells[0]['max_score']:g} | "
                   f"{full:.0%} | {common} |")
    out += ["", "## Per student", ""]
    totals = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        totals[row["student_id"]][0] += row["score"]
        totals[row["student_id"]][1] += row["max_score"]
    for student in sorted(totals):
        got, out_of = totals[student]
        out.append(f"- **{student}**: {got:g} / {out_of:g}")
        for (who, assignment, notebook), lines in sorted(notes.items()):
            if who == student:
                out.append(f"  - {assignment}/{notebook}: " + "; ".join(lines))
    path.write_text("\n".join(out) + "\n")


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
