"""Take a class's submissions in: SUBMITTED (a folder, or a zip) -> one Job per student notebook.

Everything is read once, into memory (the snapshot the rest of grading works from), and checked
on the way in:

- a student id is letters, digits and ``._-@+`` (an e-mail address is one), at most 128, starting
  with a letter, a digit or ``_`` (never ``.`` or ``..``, nor a hidden folder, nor what a
  spreadsheet reads as a formula); anything else is refused;
- nobody is dropped silently: whatever may be someone's work and is not graded (an id refused, a
  link, a notebook outside any student's or assignment's folder) is *refused*, with what, why and
  what to do (``Intake.refused``: GRADES/not_graded.csv and report.md's first lines); a notebook
  that cannot be graded (unreadable, over MAX_NOTEBOOK bytes or MAX_CELLS cells) scores 0 and is
  listed there too; a file that is not a notebook is only mentioned;
- nothing behind a symbolic link is read, in a folder or in a zip;
- a zip is read without unpacking it: at most MAX_ENTRIES entries and MAX_TOTAL bytes
  uncompressed, no entry over MAX_NOTEBOOK; a path with ``..`` or a leading ``/`` is refused;
- a flat LMS file ``<name>_<number>_..._<notebook>.ipynb`` keeps ``<name>_<number>`` as the
  student id; two files for one student's notebook are both reported, and the one whose name
  sorts last (the later attempt, on the platforms we know) is graded;
- a lone notebook under another name is graded under the expected one; a file that is not a
  notebook, or a missing notebook, scores 0 with a note; a solution cell moved below its checks is
  put back in front of them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .cells import cell_id, is_grade, is_solution
from .course_notebooks import CourseNotebooks
from .records import Job, NotGraded

MAX_ID = 128
ID_CHARACTERS = re.compile(r"^[A-Za-z0-9._@+-]+$")
LMS_NAME = re.compile(r"^(?P<student_id>[^_/]+?(?:_\d+)?)_(?:.*_)?"
                      r"(?P<notebook>\d\d_[A-Za-z0-9_]+?)(?: \(\d+\))?\.ipynb$")
MAX_ENTRIES = 20_000
MAX_TOTAL = 2 * 1024 ** 3
MAX_NOTEBOOK = 20 * 1024 ** 2
MAX_CELLS = 2_000   # the course's notebooks have under 100; nbgrader's own work grows with cells

ASK_AGAIN = "ask the student to hand in the course's notebook again, then run `make grade` again"


class IntakeError(SystemExit):
    """SUBMITTED as a whole cannot be read; the message says why and what to do."""


@dataclass
class Intake:
    """What SUBMITTED holds: a Job per (student, assignment, notebook) found; what was refused
    (``NotGraded``); and notes on what was skipped as no one's work or was doubtful."""
    jobs: list[Job] = field(default_factory=list)
    refused: list[NotGraded] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def refuse(self, what: str, why: str, what_to_do: str) -> None:
        self.refused.append(NotGraded(_shown(what), why, what_to_do))

    @property
    def messages(self) -> list[str]:
        """Every line to print: the notes, and each refusal."""
        return self.notes + [f"NOT GRADED {r.what}: {r.why} ({r.what_to_do})" for r in self.refused]


def intake(submitted: Path, notebooks: CourseNotebooks) -> tuple[list[Job], list[str]]:
    """(jobs, messages): ``take_in``'s jobs and its lines to print."""
    found = take_in(submitted, notebooks)
    return found.jobs, found.messages


def take_in(submitted: Path, notebooks: CourseNotebooks) -> Intake:
    """What ``submitted`` holds, for the course whose assignments and instructors' notebooks
    ``notebooks`` holds (what an assignment's folder must hold, where its solution cells go)."""
    found = Intake()
    files = (_from_zip(submitted, found, notebooks) if submitted.suffix.lower() == ".zip"
             and not submitted.is_dir() else _from_folder(submitted, found, notebooks))
    if not files:
        raise IntakeError(f"error: no submissions in {submitted}: expected "
                          f"<student_id>/<assignment>/<notebook>.ipynb (or a zip of them) with an "
                          f"assignment among {', '.join(notebooks.assignments)}.")
    for (student, assignment), named in sorted(files.items()):
        found.jobs += list(_jobs_for(student, assignment, named, notebooks))
    for job in found.jobs:
        if job.refused:
            found.refused.append(NotGraded(
                f"{job.student}/{job.assignment}/{job.notebook}.ipynb", job.refused,
                f"scored 0; {ASK_AGAIN}", job.student, job.assignment, job.notebook))
    return found


def id_problem(student: str) -> str | None:
    """Why ``student`` is not a student id this grader takes, or None."""
    if len(student) > MAX_ID:
        return f"a student id is at most {MAX_ID} characters; this one has {len(student)}"
    if not ID_CHARACTERS.match(student):
        bad = sorted({c for c in student if not ID_CHARACTERS.match(c)})
        return (f"a student id is letters, digits and ._-@+ only; this one has "
                f"{' '.join(repr(c) for c in bad[:5])}")
    if not (student[0].isalnum() or student[0] == "_"):
        return (f"a student id starts with a letter, a digit or _ (not {student[0]!r}: a hidden "
                f"folder, or a formula in a spreadsheet)")
    return None


def valid_student(student: str) -> bool:
    return id_problem(student) is None


RENAME = "rename it to a valid id (the LMS's user name or e-mail) and run `make grade` again"


def _from_folder(submitted: Path, found: Intake, notebooks: CourseNotebooks):
    if not submitted.is_dir():
        raise IntakeError(f"error: SUBMITTED={submitted} is not a folder or a zip file. It must "
                          f"hold <student_id>/<assignment>/<notebook>.ipynb.")
    known = set(notebooks.assignments)
    files: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for student in sorted(os.scandir(submitted), key=lambda e: e.name):
        if student.is_symlink():
            found.refuse(student.name, "a link, not a folder (links are not followed)",
                         "copy the student's folder in instead")
            continue
        if not student.is_dir(follow_symlinks=False):
            _stray(found, student.name, "a file outside any student's folder")
            continue
        if problem := id_problem(student.name):
            found.refuse(student.name, problem, RENAME)
            continue
        handed_in = False
        for assignment in sorted(os.scandir(student.path), key=lambda e: e.name):
            where = f"{student.name}/{assignment.name}"
            if assignment.name not in known or not assignment.is_dir(follow_symlinks=False):
                if assignment.is_dir(follow_symlinks=False) or assignment.name.endswith(".ipynb"):
                    found.refuse(where, f"not a folder named after an assignment of this course "
                                        f"({', '.join(sorted(known))})",
                                 "move the notebook into its assignment's folder and run "
                                 "`make grade` again")
                else:
                    found.notes.append(f"skipped {_shown(where)}: not an assignment's folder")
                continue
            handed_in = True
            named = files[(student.name, assignment.name)]
            for entry in sorted(os.scandir(assignment.path), key=lambda e: e.name):
                if not entry.name.endswith(".ipynb"):
                    continue
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    named[entry.name[:-6]].append((entry.name, None,
                                                   "is a link, which is not followed"))
                    continue
                named[entry.name[:-6]].append((entry.name, *_read(Path(entry.path))))
        if not handed_in:
            found.refuse(student.name, "this student's folder holds no assignment of this course",
                         "check what the student handed in")
    return files


def _stray(found: Intake, name: str, where: str) -> None:
    """A file that is not in the expected place: refused if it is a notebook (someone's work),
    else only mentioned."""
    if name.lower().endswith(".ipynb"):
        found.refuse(name, f"a notebook {where.removeprefix('a file ')}",
                     "put it in <student_id>/<assignment>/ and run `make grade` again")
    else:
        found.notes.append(f"skipped {_shown(name)}: {where}, not a notebook")


def _read(path: Path):
    with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as file:
        data = file.read(MAX_NOTEBOOK + 1)
    if len(data) > MAX_NOTEBOOK:
        return None, f"is larger than {MAX_NOTEBOOK // 1024 ** 2} MB"
    return data, None


def _from_zip(submitted: Path, found: Intake, notebooks: CourseNotebooks):
    if not zipfile.is_zipfile(submitted):
        raise IntakeError(f"error: SUBMITTED={submitted} is not a folder or a readable zip file.")
    known = set(notebooks.assignments)
    owner = {name: assignment for assignment in known for name in notebooks.notebooks(assignment)}
    files: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    with zipfile.ZipFile(submitted) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise IntakeError(f"error: {submitted} holds {len(entries)} entries (at most "
                              f"{MAX_ENTRIES} are read). Split the class into several zips.")
        if sum(e.file_size for e in entries) > MAX_TOTAL:
            raise IntakeError(f"error: {submitted} unpacks to more than "
                              f"{MAX_TOTAL // 1024 ** 3} GB; it is not read.")
        for entry in entries:
            name = entry.filename
            parts = name.replace("\\", "/").split("/")
            if entry.is_dir() or parts[0] == "__MACOSX":
                continue
            if name.startswith("/") or ".." in parts or ":" in parts[0]:
                found.refuse(name, "a path outside the archive's folder",
                             "unpack the zip, check this file, and grade the folder")
                continue
            if stat.S_ISLNK(entry.external_attr >> 16):
                found.refuse(name, "a link (links are not followed)",
                             "replace it by the file it points to")
                continue
            if len(parts) >= 3 and parts[-2] in known:
                student, assignment, filename = parts[-3], parts[-2], parts[-1]
            else:
                match = LMS_NAME.match(parts[-1])
                if not (match and match["notebook"] in owner):
                    _stray(found, name, "a file not named <student_id>_..._<notebook>.ipynb "
                                        "with a notebook of this course")
                    continue
                student, assignment = match["student_id"], owner[match["notebook"]]
                filename = f"{match['notebook']}.ipynb"
            if problem := id_problem(student):
                found.refuse(name, f"the student id {_shown(student)}: {problem}", RENAME)
                continue
            if not filename.endswith(".ipynb"):
                continue
            if entry.file_size > MAX_NOTEBOOK:
                read = (None, f"is larger than {MAX_NOTEBOOK // 1024 ** 2} MB")
            else:
                read = (archive.read(entry), None)
            files[(student, assignment)][filename[:-6]].append((parts[-1], *read))
    return files


def _jobs_for(student: str, assignment: str, named: dict[str, list],
              notebooks: CourseNotebooks):
    expected = notebooks.notebooks(assignment)
    strays = [name for name in named if name not in expected]
    for notebook in expected:
        notes = []
        candidates = named.get(notebook, [])
        if not candidates and len(expected) == 1 and len(strays) == 1:
            candidates = named[strays[0]]
            notes.append(f"handed in as `{candidates[-1][0]}`; graded as `{notebook}.ipynb`")
        if not candidates:
            yield Job(student, assignment, notebook, None,
                      (f"`{notebook}.ipynb` is missing: every graded cell scores 0",))
            continue
        if len(candidates) > 1:
            notes.append(f"{len(candidates)} files for this notebook "
                         f"({', '.join(_shown(c[0]) for c in candidates)}); graded "
                         f"{_shown(candidates[-1][0])}, the last by name")
        filename, data, problem = candidates[-1]
        if data is None:
            refused = f"`{_shown(filename)}` {problem}"
        else:
            snapshot, problem = _snapshot(data, notebooks.solution(assignment, notebook))
            if snapshot is not None:
                yield Job(student, assignment, notebook, snapshot[0], (*notes, *snapshot[1]))
                continue
            refused = f"`{_shown(filename)}` {problem}"
        yield Job(student, assignment, notebook, None,
                  (*notes, f"{refused}: every graded cell scores 0"), refused=refused)


def _snapshot(data: bytes, source: nbformat.NotebookNode):
    """(bytes to grade, notes) from what the student handed in, or (None, why not). ``source``:
    the instructors' notebook."""
    try:
        cells = json.loads(data).get("cells")  # counted before nbformat validates each one
        if isinstance(cells, list) and len(cells) > MAX_CELLS:
            return None, (f"has {len(cells):,} cells (at most {MAX_CELLS:,} are graded; the "
                          f"course's notebook has under 100)")
        parsed = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(parsed)
    except Exception as error:  # noqa: BLE001 - any unreadable file: this student's problem
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        return None, f"is not a readable notebook ({reason})"
    notes = [f"solution cell {moved} was moved below its checks; graded in its place"
             for moved in put_solutions_back(parsed, source)]
    return (nbformat.writes(parsed).encode(), notes), None


def put_solutions_back(notebook, source: nbformat.NotebookNode) -> list[str]:
    """Move each solution cell that a learner moved below its first test cell of the instructors'
    notebook ``source`` back in front of it (nbgrader restores what cells hold, not where they
    are). Returns the moved cells' ids."""
    order = [c for c in source.cells if is_solution(c) or is_grade(c)]
    first_test = {}
    for n, cell in enumerate(order):
        if is_solution(cell):
            later = [cell_id(c) for c in order[n + 1:] if is_grade(c)]
            if later:
                first_test[cell_id(cell)] = later[0]
    moved = []
    for solution, test in first_test.items():
        ids = [cell_id(c) for c in notebook.cells]
        if solution in ids and test in ids and ids.index(solution) > ids.index(test):
            cell = notebook.cells.pop(ids.index(solution))
            notebook.cells.insert(ids.index(test), cell)
            moved.append(solution)
    return moved


def _shown(text: str) -> str:
    """A learner-derived name, printable on one line."""
    return repr(text[:80])[1:-1]
