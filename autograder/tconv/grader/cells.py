"""A notebook's cells as nbgrader sees them: their roles (``nbgrader.utils``' ``is_grade``,
``is_solution``, ``is_locked``), their ids, and the regions that the delimiters of the course's
nbgrader configuration mark in them (``ClearSolutions.begin_solution_delimeter`` and its end,
``ClearHiddenTests.begin_test_delimeter`` and its end: ``### BEGIN SOLUTION``, ``### BEGIN HIDDEN
TESTS``, ... unless ``autograder/nbgrader_config.py`` says otherwise).

As in nbgrader, a line that contains a begin delimiter opens a region and the next line that
contains its end delimiter closes it; both lines belong to the region.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from nbgrader.utils import is_grade, is_locked, is_solution

from . import course

__all__ = ["Region", "Delimiters", "delimiters", "cell_id", "is_grade", "is_locked",
           "is_solution", "is_test"]


def cell_id(cell) -> str | None:
    """The cell's nbgrader id (its grade_id), or None for a cell nbgrader does not know."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_test(cell) -> bool:
    """A test cell: a code cell nbgrader grades (an autograder test)."""
    return cell.cell_type == "code" and bool(is_grade(cell))


@dataclass(frozen=True)
class Region:
    """The lines between a ``begin`` and an ``end`` delimiter, the delimiters' lines included."""
    begin: str
    end: str

    def spans(self, source: str) -> list[tuple[int, int]]:
        """(first, last) line index (from 0) of each region of ``source``. A region that is not
        closed is an error in the instructors' notebook: ValueError names it."""
        spans, first = [], None
        for number, line in enumerate(_lines(source)):
            if first is None and self.begin in line:
                first = number
            elif first is not None and self.end in line:
                spans.append((first, number))
                first = None
        if first is not None:
            raise ValueError(f"line {first + 1}: {self.begin!r} without {self.end!r} after it; "
                             f"close the region in the instructors' notebook")
        return spans

    def line_numbers(self, source: str) -> set[int]:
        """The line numbers (from 1) inside the regions, the delimiters' lines included."""
        return {n + 1 for first, last in self.spans(source) for n in range(first, last + 1)}

    def contents(self, source: str) -> list[str]:
        """The text of each region, without the delimiters' lines."""
        lines = _lines(source)
        return ["".join(lines[first + 1:last]) for first, last in self.spans(source)]

    def removed(self, source: str) -> str:
        """``source`` without its regions (their lines, the delimiters' included)."""
        inside = self.line_numbers(source)
        return "".join(line for n, line in enumerate(_lines(source), 1) if n not in inside)

    def unmarked(self, source: str) -> str:
        """``source`` with the regions' text kept and the delimiters' lines left out."""
        marks = {n for span in self.spans(source) for n in span}
        return "".join(line for n, line in enumerate(_lines(source)) if n not in marks)


def _lines(source: str) -> list[str]:
    """The lines of ``source``, each with its newline (nbgrader splits on "\\n" alone)."""
    lines = [f"{line}\n" for line in source.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines


@dataclass(frozen=True)
class Delimiters:
    solution: Region
    hidden_tests: Region


@functools.cache
def delimiters() -> Delimiters:
    """The delimiters nbgrader uses for this course, as its preprocessors read them from the
    course's configuration."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    config = course.nbgrader_config()
    solutions, hidden = ClearSolutions(config=config), ClearHiddenTests(config=config)
    return Delimiters(Region(solutions.begin_solution_delimeter, solutions.end_solution_delimeter),
                      Region(hidden.begin_test_delimeter, hidden.end_test_delimeter))
