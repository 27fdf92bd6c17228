"""One student notebook's task (tconv/grader/task.py) without running one: how it configures
nbgrader (the kernel in its sandbox, output capped as it arrives), the template gradebook it writes
once, the cells it scores 0 when the notebook lacks them, and the scratch folder it always removes.
Whose fault a failure is, and retries: test_runner.py. The real pipeline: test_grading.py."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict

import pytest

from tconv.grader import capping, course, demonstrations, task
from tconv.grader.records import GRADED, GRADERS_FAULT, NOT_GRADED, CellResult, Job
from tconv.grader.sandbox import Limits

CELLS = {"seed_example": 1.0, "random_cases": 2.0, "edge_cases": 2.0}


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where Settings writes its template
    monkeypatch.setattr(task, "graded_cells", lambda db, assignment, notebook: dict(CELLS))
    (tmp_path / "scratch").mkdir()
    return task.Settings(template=b"a gradebook", scratch=str(tmp_path / "scratch"),
                         limits=Limits(memory=3 * 1024 ** 3), sandbox="userns", cell_timeout=7)


def ada() -> Job:
    return Job("ada", "01_chapter", "01_chapter", b'{"cells": []}')


def test_nbgrader_runs_the_kernel_in_its_sandbox_and_caps_its_output(settings, tmp_path):
    """Shown to fail with the capped executor left out of the list (nbgrader's own Execute then
    reads every output whole) and with the kernel manager not set (the kernel would run with the
    grader's rights)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    root, kernel_folder = tmp_path / "course", tmp_path / "k"
    config = task._config(root, kernel_folder, settings)
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    steps = config.Autograde.autograde_preprocessors
    assert steps == [demonstrations.SkipDemonstrations] + [
        capping.CappedExecute if step is Execute else step for step in default]
    assert Execute not in steps and capping.CappedExecute in steps
    assert config.KernelManager.client_class == "tconv.grader.capping.CappedKernelClient"

    manager = config.Execute.kernel_manager_class
    assert manager.__name__ == "SandboxedKernelManager"
    assert config.SandboxedKernelManager.folder == str(kernel_folder)
    assert config.SandboxedKernelManager.limits == asdict(settings.limits)
    assert config.SandboxedKernelManager.mode == "userns"
    assert config.Execute.timeout == 7
    assert config.GenerateFeedback.exporter_class is task.FeedbackExporter
    # the course's own settings, with this task's folders
    assert config.CourseDirectory.root == str(root)
    assert config.CourseDirectory.db_url == f"sqlite:///{root / 'gradebook.db'}"
    assert config.ClearOutput.enabled is True and config.OverwriteCells.add_missing_cells is True


def test_the_template_gradebook_is_written_once_per_template(settings, monkeypatch):
    first = settings.template_db
    assert first.read_bytes() == b"a gradebook" and str(os.getuid()) in first.name
    writes, write_bytes = [], type(first).write_bytes
    monkeypatch.setattr(type(first), "write_bytes",
                        lambda self, data: (writes.append(self), write_bytes(self, data))[1])
    assert task.Settings(template=b"a gradebook").template_db == first and writes == []
    other = task.Settings(template=b"another gradebook").template_db
    assert other != first and len(writes) == 1


def test_the_cells_a_notebook_lacks_score_zero_of_their_points(settings, monkeypatch):
    """A notebook graded in part (nbgrader found one cell) is given every other graded cell of
    its chapter at 0 of its points, in the order of their ids. Shown to fail with the filling-in
    left out of task.grade (the total would then be out of 2 points, not 5)."""
    def one_cell(job, settings, result):
        result.cells.append(CellResult("random_cases", 2.0, 2.0, 2.0))

    monkeypatch.setattr(task, "_grade_in", one_cell)
    result = task.grade(ada(), settings)
    assert result.status == GRADED
    assert [(c.grade_id, c.score, c.max_score) for c in result.cells] == [
        ("edge_cases", 0.0, 2.0), ("random_cases", 2.0, 2.0), ("seed_example", 0.0, 1.0)]
    assert result.seconds > 0


def test_the_scratch_folder_is_removed_whatever_happens(settings, tmp_path, monkeypatch):
    """Everything a task wrote (the notebook, its gradebook copy, a folder the sandbox made
    unreadable) is gone when it returns, even after the grader failed. Shown to fail with the
    removal taken out of task._grade_in."""
    made = []

    def fails_midway(job, settings, result, scratch):
        made.append(scratch)
        locked = os.path.join(scratch, "course", "locked")
        os.makedirs(locked)
        open(os.path.join(locked, "notebook.ipynb"), "w").close()
        os.chmod(locked, 0)
        raise RuntimeError("nbgrader fell over")

    monkeypatch.setattr(task, "_grade_in_folder", fails_midway)
    result = task.grade(ada(), settings)
    assert result.status == GRADERS_FAULT and result.cells == []
    assert "RuntimeError: nbgrader fell over" in result.notes[-1] and NOT_GRADED in result.notes[-1]
    assert made and made[0].startswith(str(tmp_path / "scratch"))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_nearly_full_scratch_disk_grades_nothing(settings, monkeypatch):
    """The free space is checked where the task writes (Settings.scratch), before anything."""
    asked = []
    monkeypatch.setattr(course, "disk_nearly_full",
                        lambda *folders: asked.append(folders) or "the disk is nearly full")
    monkeypatch.setattr(task, "_grade_in", lambda *args: pytest.fail("graded on a full disk"))
    result = task.grade(ada(), settings)
    assert asked == [(settings.scratch,)]
    assert result.status == GRADERS_FAULT and "the disk is nearly full" in result.notes[-1]


def test_the_comment_on_an_overturned_cell_says_what_happened_and_why():
    text = task.recheck_comment("conv_random_cases", "conv([1, 2], [1], stride=2): expected ...")
    assert text.startswith("conv_random_cases scored 0: its visible test passed in your notebook")
    assert "the hidden ones too" in text
    assert text.endswith("\nconv([1, 2], [1], stride=2): expected ...")
