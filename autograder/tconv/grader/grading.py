"""Grade a class's submissions (``make grade``): the coordinator of this package's pipeline.

    python -m tconv.grader.grading --submitted DIR_OR_ZIP --grades DIR [--timeout S] [--jobs N]
                                   [--memory BYTES] [--notebook-timeout S] [--sandbox on|off]
    python -m tconv.grader.grading --grades DIR --export-only

intake (validate, snapshot) -> one task per student notebook, each in its own sandbox, JOBS at a
time -> the gradebook and the files, written here and only here:

- GRADES/grades.csv      nbgrader's export: one row per student and assignment (its score left
                         empty, never 0, where the grader failed on that student's notebook);
- GRADES/exercises.csv   one row per graded cell:
                         student_id,assignment,notebook,grade_id,score,max_score,status
                         (status "graded", or "not graded: rerun" with an empty score);
- GRADES/not_graded.csv  what has no grade (a refused id, a stray notebook, a notebook the grader
                         failed on) or only a zero nobody looked behind (a notebook refused at
                         intake): what, why, what to do. `make grade` exits with an error while
                         it lists anything;
- GRADES/feedback/<student_id>/<assignment>/<notebook>.html;
- GRADES/report.md       first what was not graded; per exercise: mean, share of full marks, most
                         common problems; per student: the course total as grades.csv gives it
                         and one line per notebook on what went wrong; scores.png beside it;
- GRADES/nbgrader/       nbgrader's course folder and gradebook (what `make formgrader` opens),
                         remade on every run;
- GRADES/secret-seed     the instructor's secret the hidden tests' cases are drawn from, made on
                         the first run (or give one: --secret-file); the same secret regrades
                         with the same cases. Never hand it out.

SUBMITTED is only read. ``--export-only`` writes grades.csv and exercises.csv again from the
gradebook, e.g. after a score was changed by hand in the Formgrader.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from . import course, gradebook, intake, probe, report, runner, sandbox, task
from .course_notebooks import CourseNotebooks, MissingNotebook
from .records import GRADED, NOT_GRADED, NotGraded, Result

def grade(submitted: Path, grades: Path, cell_timeout: int = course.CELL_TIMEOUT, jobs: int = 1,
          limits: sandbox.Limits = sandbox.Limits(), sandbox_mode: str = "on",
          scheduler: str | None = None, **options) -> list[dict]:
    """Grade everything in ``submitted``; return the exercises.csv rows (``grade_batch``)."""
    return grade_batch(submitted, grades, cell_timeout, jobs, limits, sandbox_mode, scheduler,
                       **options)[0]


def grade_batch(submitted: Path, grades: Path, cell_timeout: int = course.CELL_TIMEOUT,
                jobs: int = 1, limits: sandbox.Limits = sandbox.Limits(), sandbox_mode: str = "on",
                scheduler: str | None = None, secret_file: Path | None = None,
                **options) -> tuple[list[dict], list[NotGraded]]:
    """Grade everything in ``submitted``: (the exercises.csv rows, what was not graded).
    ``scheduler`` (a Dask scheduler's address) sends the tasks to a cluster; else ``jobs`` local
    workers grade. ``sandbox_mode``: "on" (the strongest mode that works here), one of
    sandbox.MODES, or "off". The hidden cases are drawn from the secret in ``secret_file``
    (default GRADES/secret-seed, made on first use). ``options`` go to ``runner.run`` (a pool,
    a budget, a disk check). The instructors' and released notebooks are read here, once, and
    handed to every step as data (course_notebooks.py)."""
    submitted, grades = Path(submitted).resolve(), Path(grades).resolve()
    notebooks = CourseNotebooks.read(course.assignments())
    found = intake.take_in(submitted, notebooks)
    for message in found.messages:
        print(f"  {message}", file=sys.stderr)
    # before anything is written: a machine where no sandbox can be made fails at once
    with tempfile.TemporaryDirectory(prefix="tconv-probe-") as folder:
        chosen = probe.probe(Path(folder), sandbox_mode)
    print(chosen.line(), flush=True)
    grades.mkdir(parents=True, exist_ok=True)
    work = gradebook.Workspace(grades)
    notebooks = notebooks.only({job.assignment for job in found.jobs})
    gradebook.prepare(work, notebooks)
    settings = task.Settings(work.template_db.read_bytes(), cell_timeout, limits, chosen.mode,
                             scratch=None if scheduler else str(work.scratch),
                             secret=secret(grades, secret_file), notebooks=notebooks)
    where = f"on the Dask cluster at {scheduler}" if scheduler else f"{jobs} at a time"
    print(f"grading {len(found.jobs)} notebook(s) of {len({j.student for j in found.jobs})} "
          f"student(s), {where}{', WITHOUT the sandbox' if chosen.mode == 'off' else ''}",
          flush=True)
    results = runner.run(found.jobs, settings, workers=jobs, scheduler=scheduler,
                         cache=work.results,
                         course_digests={a: course_digest(notebooks, a)
                                         for a in notebooks.assignments}, **options)
    gradebook.record(work, notebooks, found.jobs, results)
    failed = [NotGraded(f"{r.job_student}/{r.assignment}/{r.notebook}.ipynb",
                        r.notes[-1] if r.notes else "the grader failed",
                        "run `make grade` again with the same GRADES (what is graded is kept); if "
                        "it fails again, see the log `make grade` printed", *r.key)
              for r in results if not r.kept]
    not_graded = found.refused + failed
    gradebook.save_not_graded(work, failed)
    rows = export(grades)
    copy_feedback(work, grades / "feedback")
    notes, mistakes = readings(results)
    report.write_not_graded(not_graded, grades / "not_graded.csv")
    report.write_report(rows, notes, mistakes, grades / "report.md", not_graded, found.notes,
                        sandbox=chosen.line())
    report.plot_scores(rows, grades / "scores.png")
    shutil.rmtree(work.scratch, ignore_errors=True)
    return rows, not_graded


SECRET_FILE = "secret-seed"


def secret(grades: Path, given: Path | None = None) -> str:
    """The instructor's secret the hidden tests' cases are drawn from: the file ``given``, else
    GRADES/secret-seed, made on first use (256 random bits, readable by its owner only). The
    student's kernel never sees it: the cases are drawn by the re-check, in the grader."""
    path = Path(given) if given is not None else grades / SECRET_FILE
    if given is None and not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
        print(f"  hidden cases are drawn from a new secret, {path}: keep it to regrade with the "
              f"same cases, and never hand it out", flush=True)
    try:
        text = path.read_text().strip()
    except OSError as error:
        raise SystemExit(f"error: cannot read the secret {path} ({error.strerror})") from None
    if len(text) < 16:
        raise SystemExit(f"error: the secret {path} holds {len(text)} characters: a secret "
                         f"needs at least 16 (e.g. `python -c 'import secrets; "
                         f"print(secrets.token_hex(32))' > {path}`)")
    return text


def course_digest(notebooks: CourseNotebooks, assignment: str) -> str:
    """A digest of what a result of ``assignment`` depends on besides the submission: its
    instructors' and released notebooks, and the course package. Results of an earlier run (of a
    batch of any assignments) are kept only while it is unchanged."""
    import hashlib

    digest = hashlib.sha256(notebooks.digest(assignment).encode())
    for path in sorted((course.AUTOGRADER / "tconv").rglob("*.py")):
        digest.update(str(path.relative_to(course.ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def readings(results: list[Result]):
    """(notes, mistakes): per (student, assignment, notebook) the lines report.md shows, and per
    (student, assignment, grade_id) the problems counted in its 'most common' column."""
    notes: dict[tuple, list[str]] = {}
    mistakes: dict[tuple, list[str]] = {}
    for result in results:
        lines = list(result.notes)
        for cell in result.cells:
            if cell.recheck:
                lines.append(f"{cell.grade_id}: passed its visible test in the notebook, failed "
                             f"the re-check outside it, hidden cases included ({cell.recheck})")
            elif cell.problem and cell.score < cell.max_score:
                lines.append(f"{cell.grade_id}: {cell.problem}")
            else:
                continue
            # what the verdict record named (never read back from a message)
            mistakes[(result.job_student, result.assignment, cell.grade_id)] = list(cell.found)
        if lines:
            notes[result.key] = lines
    return notes, mistakes


def exercise_rows(work: gradebook.Workspace) -> list[dict]:
    """One row per graded cell of every submitted notebook, from the gradebook; and of every
    notebook the grader failed on (``status`` "not graded: rerun", no score)."""
    from nbgrader.api import Gradebook, MissingEntry

    failed = gradebook.load_not_graded(work)
    rows = []
    with Gradebook(work.db_url) as book:
        for assignment in book.assignments:
            for student in sorted({s.id for s in book.students} |
                                  {s for s, a, _ in failed if a == assignment.name}):
                for notebook in assignment.notebooks:
                    key = (student, assignment.name, notebook.name)
                    if key in failed:
                        scores, status = None, NOT_GRADED
                    else:
                        try:
                            scores = {g.name: g.score for g in book.find_submission_notebook(
                                notebook.name, assignment.name, student).grades}
                        except MissingEntry:
                            continue
                        status = GRADED
                    for cell in sorted(notebook.grade_cells, key=lambda c: c.name):
                        rows.append({"student_id": student, "assignment": assignment.name,
                                     "notebook": notebook.name, "grade_id": cell.name,
                                     "score": "" if scores is None else
                                     float(scores.get(cell.name) or 0.0),
                                     "max_score": float(cell.max_score), "status": status})
    return rows


def export(grades: Path) -> list[dict]:
    """grades.csv and exercises.csv from GRADES/nbgrader/gradebook.db; returns the rows."""
    work = gradebook.Workspace(Path(grades).resolve())
    if not work.db.exists():
        raise SystemExit(f"error: {work.db} does not exist: run `make grade GRADES={grades}` "
                         f"first.")
    gradebook.export_csv(work, work.root.parent / "grades.csv")
    rows = exercise_rows(work)
    report.write_exercises(rows, work.root.parent / "exercises.csv")
    return rows


def copy_feedback(work: gradebook.Workspace, into: Path) -> None:
    if into.exists():
        shutil.rmtree(into)
    for html in sorted(work.feedback.glob("*/*/*.html")):
        target = into / html.relative_to(work.feedback)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(html, target)


def summary(rows: list[dict]) -> str:
    totals = report.course_totals(rows)
    width = max((len(student) for student in totals), default=0)
    return "\n".join(f"  {student:<{width}}  {report.total_line(total)}"
                     for student, total in sorted(totals.items()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submitted", type=Path, default=course.SAMPLE_SUBMISSIONS,
                        help="folder of <student_id>/<assignment>/<notebook>.ipynb, or a zip "
                             "(default: the sample class)")
    parser.add_argument("--grades", type=Path, default=course.BUILD / "grades",
                        help="where grades.csv, exercises.csv, report.md and feedback/ go")
    parser.add_argument("--timeout", type=int, default=course.CELL_TIMEOUT,
                        help="seconds one cell may run (default %(default)s)")
    parser.add_argument("--notebook-timeout", type=int,
                        default=int(sandbox.Limits.wall_seconds),
                        help="seconds one whole notebook may run (default %(default)s)")
    parser.add_argument("--memory", default=f"{sandbox.Limits.memory // sandbox.MiB}M",
                        help="memory (address space) per student process, e.g. 2G, 1500M "
                             "(default %(default)s)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="student notebooks graded side by side (default: the cores)")
    parser.add_argument("--scheduler", default=None,
                        help="a Dask scheduler's address (tcp://host:8786): grade on that "
                             "cluster instead of --jobs local workers")
    parser.add_argument("--sandbox", choices=["on", *sandbox.MODES, "off"], default="on",
                        help="on: the strongest sandbox this machine allows (root, userns, "
                             "landlock, in that order); off runs learner code with YOUR "
                             "rights: only where you trust it")
    parser.add_argument("--secret-file", type=Path, default=None,
                        help="the secret the hidden cases are drawn from (default: "
                             "GRADES/secret-seed, made on the first run)")
    parser.add_argument("--export-only", action="store_true",
                        help="only write grades.csv and exercises.csv again from the gradebook")
    args = parser.parse_args(argv)
    if args.export_only:
        export(args.grades)
        print(f"wrote {args.grades / 'grades.csv'} and {args.grades / 'exercises.csv'}")
        return
    for name in ("timeout", "notebook_timeout", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} must be a whole "
                         f"number >= 1")
    limits = replace(sandbox.Limits(), memory=_bytes(parser, args.memory),
                     wall_seconds=float(args.notebook_timeout))
    try:
        rows, not_graded = grade_batch(args.submitted, args.grades, args.timeout, args.jobs,
                                       limits, sandbox_mode=args.sandbox,
                                       scheduler=args.scheduler or None,
                                       secret_file=args.secret_file)
    except (sandbox.SandboxUnavailable, MissingNotebook) as error:
        raise SystemExit(f"error: {error}") from None
    print(f"wrote {args.grades / 'grades.csv'}, {args.grades / 'exercises.csv'}, "
          f"{args.grades / 'report.md'} and {args.grades / 'feedback'}/\n{summary(rows)}")
    if not_graded:
        lines = "\n".join(f"  {item.what}: {item.why}" for item in not_graded[:20])
        more = f"\n  ... and {len(not_graded) - 20} more" if len(not_graded) > 20 else ""
        raise SystemExit(f"error: {len(not_graded)} thing(s) handed in got no grade, or only a "
                         f"zero nobody looked behind; each is in {args.grades / 'not_graded.csv'} "
                         f"with what to do:\n{lines}{more}")


def _bytes(parser, text: str) -> int:
    units = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    number, unit = text.rstrip("KMGkmgBb").strip(), text.upper().rstrip("B")[len(
        text.rstrip("KMGkmgBb").strip()):]
    try:
        value = int(float(number) * units[unit])
    except (ValueError, KeyError):
        parser.error(f"--memory={text} is not a size: write e.g. 2G or 1500M")
    if value < 256 * 1024 ** 2:
        parser.error(f"--memory={text} is below 256M: PyTorch alone needs more")
    return value


if __name__ == "__main__":
    main()
