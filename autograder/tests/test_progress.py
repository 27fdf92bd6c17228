"""`make progress` / `python -m tconv.progress`: every chapter's checks on the learner's notebooks,
which it does not change, as a table of exercises (✓, ✗, not written).

Run as the learner runs it (a process of its own, on a copy of course/), once: chapters 01 and 02
answered (the instructors' answers), chapter 03 answered wrongly, the others untouched. Then the
learners' copy's own `make progress`, in the learners' environment, on chapter 01 untouched.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tconv import progress
from tconv.grader import course
from tconv.grader.publish import tables


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(folder: Path) -> str:
    before = _digest(folder)
    result = subprocess.run([sys.executable, "-m", "tconv.progress", str(folder)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _digest(folder) == before  # no notebook changed, nothing written beside them
    return result.stdout


def _rows(output: str) -> dict[tuple[str, str], str]:
    rows = {}
    for line in output.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and re.match(r"\d\d_\w+$", parts[0]):
            rows[(parts[0], parts[1])] = parts[2]
    return rows


def _exercise_names() -> set[tuple[str, str]]:
    """(chapter, name) of every answer cell followed by a check, read from the released notebooks."""
    return {(row.chapter, row.name) for path in sorted(course.COURSE.glob("*/*.ipynb"))
            for row in progress.exercises(nbformat.read(path, as_version=4), path.parent.name)}


@pytest.mark.slow
def test_two_chapters_done_a_wrong_answer_and_the_rest_untouched(tmp_path):
    """One run over the whole course (each chapter's kernel costs seconds): chapters 01 and 02
    answered, 03 answered wrongly, the others as released. No file is written (``_run``)."""
    folder = tmp_path / "course"
    shutil.copytree(course.COURSE, folder)
    done = course.assignments()[:2]
    for chapter in done:
        path = folder / chapter / f"{chapter}.ipynb"
        nbformat.write(tables.answered_notebook(course.COURSE / chapter / f"{chapter}.ipynb"), path)
    wrong = course.assignments()[2]  # chapter 03: the right answer, then every value off by one
    path = folder / wrong / f"{wrong}.ipynb"
    notebook = tables.answered_notebook(course.COURSE / wrong / f"{wrong}.ipynb")
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source += ("\n_right = conv_transpose2d\n\ndef conv_transpose2d(*args, **kwargs):\n"
                            "    return _right(*args, **kwargs) + 1\n")
    nbformat.write(notebook, path)

    output = _run(folder)
    rows = _rows(output)
    assert set(rows) == _exercise_names() and len(rows) >= 13
    chapters = [chapter for chapter, _ in rows]  # in the chapters' order, though two run at once
    assert chapters == sorted(chapters), chapters
    untouched = set(course.assignments()[3:])
    for (chapter, name), status in rows.items():
        if chapter in done:
            assert status == "✓", (chapter, name, status)
        elif chapter == wrong:
            assert status.startswith("✗ (") and "checks fail" in status, status
        else:
            assert chapter in untouched and status == "not written", (chapter, name, status)
    passing = sum(chapter in done for chapter, _ in rows)
    assert passing >= 3  # 01's one exercise, 02's two
    assert f"{passing} of {len(rows)} exercises pass every check" in output
    assert sum(chapter in untouched for chapter, _ in rows) >= 8


def test_the_learners_copy_has_make_progress(learner_venv, published, tmp_path):
    """The copy's own Makefile and tconv.progress, in the learners' environment (its venv made
    by the background, named with VENV=; the stamp says it is installed), on chapter 01 alone."""
    venv, env = learner_venv
    copy = tmp_path / "copy"
    shutil.copytree(published, copy, ignore=shutil.ignore_patterns(".git"))
    for chapter in (copy / "course").iterdir():
        if chapter.name != course.assignments()[0]:
            shutil.rmtree(chapter)
    stamp = tmp_path / "installed"
    stamp.touch()
    result = subprocess.run(["make", "progress", f"VENV={venv}", f"STAMP={stamp}"], cwd=copy,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "install" not in result.stdout  # nothing reinstalled
    first = course.assignments()[0]
    assert _rows(result.stdout) == {(first, "conv_transpose1d"): "not written"}
    assert "0 of 1 exercises pass every check" in result.stdout


@pytest.mark.parametrize("written, failed, status", [
    (False, 0, "not written"), (False, 2, "not written"), (True, 0, "✓"),
    (True, 1, "✗ (1 of 3 checks fail)")])
def test_the_status_of_an_exercise(written, failed, status):
    assert progress.Exercise("01", "f", written, 3, failed).status == status
