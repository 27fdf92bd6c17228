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
import contextlib
import csv
import os
import re
import tempfile
import zipfile
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

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

    def options(self, submitted: Path | None = None) -> list[str]:
        return [f"--CourseDirectory.release_directory={self.release}",
                f"--CourseDirectory.submitted_directory={submitted or self.submitted}",
                f"--CourseDirectory.autograded_directory={self.autograded}",
                f"--CourseDirectory.feedback_directory={self.feedback}",
                f"--CourseDirectory.db_url={self.db_url}"]


def grade(submitted: Path, grades: Path, cell_timeout: int, jobs: int = 1) -> list[dict]:
    """Grade everything under ``submitted`` with ``jobs`` nbgrader processes side by side;
    return the exercises.csv rows."""
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
        autograde(work, assignment, students, cell_timeout, jobs)
    for key, note in apply_rechecks(work, found, cell_timeout, jobs).items():
        notes.setdefault(key, []).append(note)
    for assignment in found:
        course.run_nbgrader("generate_feedback", assignment, "--force", *work.options(),
                            check=False)

    course.run_nbgrader("export", f"--to={grades / 'grades.csv'}", *work.options())
    rows = exercise_rows(work, found)
    write_exercises(rows, grades / "exercises.csv")
    copy_feedback(work, grades / "feedback")
    for key, note in cell_notes(work, rows).items():
        notes.setdefault(key, []).append(note)
    write_report(rows, notes, grades / "report.md")
    plot_scores(rows, grades / "scores.png")
    return rows


def autograde(work: Workspace, assignment: str, students: list[str], cell_timeout: int,
              jobs: int) -> None:
    """`nbgrader autograde` in ``jobs`` processes, each on its share of the students (a folder of
    links to their submissions), all writing to the one gradebook. A student whose grading did
    not get recorded (a busy gradebook, say) is graded again alone."""
    groups = [students[n::jobs] for n in range(min(jobs, len(students)))]
    commands = []
    for n, group in enumerate(groups):
        share = work.root / "shares" / assignment / f"share{n}"
        share.mkdir(parents=True)
        for student in group:
            (share / student).symlink_to(work.submitted / student, target_is_directory=True)
        commands.append(["autograde", assignment, "--force", *work.options(submitted=share)])
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        results = list(pool.map(lambda args: course.run_nbgrader(
            *args, cell_timeout=cell_timeout, check=False), commands))
    for result in results:
        if result.returncode != 0:
            # nbgrader goes on with the other students when one fails (e.g. its kernel died)
            # and exits 1 at the end: say so, and keep the grades it did record.
            print(f"  nbgrader autograde reported a problem (report.md says whom it concerns):"
                  f"\n{_tail(result)}", file=sys.stderr)
    for student in students:
        if (not (work.autograded / student / assignment).exists()
                and any((work.submitted / student / assignment).glob("*.ipynb"))):
            print(f"  grading {student} again on its own", file=sys.stderr)
            course.run_nbgrader("autograde", assignment, "--force", *work.options(),
                                f"--CourseDirectory.student_id={student}",
                                cell_timeout=cell_timeout, check=False)


def apply_rechecks(work: Workspace, found: dict[str, list[str]], cell_timeout: int,
                   jobs: int) -> dict[tuple, str]:
    """Re-check every graded notebook outside its kernel (tconv.recheck). A cell that passed in
    the notebook but fails the re-check scores 0, with the reason as a comment in the feedback."""
    from nbgrader.api import Gradebook, MissingEntry

    from . import recheck

    todo = [(student, assignment, notebook)
            for assignment, students in found.items() for student in students
            for notebook in course.notebooks(assignment)
            if (work.autograded / student / assignment / f"{notebook}.ipynb").exists()]

    def sources(key):
        student, assignment, notebook = key
        return (work.submitted / student / assignment / f"{notebook}.ipynb",
                course.SOLUTIONS / assignment / f"{notebook}.ipynb",
                course.COURSE / assignment / f"{notebook}.ipynb")

    for key in todo:
        recheck.plan_for(sources(key)[1])  # recorded once per notebook, before the threads start
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        answers = list(pool.map(lambda key: recheck.answers_for(
            *sources(key), timeout=max(60, 4 * cell_timeout)), todo))
    results = [(key, recheck.judge(sources(key)[1], *found_answers))
               for key, found_answers in zip(todo, answers)]
    notes = {}
    with Gradebook(work.db_url) as gradebook:
        for (student, assignment, notebook), verdicts in results:
            overturned = []
            for verdict in verdicts:
                if verdict.passed is not False:
                    continue
                try:
                    grade = gradebook.find_grade(verdict.grade_id, notebook, assignment, student)
                except MissingEntry:
                    continue
                if (grade.score or 0) > 0:
                    grade.manual_score = 0.0
                    overturned.append(f"{verdict.grade_id}: passed inside the notebook but not "
                                      f"when re-checked outside it ({reading(verdict.message)})")
                    _comment(gradebook, grade, verdict.message)
            if overturned:
                notes[(student, assignment, notebook)] = "; ".join(overturned)
        gradebook.db.commit()
    return notes


def _comment(gradebook, grade, message: str) -> None:
    """Put the re-check's reason where the learner's feedback shows it: on the solution cell
    just above the test cell."""
    from nbgrader.api import MissingEntry

    notebook = grade.notebook
    source = nbformat.read(course.SOLUTIONS / notebook.assignment.name / f"{notebook.name}.ipynb",
                           as_version=4)
    above = None
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            above = meta["grade_id"]
        if meta.get("grade_id") == grade.name:
            break
    if above is None:
        return
    try:
        comment = gradebook.find_comment(above, notebook.name, notebook.assignment.name,
                                         notebook.student.id)
    except MissingEntry:
        return
    text = (f"{grade.name} scored 0: when your function was re-run and checked outside your "
            f"notebook, it failed.\n{message}")
    comment.manual_comment = "\n\n".join(filter(None, [comment.manual_comment, text]))


def plot_scores(rows: list[dict], path: Path) -> None:
    """scores.png: for each graded cell, how many students got which share of its points."""
    from . import plots

    figure = plots.score_distribution(rows)
    figure.savefig(path, dpi=100)
    plots.plt.close(figure)


# --- taking submissions in -----------------------------------------------------------------------

def take_in(source: Path, target: Path, assignment: str):
    """Copy one student's assignment folder for grading; yield (notebook, note) for what was
    not as expected. A lone notebook under another name is graded under the expected name; a
    file that is not a notebook, or a missing notebook, scores 0."""
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
            notebook = nbformat.read(path, as_version=4)
            nbformat.validate(notebook)
        except Exception as error:  # any unreadable file: this student's problem, not the batch's
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            yield name, f"`{path.name}` is not a readable notebook ({reason}): scores 0"
            continue
        for moved in put_solutions_back(notebook, course.SOLUTIONS / assignment / f"{name}.ipynb"):
            yield name, f"solution cell {moved} was moved below its checks; graded in its place"
        nbformat.write(notebook, target / f"{name}.ipynb")


def put_solutions_back(notebook, source: Path) -> list[str]:
    """Move each solution cell that a learner moved below its first test cell back in front of
    it (nbgrader restores what cells hold, not where they are). Returns the moved cells' ids."""
    order = [c.metadata["nbgrader"] for c in nbformat.read(source, as_version=4).cells
             if c.metadata.get("nbgrader", {}).get("solution") or
             c.metadata.get("nbgrader", {}).get("grade")]
    first_test = {}
    for n, meta in enumerate(order):
        if meta.get("solution"):
            later = [m["grade_id"] for m in order[n + 1:] if m.get("grade")]
            if later:
                first_test[meta["grade_id"]] = later[0]
    moved = []
    for solution, test in first_test.items():
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
        if solution in ids and test in ids and ids.index(solution) > ids.index(test):
            cell = notebook.cells.pop(ids.index(solution))
            notebook.cells.insert(ids.index(test), cell)
            moved.append(solution)
    return moved


def cell_notes(work: Workspace, rows: list[dict]) -> dict[tuple, str]:
    """(student, assignment, notebook) -> one line naming what went wrong in the graded notebook."""
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
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                problems.append(f"{grade_id}: {diagnosis_of(errors)}")
        if problems:
            notes[(student, assignment, notebook)] = "; ".join(problems)
    return notes


def diagnosis_of(errors: list) -> str:
    """The shortest useful reading of a failed check cell's error outputs."""
    if any(e.get("ename") in {"CellTimeoutError", "KeyboardInterrupt"} for e in errors):
        return "it ran past the time limit and was stopped"
    return reading(errors[0].get("evalue", ""), errors[0].get("ename", "error"))


def reading(message: str, kind: str = "") -> str:
    """A check's message in a few words: the named mistake or shortcut, else its first finding
    (the line after the call it describes)."""
    for pattern in (r"known mistake, ([^:]+):", r"\n  calls (.+?)\. This exercise",
                    r"(not written yet)", r"(returned None)", r"(timed out)"):
        match = re.search(pattern, message)
        if match:
            return match.group(1)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    finding = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
    return f"{kind + ': ' if kind else ''}{finding}"[:160]


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


ZIP_NAME = re.compile(r"^(?P<student_id>[^_/]+)_(?:.*_)?(?P<notebook>\d\d_[A-Za-z0-9_]+?)(?: \(\d+\))?\.ipynb$")


@contextlib.contextmanager
def unpacked(submitted: Path):
    """A folder of <student_id>/<assignment>/<notebook>.ipynb for SUBMITTED, which may be such a
    folder, or a zip of one, or a zip as learning platforms download them: flat files named
    `<student_id>_<anything>_<notebook>.ipynb` (the student id first, then an underscore)."""
    if submitted.is_dir() or submitted.suffix.lower() != ".zip":
        yield submitted
        return
    if not zipfile.is_zipfile(submitted):
        raise SystemExit(f"error: SUBMITTED={submitted} is not a folder or a readable zip file.")
    owner = {name: assignment for assignment in course.assignments()
             for name in course.notebooks(assignment)}
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(submitted) as archive:
        root = Path(scratch)
        for entry in archive.infolist():
            parts = Path(entry.filename).parts
            if entry.is_dir() or ".." in parts or parts[0] in ("/", "__MACOSX"):
                continue
            if len(parts) >= 3 and parts[-2] in course.assignments():
                target = root / parts[-3] / parts[-2] / parts[-1]
            else:
                match = ZIP_NAME.match(parts[-1])
                if not (match and match["notebook"] in owner):
                    print(f"  skipped {entry.filename}: not <student_id>_..._<notebook>.ipynb "
                          f"with a notebook of this course", file=sys.stderr)
                    continue
                target = root / match["student_id"] / owner[match["notebook"]] / \
                    f"{match['notebook']}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(entry))
        yield root


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submitted", type=Path, default=course.SAMPLE_SUBMISSIONS,
                        help="folder of <student_id>/<assignment>/<notebook>.ipynb "
                             "(default: the sample class)")
    parser.add_argument("--grades", type=Path, default=course.BUILD / "grades",
                        help="where grades.csv, exercises.csv and feedback/ are written")
    parser.add_argument("--timeout", type=int, default=30,
                        help="seconds one cell may run before it is stopped (default 30)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="students graded side by side (default: the machine's cores)")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout={args.timeout} must be a whole number of seconds >= 1")
    if args.jobs < 1:
        parser.error(f"--jobs={args.jobs} must be a whole number >= 1")
    args.grades.mkdir(parents=True, exist_ok=True)
    with unpacked(args.submitted) as submitted:
        rows = grade(submitted, args.grades, args.timeout, args.jobs)
    print(f"wrote {args.grades / 'grades.csv'}, {args.grades / 'exercises.csv'} and "
          f"{args.grades / 'feedback'}/\n{summary(rows)}")


if __name__ == "__main__":
    main()
