"""Demonstration cells (tagged ``demo`` in solutions/) are skipped when a notebook is graded, so
that a graded kernel of a chapter whose answers are numpy imports no PyTorch: the tags are sound
(skipping them changes nothing a graded cell reads), the kernel really imports no PyTorch, and a
tag in a student's notebook skips nothing (tconv/grader/demonstrations.py)."""

from __future__ import annotations

import os
import symtable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tconv import comparing, exercises
from tconv.grader import course, demonstrations, task

NOTEBOOKS = sorted(course.SOLUTIONS.glob("*/*.ipynb"))
# Chapters whose every exercise is answered with numpy (the registry's checks compare arrays or
# ints); chapter 06's answers are PyTorch modules, so its graded kernel needs PyTorch.
NUMPY_CHAPTERS = sorted({exercise.chapter for exercise in exercises.EXERCISES}
                        - {exercise.chapter for exercise in exercises.EXERCISES
                           if exercise.compare == "by hand"})


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds at top level, names it reads from the notebook's globals)."""
    table = symtable.symtable(source, "cell", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    read = {s.get_name() for s in table.get_symbols() if s.is_referenced()}

    def inner(scope):
        for child in scope.get_children():
            read.update(s.get_name() for s in child.get_symbols()
                        if s.is_global() and s.is_referenced())
            inner(child)
    inner(table)
    return bound, read


def test_the_numpy_chapters_are_01_to_05_and_07():
    assert NUMPY_CHAPTERS == ["01", "02", "03", "04", "05", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_no_cell_that_grading_runs_reads_what_a_demonstration_defines(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    demos = [c for c in cells if demonstrations.TAG in c.metadata.get("tags", [])]
    assert demos, f"{path.name} tags no demonstration"
    for cell in demos:
        assert demonstrations.is_demonstration(cell), \
            f"an nbgrader cell is tagged demo in {path.name}:\n{cell.source[:200]}"
    defined = set().union(*(_names(c.source)[0] for c in demos))
    for cell in cells:
        if cell not in demos:
            read = _names(cell.source)[1] & defined
            assert not read, (f"{path.name}: a cell grading runs reads {sorted(read)}, which a "
                              f"demonstration defines (tag it demo too, or define it there):\n"
                              f"{cell.source[:300]}")


def _graded_run(path: Path, skip: bool) -> nbformat.NotebookNode:
    """The instructors' notebook run as a graded kernel runs it: NBGRADER_EXECUTION=autograde,
    SkipDemonstrations and the skip tag as task._config sets them (``skip``), and a last cell
    that reports whether PyTorch was imported."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import sys\nprint('PyTorch imported:', 'torch' in sys.modules)"))
    tag = demonstrations.skip_tag()
    step = demonstrations.SkipDemonstrations(
        sources=list(demonstrations.sources(notebook)) if skip else [], tag=tag)
    notebook, _ = step(notebook, {})  # as nbconvert calls it
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3", skip_cells_with_tag=tag,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        del os.environ["NBGRADER_EXECUTION"]
    return notebook


def _printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("chapter", NUMPY_CHAPTERS)
def test_a_graded_kernel_of_a_numpy_chapter_imports_no_pytorch(chapter):
    path, = course.SOLUTIONS.glob(f"{chapter}_*/*.ipynb")
    executed = _graded_run(path, skip=True)
    assert "PyTorch imported: False" in _printed(executed.cells[-1])
    graded = [c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.execution_count for c in graded)
    assert not [c for c in graded if any(o.output_type == "error" for o in c.outputs)]
    skipped = [c for c in executed.cells if demonstrations.is_demonstration(c)]
    assert all(c.outputs == [nbformat.v4.new_output("stream", name="stdout",
                                                    text=demonstrations.NOT_RUN)]
               and not c.get("execution_count") for c in skipped)


@pytest.mark.slow
def test_without_skipping_the_demonstrations_the_graded_kernel_imports_pytorch():
    path, = course.SOLUTIONS.glob("01_*/*.ipynb")
    assert "PyTorch imported: True" in _printed(_graded_run(path, skip=False).cells[-1])


def _cell(source: str, **metadata):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update(metadata)
    return cell


def test_only_an_unchanged_demonstration_that_is_not_an_nbgrader_cell_is_skipped():
    step = demonstrations.SkipDemonstrations(sources=["print(torch.ones(2))"], tag="t-123")
    unchanged = _cell("print(torch.ones(2))")
    changed = _cell("print(torch.ones(3))")
    test_cell = _cell("print(torch.ones(2))", nbgrader={"grade": True, "grade_id": "a"})
    notebook = nbformat.v4.new_notebook(cells=[unchanged, changed, test_cell])
    step(notebook, {})
    assert unchanged.metadata["tags"] == ["t-123"] and unchanged.outputs[0].text == \
        demonstrations.NOT_RUN
    assert "tags" not in changed.metadata and "tags" not in test_cell.metadata


def test_a_tag_in_the_students_notebook_skips_nothing():
    """nbclient skips the cells tagged ``skip_cells_with_tag`` (``skip-execution`` by default): a
    student who tags a failing test cell so would have it scored as passing in the kernel. The
    grader's tag is random per notebook, and the one SkipDemonstrations gives."""
    configs = [task._config(Path("/nonexistent"), Path("/nonexistent"),
                            task.Settings(template=b""), ("print(1)",)) for _ in range(2)]
    tags = [config.Execute.skip_cells_with_tag for config in configs]
    assert tags[0] != tags[1] and "skip-execution" not in tags
    assert all(config.SkipDemonstrations.tag == tag for config, tag in zip(configs, tags))
    assert configs[0].SkipDemonstrations.sources == ["print(1)"]
    def run(**skip) -> list:
        notebook = nbformat.v4.new_notebook(cells=[
            _cell("raise AssertionError('wrong answer')", tags=["skip-execution", "demo"],
                  nbgrader={"grade": True, "grade_id": "a", "points": 1})])
        NotebookClient(notebook, kernel_name="python3", allow_errors=True, **skip).execute()
        return notebook.cells[0].outputs

    assert run(skip_cells_with_tag=tags[0])[0].output_type == "error"
    assert run() == []  # nbclient's default tag: the failing test cell is not run at all


def test_a_graded_kernel_holds_answers_against_the_reference_alone(monkeypatch):
    sources = (("the reference", abs), ("PyTorch", abs))
    assert comparing.oracles(sources) == sources          # the learner's own kernel, Validate
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert comparing.oracles(sources) == sources          # outside a kernel: the re-check
    monkeypatch.setattr(comparing.judge, "_kernel_shell", lambda: object())
    assert comparing.oracles(sources) == sources[:1]      # a kernel nbgrader grades
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert comparing.oracles(sources) == sources
