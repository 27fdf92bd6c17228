"""Hidden cases a learner cannot know: drawn at grading time from the instructor's secret.

A lookup table built from everything the learners' copy holds (the cases' generators, the
registry, even the instructors' notebooks as written) passes the visible checks and fails every
hidden cell; two secrets grade the same honest notebooks alike; feedback on a hidden case names
no seed. Run through the re-check's own steps (``recheck.run``: record, child, judge), with
the child run as a plain subprocess that sees the packages the sandbox would show, and no
other (the sandbox's isolation is test_sandbox.py's subject).
"""

from __future__ import annotations

import ast
import functools
import re
import stat
import subprocess
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from tconv import checks, exercises, guard
from tconv.grader import cells, course, grading, packages, release, runner, task, recheck
from tconv.grader.course_notebooks import CourseNotebooks
from tconv.grader.records import Job

TABLE_CHAPTERS = ["01_scatter_add_1d", "07_checkerboard_subpixel"]
DRAW_A = recheck.draw_key("a secret of the instructor, 1", "ada")
DRAW_B = recheck.draw_key("another secret, 2222222222222", "ada")
# Hidden cells with nothing to draw: what they check is not a value of a drawn input (that a
# window too large raises, which layers a block is built of, the output shapes at the paper's
# fixed sizes).
NOTHING_TO_DRAW = {"center_crop_rejects_larger_window", "decoder_block_submodules",
                   "decoder_block_paper_sizes"}


def _notebooks(chapter: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """The chapter's instructors' notebook and its released one, parsed."""
    notebooks = CourseNotebooks.read([chapter])
    return notebooks.solution(chapter, chapter), notebooks.released(chapter, chapter)


# The sandbox's view of the installed packages, imitated in the child: any installed package that
# importing ``packages`` does not need is absent (as packages.py empties the site folders). Without
# it the child of a numpy chapter imports the course package and PyTorch through the learner's
# setup cell, 2 s a re-check that grading never pays.
ONLY = """import sys as _sys
class _Only:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in _sys.stdlib_module_names or top in {names!r}:
            return None
        raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
_sys.meta_path.insert(0, _Only())
exec({program!r})
"""


@functools.cache
def _importable(modules: tuple[str, ...]) -> frozenset[str]:
    """The top-level names the sandbox shows when ``modules`` are to be importable."""
    return frozenset(entry.name.removesuffix(".py") for entry in packages.entries(modules)
                     if not entry.name.endswith((".dist-info", ".libs", ".pth")))


def _subprocess_sandbox(modules: tuple[str, ...] = ()):
    """What ``recheck.run`` needs of a Sandbox, without the isolation but with its package view."""
    def run(command, input_bytes, timeout):
        *interpreter, program = command
        assert interpreter[-1] == "-c", command
        command = [*interpreter, ONLY.format(names=sorted(_importable(modules)), program=program)]
        done = subprocess.run(command, input=input_bytes, capture_output=True, timeout=timeout)
        return SimpleNamespace(timed_out=False, stdout=done.stdout, returncode=done.returncode,
                               memory_exceeded=False)
    return SimpleNamespace(run=run, seeing=lambda modules: _subprocess_sandbox(tuple(modules)))


def _recheck(submitted: Path, chapter: str, draw: str | None) -> dict[str, recheck.Verdict]:
    source, released = _notebooks(chapter)
    found = recheck.run(_subprocess_sandbox(), submitted, source, released, timeout=300,
                             draw=draw)
    return {verdict.grade_id: verdict for verdict in found}


def _hidden_cells(chapter: str) -> set[str]:
    return {grade_id for grade_id, text in recheck.test_cells(_notebooks(chapter)[0])
            if cells.delimiters().hidden_tests.spans(text)}


# --- every hidden cell draws ----------------------------------------------------------------------

def undrawn_hidden_cells(source: nbformat.NotebookNode) -> set[str]:
    """The test cells whose hidden tests run on the same cases whatever the secret."""
    one, other = recheck.plan_for(source, DRAW_A), recheck.plan_for(source, DRAW_B)
    undrawn = set()
    for (grade_id, first), (_, second) in zip(one, other):
        hidden = [(a, b) for a, b in zip(first or [], second or []) if a.hidden]
        if hidden and all(repr((a.args, a.kwargs)) == repr((b.args, b.kwargs)) for a, b in hidden):
            undrawn.add(grade_id)
    return undrawn


def test_every_hidden_cell_that_checks_values_draws_its_cases_from_the_secret():
    undrawn = set()
    for chapter in course.assignments():
        undrawn |= undrawn_hidden_cells(_notebooks(chapter)[0])
    assert undrawn == NOTHING_TO_DRAW


def test_a_hidden_test_on_fixed_cases_only_is_found():
    """The test above notices a hidden block that draws nothing, and the recorder refuses a
    cases function whose seed is left to its default (its cases would be the published ones)."""
    notebook = _notebooks("01_scatter_add_1d")[0]
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "conv_transpose1d_random_cases")
    cell.source = re.sub(r"(### BEGIN HIDDEN TESTS\n).*?(### END HIDDEN TESTS)",
                         r"\1checks.check_conv_transpose1d(conv_transpose1d, cases.seed_example_1d())\n\2",
                         cell.source, flags=re.S)
    assert undrawn_hidden_cells(notebook) == {"conv_transpose1d_random_cases"}
    with pytest.raises(RuntimeError, match="give it as seed="):
        recheck.test_cell_calls("checks.check_conv_transpose1d(conv_transpose1d, cases.edge_1d())\n"
                                 "### BEGIN HIDDEN TESTS\n"
                                 "checks.check_conv_transpose1d(conv_transpose1d, cases.edge_1d())\n"
                                 "### END HIDDEN TESTS", DRAW_A)


def test_a_regrade_with_the_same_secret_draws_the_same_cases():
    source = _notebooks("07_checkerboard_subpixel")[0]
    first = repr([(g, [(c.args, c.kwargs) for c in calls or []])
                  for g, calls in recheck.plan_for(source, DRAW_A)])
    recheck.recording._plan.cache_clear()
    again = repr([(g, [(c.args, c.kwargs) for c in calls or []])
                  for g, calls in recheck.plan_for(source, DRAW_A)])
    assert first == again
    # and another student's (or another secret's) cases are others
    assert recheck.draw_key("s" * 32, "ada") != recheck.draw_key("s" * 32, "bob")


# --- a lookup table scores nothing on hidden cells ---------------------------------------------------

def _table_key(args) -> str:
    """The key the table notebook computes from its function's arguments (same code, below)."""
    return repr([(str(a.dtype), a.shape, a.tolist()) if isinstance(a, np.ndarray) else a
                 for a in args])


LOOKUP = '''\
import numpy as np

_TABLE_{name} = {table!r}


def {name}(*args):
    key = repr([(str(a.dtype), a.shape, a.tolist()) if isinstance(a, np.ndarray) else a
                for a in args])
    if key not in _TABLE_{name}:
        raise KeyError("not in my table")
    return np.array(_TABLE_{name}[key])
'''


def published_inputs(chapter: str) -> dict[str, list[tuple]]:
    """{learner function: [args]}: every input the learners' copy can make for a chapter's
    exercises (the registry's cases), and every call of the instructors' notebook as written,
    hidden tests included: more than a learner can know."""
    found: dict[str, list[tuple]] = {}
    for exercise in exercises.EXERCISES:
        if chapter.startswith(exercise.chapter) and exercise.test_cases is not None:
            found.setdefault(exercise.learner, []).extend(
                case.args for case in exercise.test_cases())
    for _, calls in recheck.plan_for(_notebooks(chapter)[0]):
        for call in calls or []:
            found.setdefault(call.function, []).extend(args for args, _ in call.calls)
    return found


def table_notebook(chapter: str, into: Path) -> Path:
    """The released notebook with every exercise answered by a lookup table of ``published_inputs``
    (the answers computed with the course's reference, as a learner would with PyTorch)."""
    by_learner = {e.learner: e for e in exercises.EXERCISES if chapter.startswith(e.chapter)}
    tables = {}
    for learner, inputs in published_inputs(chapter).items():
        answer = by_learner[learner].reference
        tables[learner] = {_table_key(args): np.asarray(answer(*args), dtype=np.float64).tolist()
                           for args in inputs}
    answers = release.solution_sources()
    notebook = _notebooks(chapter)[1]
    replaced = set()
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution") or meta.get("grade_id") not in answers:
            continue
        defined = {node.name for node in ast.parse(answers[meta["grade_id"]]).body
                   if isinstance(node, ast.FunctionDef)} & set(tables)
        if defined:
            (name,) = defined
            cell.source = LOOKUP.format(name=name, table=tables[name])
            replaced.add(name)
    assert replaced == set(tables), "every exercise of the chapter answered by its table"
    path = into / f"{chapter}.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("chapter", TABLE_CHAPTERS)
@pytest.mark.slow
def test_a_lookup_table_of_the_published_cases_scores_nothing_on_hidden_cells(chapter, tmp_path):
    submitted = table_notebook(chapter, tmp_path)
    hidden = _hidden_cells(chapter)
    assert hidden
    # Without a secret (the hidden tests' seeds as the instructors wrote them), the table passes
    # everything: this is the attack, and the test could fail.
    as_written = _recheck(submitted, chapter, None)
    assert all(v.passed for v in as_written.values()), \
        {g: v.message for g, v in as_written.items() if not v.passed}
    # Drawn from a secret, it passes the visible-only cells and no hidden one.
    drawn = _recheck(submitted, chapter, DRAW_A)
    assert {g for g, v in drawn.items() if v.passed} == set(drawn) - hidden
    for grade_id in hidden:
        assert "not in my table" in drawn[grade_id].message, drawn[grade_id].message


# --- two secrets grade honest notebooks alike -------------------------------------------------------

HONEST = ["perfect", "overwrites_instead_of_adding", "checkerboard_mistakes_a",
          "checkerboard_mistakes_c"]


@pytest.mark.parametrize("chapter", TABLE_CHAPTERS)
@pytest.mark.slow
def test_two_secrets_grade_the_same_honest_notebooks_identically(chapter):
    compared = 0
    for student in HONEST:
        submitted = course.SAMPLE_SUBMISSIONS / student / chapter / f"{chapter}.ipynb"
        if not submitted.exists():
            continue
        one, other = _recheck(submitted, chapter, DRAW_A), _recheck(submitted, chapter, DRAW_B)
        assert {g: (v.passed, v.found) for g, v in one.items()} == \
               {g: (v.passed, v.found) for g, v in other.items()}, student
        compared += 1
        if student == "perfect":
            assert all(v.passed for v in one.values())
        else:
            assert not all(v.passed for v in one.values()), f"{student} makes a mistake"
    assert compared >= 2


# --- feedback on a hidden case ----------------------------------------------------------------------

def test_feedback_on_a_failing_hidden_case_shows_its_input_and_first_wrong_value_not_its_seed():
    """An answer wrong on a hidden case only: the message shows the call (the input itself when
    small) and the first wrong value; no seed, drawn or written, and not the whole expected
    output."""
    chapter = "01_scatter_add_1d"
    source = _notebooks(chapter)[0]
    from tconv import reference

    encoded = []
    for _, calls in recheck.plan_for(source, DRAW_A):
        for call in calls or []:
            for args, _ in call.calls:
                out = np.asarray(reference.conv_transpose1d(*args), dtype=np.float64)
                if call.hidden and len(args[0]) > 5:
                    out = out + 0.5  # wrong on the long hidden inputs only
                encoded.append(["array", {"dtype": "float64", "shape": list(out.shape),
                                          "data": out.ravel().tolist()}])
    found = {v.grade_id: v for v in recheck.judge(source, encoded, None, DRAW_A)}
    failed = found["conv_transpose1d_random_cases"]
    assert failed.passed is False
    assert "wrong value at index 0" in failed.message
    assert recheck.DRAWN_NOTE in failed.message
    assert not re.search(r"seed \d", failed.message), failed.message
    assert "expected:" not in failed.message and "yours:" not in failed.message
    drawn = {str(recheck.drawn_seed(DRAW_A, written)) for written in ("2026", "7", "101")}
    assert not any(seed in failed.message for seed in drawn)
    # the check itself shows the whole expected output of that case: the re-check's hidden
    # rendering is what keeps it back
    first_hidden = next(call for _, calls in recheck.plan_for(source, DRAW_A)
                        for call in calls or [] if call.hidden)
    with pytest.raises(checks.CheckFailed) as raised:
        checks.check_conv_transpose1d(
            lambda *args: np.asarray(reference.conv_transpose1d(*args)) + 0.5,
            first_hidden.args[0][:1], picture=False, shortcuts=guard.REFERENCES)
    assert "expected:" in raised.value.verdict.message


# --- the secret: made once, kept out of the learners' reach, part of the results' key ------------

def test_the_secret_is_made_on_first_use_private_and_kept(tmp_path):
    made = grading.secret(tmp_path)
    path = tmp_path / grading.SECRET_FILE
    assert len(made) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert grading.secret(tmp_path) == made
    given = tmp_path / "mine"
    given.write_text("x" * 40 + "\n")
    assert grading.secret(tmp_path / "elsewhere", given) == "x" * 40
    assert not (tmp_path / "elsewhere").exists()
    given.write_text("short")
    with pytest.raises(SystemExit, match="at least 16"):
        grading.secret(tmp_path, given)


def test_the_secret_is_part_of_the_results_key():
    job = Job("ada", "01_scatter_add_1d", "01_scatter_add_1d", b"{}")
    settings = task.Settings(b"", secret="s" * 64)
    key = runner.task_key(job, settings, "digest")
    assert key == runner.task_key(job, replace(settings), "digest")
    assert key != runner.task_key(job, replace(settings, secret="t" * 64), "digest")

