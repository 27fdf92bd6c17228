"""The instructors' notebooks (solutions/) and the released ones (course/) of a grading run, read
once and handed to every piece of the run as data.

``grading.grade_batch`` reads them (``CourseNotebooks.read``) before anything is graded: the
intake, the gradebook, the runner and every task (on a cluster worker too: they travel in
``task.Settings``) work from that one reading. A notebook missing from either folder stops the
run before it starts, named; and an instructor who edits solutions/ while a batch runs cannot
make two of its tasks grade against different notebooks.

The notebooks are kept as their JSON text, which pickles cheaply to a worker; each process parses
a text once (``_parsed``) and hands out deep copies, so no caller's change reaches another's.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import course

Key = tuple[str, str]   # (assignment, notebook name without .ipynb)


class MissingNotebook(FileNotFoundError):
    """A notebook of the course is not where the grader looks for it; the message names it."""


@dataclass(frozen=True)
class CourseNotebooks:
    """Per (assignment, notebook): the instructors' notebook and the released one, as text."""
    solution_texts: dict[Key, str] = field(default_factory=dict)
    released_texts: dict[Key, str] = field(default_factory=dict)

    @classmethod
    def read(cls, assignments) -> CourseNotebooks:
        """Every notebook of ``assignments`` from solutions/ and course/ (``course.SOLUTIONS``,
        ``course.COURSE``). MissingNotebook names the first file or folder that is not there."""
        solutions, released = {}, {}
        for assignment in assignments:
            names = course.notebooks(assignment)
            if not names:
                raise MissingNotebook(f"{course.SOLUTIONS / assignment} holds no notebook: the "
                                      f"instructors' notebooks of {assignment} go there")
            for name in names:
                solutions[(assignment, name)] = _text(
                    course.SOLUTIONS / assignment / f"{name}.ipynb", "the instructors' notebook")
                released[(assignment, name)] = _text(
                    course.COURSE / assignment / f"{name}.ipynb", "the released notebook",
                    ": `make release` writes it from solutions/")
        return cls(solutions, released)

    @property
    def assignments(self) -> list[str]:
        """The assignments read, in order."""
        return sorted({assignment for assignment, _ in self.solution_texts})

    def notebooks(self, assignment: str) -> list[str]:
        """The notebook names (without .ipynb) of one assignment, in order; [] if not read."""
        return sorted(name for a, name in self.solution_texts if a == assignment)

    def only(self, assignments) -> CourseNotebooks:
        """The notebooks of ``assignments`` alone (what a batch's tasks carry)."""
        wanted = set(assignments)
        return CourseNotebooks({k: v for k, v in self.solution_texts.items() if k[0] in wanted},
                               {k: v for k, v in self.released_texts.items() if k[0] in wanted})

    def solution(self, assignment: str, notebook: str) -> nbformat.NotebookNode:
        """The instructors' notebook, parsed: a copy of its own for the caller."""
        return copy.deepcopy(_parsed(self._text(self.solution_texts, assignment, notebook)))

    def released(self, assignment: str, notebook: str) -> nbformat.NotebookNode:
        """The released notebook (what learners start from), parsed: a copy of its own."""
        return copy.deepcopy(_parsed(self._text(self.released_texts, assignment, notebook)))

    def digest(self, assignment: str) -> str:
        """A digest of the assignment's notebooks, both folders' (a result depends on both).
        LookupError for an assignment this run did not read (its digest would cover nothing)."""
        names = self.notebooks(assignment)
        if not names:
            raise LookupError(f"{assignment} was not read for this grading run (it read "
                              f"{', '.join(self.assignments) or 'no assignment'})")
        digest = hashlib.sha256()
        for name in names:
            for folder, texts in (("solutions", self.solution_texts),
                                  ("course", self.released_texts)):
                digest.update(f"{folder}/{assignment}/{name}.ipynb".encode() + b"\0"
                              + texts[(assignment, name)].encode() + b"\0")
        return digest.hexdigest()

    def _text(self, texts: dict[Key, str], assignment: str, notebook: str) -> str:
        try:
            return texts[(assignment, notebook)]
        except KeyError:
            raise LookupError(f"{assignment}/{notebook}.ipynb was not read for this grading run "
                              f"(it read {', '.join(self.assignments) or 'no assignment'})") \
                from None


def _text(path: Path, what: str, remedy: str = "") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingNotebook(f"{what} {path} is missing{remedy}") from None


@functools.lru_cache(maxsize=32)
def _parsed(text: str) -> nbformat.NotebookNode:
    """A notebook's text parsed, once per process (never handed out: ``CourseNotebooks`` copies)."""
    return nbformat.reads(text, as_version=4)
