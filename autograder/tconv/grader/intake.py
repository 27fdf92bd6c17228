"""Take a class's submissions in: SUBMITTED (a folder, or a zip) -> one Job per student notebook.

Everything is read once, into memory (the snapshot the rest of grading works from), and checked
on the way in:

- a student id is letters, digits and ``._-`` (at most 64, not starting with ``.`` or ``-``);
  anything else is reported and not graded;
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

import os
import re
import stat
import zipfile
from collections import defaultdict
from pathlib import Path

import nbformat

from . import course
from .records import Job

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LMS_NAME = re.compile(r"^(?P<student_id>[^_/]+?(?:_\d+)?)_(?:.*_)?"
                      r"(?P<notebook>\d\d_[A-Za-z0-9_]+?)(?: \(\d+\))?\.ipynb$")
MAX_ENTRIES = 20_000
MAX_TOTAL = 2 * 1024 ** 3
MAX_NOTEBOOK = 20 * 1024 ** 2


class IntakeError(SystemExit):
    """SUBMITTED as a whole cannot be read; the message says why and what to do."""


def intake(submitted: Path) -> tuple[list[Job], list[str]]:
    """(jobs, messages): a Job per (student, assignment, notebook) found; messages for what was
    skipped or doubtful, to print and to keep in the report."""
    files, messages = (_from_zip(submitted) if submitted.suffix.lower() == ".zip"
                       and not submitted.is_dir() else _from_folder(submitted))
    if not files:
        raise IntakeError(f"error: no submissions in {submitted}: expected "
                          f"<student_id>/<assignment>/<notebook>.ipynb (or a zip of them) with an "
                          f"assignment among {', '.join(course.assignments())}.")
    jobs = []
    for (student, assignment), named in sorted(files.items()):
        jobs += list(_jobs_for(student, assignment, named))
    return jobs, messages


def valid_student(student: str) -> bool:
    return bool(STUDENT_ID.match(student))


def _from_folder(submitted: Path):
    if not submitted.is_dir():
        raise IntakeError(f"error: SUBMITTED={submitted} is not a folder or a zip file. It must "
                          f"hold <student_id>/<assignment>/<notebook>.ipynb.")
    known = set(course.assignments())
    files: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    messages = []
    for student in sorted(os.scandir(submitted), key=lambda e: e.name):
        if student.is_symlink():
            messages.append(f"skipped {_shown(student.name)}: a link, not a folder")
            continue
        if not student.is_dir(follow_symlinks=False):
            continue
        if not valid_student(student.name):
            messages.append(f"skipped {_shown(student.name)}: a student id is letters, digits "
                            f"and ._- only")
            continue
        for assignment in sorted(os.scandir(student.path), key=lambda e: e.name):
            if assignment.name not in known or not assignment.is_dir(follow_symlinks=False):
                continue
            named = files[(student.name, assignment.name)]
            for entry in sorted(os.scandir(assignment.path), key=lambda e: e.name):
                if not entry.name.endswith(".ipynb"):
                    continue
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    named[entry.name[:-6]].append((entry.name, None,
                                                   "is a link, which is not followed"))
                    continue
                named[entry.name[:-6]].append((entry.name, *_read(Path(entry.path))))
    return files, messages


def _read(path: Path):
    with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as file:
        data = file.read(MAX_NOTEBOOK + 1)
    if len(data) > MAX_NOTEBOOK:
        return None, f"is larger than {MAX_NOTEBOOK // 1024 ** 2} MB"
    return data, None


def _from_zip(submitted: Path):
    if not zipfile.is_zipfile(submitted):
        raise IntakeError(f"error: SUBMITTED={submitted} is not a folder or a readable zip file.")
    owner = {name: assignment for assignment in course.assignments()
             for name in course.notebooks(assignment)}
    files: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    messages = []
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
                messages.append(f"skipped {_shown(name)}: a path outside the archive's folder")
                continue
            if stat.S_ISLNK(entry.external_attr >> 16):
                messages.append(f"skipped {_shown(name)}: a link")
                continue
            if len(parts) >= 3 and parts[-2] in course.assignments():
                student, assignment, filename = parts[-3], parts[-2], parts[-1]
            else:
                match = LMS_NAME.match(parts[-1])
                if not (match and match["notebook"] in owner):
                    messages.append(f"skipped {_shown(name)}: not <student_id>_..._<notebook>"
                                    f".ipynb with a notebook of this course")
                    continue
                student, assignment = match["student_id"], owner[match["notebook"]]
                filename = f"{match['notebook']}.ipynb"
            if not valid_student(student):
                messages.append(f"skipped {_shown(name)}: the student id {_shown(student)} is "
                                f"not letters, digits and ._- only")
                continue
            if not filename.endswith(".ipynb"):
                continue
            if entry.file_size > MAX_NOTEBOOK:
                found = (None, f"is larger than {MAX_NOTEBOOK // 1024 ** 2} MB")
            else:
                found = (archive.read(entry), None)
            files[(student, assignment)][filename[:-6]].append((parts[-1], *found))
    return files, messages


def _jobs_for(student: str, assignment: str, named: dict[str, list]):
    expected = course.notebooks(assignment)
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
            yield Job(student, assignment, notebook, None,
                      (*notes, f"`{_shown(filename)}` {problem}: every graded cell scores 0"))
            continue
        snapshot, problem = _snapshot(data, assignment, notebook)
        if snapshot is None:
            yield Job(student, assignment, notebook, None,
                      (*notes, f"`{_shown(filename)}` is not a readable notebook ({problem}): "
                               f"every graded cell scores 0"))
            continue
        yield Job(student, assignment, notebook, snapshot[0], (*notes, *snapshot[1]))


def _snapshot(data: bytes, assignment: str, notebook: str):
    """(bytes to grade, notes) from what the student handed in, or (None, why not)."""
    try:
        parsed = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(parsed)
    except Exception as error:  # noqa: BLE001 - any unreadable file: this student's problem
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        return None, reason
    notes = [f"solution cell {moved} was moved below its checks; graded in its place"
             for moved in put_solutions_back(parsed, course.SOLUTIONS / assignment /
                                             f"{notebook}.ipynb")]
    return (nbformat.writes(parsed).encode(), notes), None


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


def _shown(text: str) -> str:
    """A learner-derived name, printable on one line."""
    return repr(text[:80])[1:-1]
