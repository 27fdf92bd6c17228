"""The cells' roles and regions as nbgrader sees them (tconv/grader/cells.py): the delimiters come
from the course's nbgrader configuration, and a region is what nbgrader's own preprocessors clear."""

from __future__ import annotations

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
from traitlets.config import Config

from tconv.grader import cells, course

TEST_CELL = ("check(f)\n"
             "    ### BEGIN HIDDEN TESTS\n"
             "    check(f, seed=3)\n"
             "    ### END HIDDEN TESTS\n"
             "done()\n"
             "### BEGIN HIDDEN TESTS\n"
             "check(g, seed=4)\n"
             "### END HIDDEN TESTS")


def _test_cell(source: str):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1}})


@pytest.fixture
def configured(monkeypatch):
    """delimiters() as read from a configuration ``configured(config)`` gives."""
    def use(config: Config) -> cells.Delimiters:
        monkeypatch.setattr(course, "nbgrader_config", lambda **_: config)
        cells.delimiters.cache_clear()
        return cells.delimiters()

    yield use
    cells.delimiters.cache_clear()


def test_the_regions_are_what_nbgraders_own_preprocessors_clear():
    hidden = cells.delimiters().hidden_tests
    cell = _test_cell(TEST_CELL)
    cleared, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    assert hidden.removed(TEST_CELL) == "check(f)\ndone()\n"
    assert cleared.source == "check(f)\ndone()"  # nbgrader's: the same lines
    assert hidden.line_numbers(TEST_CELL) == {2, 3, 4, 6, 7, 8}
    assert hidden.contents(TEST_CELL) == ["    check(f, seed=3)\n", "check(g, seed=4)\n"]
    assert hidden.unmarked(TEST_CELL) == "check(f)\n    check(f, seed=3)\ndone()\ncheck(g, seed=4)\n"

    answer = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    solution = nbformat.v4.new_code_cell(answer, metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": "a"}})
    ClearSolutions().preprocess_cell(solution, {"language": "python"}, 0)
    assert "return x" not in solution.source  # nbgrader clears the region we keep the text of
    assert cells.delimiters().solution.unmarked(answer) == "def f(x):\n    return x\n"


def test_the_delimiters_are_the_course_configurations(configured):
    """Shown to fail with the delimiters written into the code: a course that renames them is
    followed (here: SECRET CHECKS), and the default markers are then plain code."""
    config = Config()
    config.ClearHiddenTests.begin_test_delimeter = "BEGIN SECRET CHECKS"
    config.ClearHiddenTests.end_test_delimeter = "END SECRET CHECKS"
    config.ClearSolutions.begin_solution_delimeter = "BEGIN ANSWER"
    config.ClearSolutions.end_solution_delimeter = "END ANSWER"
    found = configured(config)
    assert found.hidden_tests == cells.Region("BEGIN SECRET CHECKS", "END SECRET CHECKS")
    assert found.solution == cells.Region("BEGIN ANSWER", "END ANSWER")
    assert found.hidden_tests.removed(TEST_CELL) == TEST_CELL
    renamed = TEST_CELL.replace("HIDDEN TESTS", "SECRET CHECKS")
    assert found.hidden_tests.removed(renamed) == "check(f)\ndone()\n"


def test_the_course_configuration_keeps_nbgraders_defaults(configured):
    found = configured(course.nbgrader_config())
    assert found.hidden_tests == cells.Region("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    assert found.solution == cells.Region("BEGIN SOLUTION", "END SOLUTION")


def test_a_region_left_open_is_refused_naming_its_line():
    with pytest.raises(ValueError, match=r"line 2: 'BEGIN HIDDEN TESTS' without 'END HIDDEN "
                                         r"TESTS' after it"):
        cells.delimiters().hidden_tests.spans("check(f)\n### BEGIN HIDDEN TESTS\ncheck(g)")


def test_roles_are_nbgraders():
    test = _test_cell("check(f)")
    markdown = nbformat.v4.new_markdown_cell("text", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "m", "points": 1}})
    answer = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": True, "grade_id": "a"}})
    plain = nbformat.v4.new_code_cell("x = 1")
    assert cells.is_test(test) and not cells.is_test(markdown) and not cells.is_test(answer)
    assert cells.is_locked(test) and not cells.is_locked(answer)  # an answer is never locked
    assert [cells.cell_id(c) for c in (test, markdown, answer, plain)] == ["t", "m", "a", None]
