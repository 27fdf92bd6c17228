"""Visible checks as strict as grading: for every exercise of the registry, every known mistake
and every dtype slip that the hidden cases reject is rejected by a case the learner sees too (the
visible part of a test cell, what `make release` leaves in course/), or the exercise's text names
the case the learner cannot see (``NAMED_IN_THE_TEXT``).

A dtype slip is an answer right but for its output array's dtype: integers (what ``np.zeros(n,
dtype=int)`` or ``np.zeros_like`` of an integer input makes: the values truncated), bools, or
float32 where the exercise asks for float64. They apply to the exercises whose answer is an array
the learner creates (``compare`` "arrays"); chapter 06's return the input's own tensor (a crop) or
a PyTorch block, whose dtype the learner's code does not choose."""

from __future__ import annotations

import functools

import nbformat
import numpy as np
import pytest

from tconv import exercises
from tconv.grader import course, recheck


def _integers(answer):
    return lambda *args: np.trunc(np.asarray(answer(*args), dtype=np.float64)).astype(np.int64)


def _bools(answer):
    return lambda *args: np.asarray(answer(*args), dtype=np.float64).astype(bool)


def _float32(answer):
    return lambda *args: np.asarray(answer(*args), dtype=np.float64).astype(np.float32)


DTYPE_SLIPS = {"integer output": _integers, "bool output": _bools, "float32 output": _float32}

# (check, slip) -> the words of the exercise's text that name the hidden case a visible check
# cannot show. Empty: every slip the hidden cases catch, a visible case catches too.
NAMED_IN_THE_TEXT: dict = {}


@functools.cache
def cell_calls(notebook_stem: str) -> tuple[list, list]:
    """(visible, every) check call of the chapter's graded cells: the visible ones are what is left
    of a cell above its hidden tests, as the released notebook has it."""
    path = next(course.SOLUTIONS.glob(f"{notebook_stem}*/*.ipynb"))
    visible, every = [], []
    for cell in nbformat.read(path, as_version=4).cells:
        if not cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        shown = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        whole = cell.source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", "")
        visible += recheck.test_cell_calls(shown) or []
        every += recheck.test_cell_calls(whole) or []
    return visible, every


def rejected(exercise, answer, calls) -> bool:
    """Whether any of the exercise's check calls in ``calls`` rejects ``answer``."""
    for call in calls:
        if call.check != exercise.check:
            continue
        if recheck.recording.run_check(call, answer) is not None:
            return True
    return False


def slips(exercise):
    """(name, answer) of every known mistake and dtype slip of the exercise."""
    found = [(mistake.name, exercise.in_learners_form(mistake.compute))
             for mistake in exercise.mistakes]
    if exercise.compare == "arrays":
        found += [(name, make(exercise.reference)) for name, make in DTYPE_SLIPS.items()]
    return found


GRADED = [e for e in exercises.EXERCISES if e.recheck]
SLIPS = [(e, name, answer) for e in GRADED for name, answer in slips(e)]


@pytest.mark.parametrize("exercise, slip, answer", SLIPS,
                         ids=[f"{e.check}-{name}" for e, name, _ in SLIPS])
def test_what_grading_rejects_a_visible_check_rejects_too(exercise, slip, answer):
    visible, every = cell_calls(exercise.chapter)
    assert any(call.check == exercise.check for call in visible), exercise.check
    if not rejected(exercise, answer, every):
        return  # grading accepts it too (float32 within the tolerance, integer counts)
    if rejected(exercise, answer, visible):
        return
    words = NAMED_IN_THE_TEXT.get((exercise.check, slip))
    assert words, (f"{exercise.check}: {slip!r} fails a hidden case but passes every visible one: "
                   f"add a visible case that shows it, or name the case in the exercise's text")
    text = "".join(c.source for c in nbformat.read(
        next(course.SOLUTIONS.glob(f"{exercise.chapter}*/*.ipynb")), as_version=4).cells
        if c.cell_type == "markdown")
    assert words in text, (exercise.check, slip, words)


def test_the_strictness_test_notices_a_slip_only_hidden_cases_show():
    """The test above fails on an exercise whose visible cases cannot show a slip: chapter 01's
    check run with only its integer-valued example visible and its edge cases hidden."""
    exercise = exercises.BY_CHECK["check_conv_transpose1d"]
    visible = [recheck.CheckCall(exercise.check, exercise.learner,
                                  (exercise.test_cases()[:1],), {})]
    every = visible + [recheck.CheckCall(exercise.check, exercise.learner,
                                          (exercise.test_cases(),), {})]
    integer = _integers(exercise.reference)
    assert rejected(exercise, integer, every) and not rejected(exercise, integer, visible)
    assert not rejected(exercise, exercise.reference, every)


def test_float32_within_the_tolerance_is_accepted_everywhere():
    """float32 where float64 is asked keeps about 7 digits: no check rejects it, visible or hidden
    (the checks' tolerance suits float32), so it never needs a visible case."""
    for exercise in GRADED:
        if exercise.compare == "arrays":
            _, every = cell_calls(exercise.chapter)
            assert not rejected(exercise, _float32(exercise.reference), every), exercise.check
