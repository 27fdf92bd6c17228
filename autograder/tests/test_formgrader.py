"""`make formgrader` and `make export` (tconv/grader/formgrader.py) without a browser or a server:
the Formgrader's configuration is the course's with the run's folders, the server is started on
GRADES/nbgrader, and both commands say to grade first when there is no gradebook. The Formgrader
in a browser: test_browser.py; the export's numbers: test_gradebook.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from tconv.grader import formgrader, grading
from tconv.grader.gradebook import Workspace


@pytest.fixture
def graded(tmp_path) -> Path:
    """A GRADES folder as `make grade` leaves it, as far as these commands look."""
    grades = tmp_path / "grades"
    work = Workspace(grades)
    work.root.mkdir(parents=True)
    work.db.write_bytes(b"")
    return grades


def test_the_formgrader_config_is_the_courses_with_this_runs_folders(graded):
    """Shown to fail with the course's configuration not loaded (nbgrader would then run the
    notebooks with its defaults: saved outputs graded, deleted tests not put back) and with the
    run's folders left out (the Formgrader would open the course's own gradebook)."""
    folder = formgrader.write_config(graded)
    assert folder == graded / "nbgrader" / "formgrader-config"
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    work = Workspace(graded.resolve())
    assert config.CourseDirectory.root == str(work.root)
    assert config.CourseDirectory.db_url == work.db_url
    assert config.CourseDirectory.submitted_directory == "submitted"
    assert config.ClearOutput.enabled is True               # from autograder/nbgrader_config.py
    assert config.OverwriteCells.add_missing_cells is True
    assert config.CourseDirectory.course_id == "transposed-convolution"


def test_the_server_is_the_venvs_jupyterlab_on_the_runs_folder(graded):
    command, env = formgrader.server_command(graded, 8123)
    root = graded.resolve() / "nbgrader"
    assert command[:2] == [str(Path(sys.executable).parent / "jupyter"), "lab"]
    assert f"--ServerApp.root_dir={root}" in command and "--port=8123" in command
    assert ("--allow-root" in command) == (os.getuid() == 0)
    assert env["JUPYTER_CONFIG_PATH"] == str(root / "formgrader-config")  # that folder only
    assert env["PATH"].startswith(f"{Path(sys.executable).parent}{os.pathsep}")


def test_export_writes_grades_csv_again_from_the_gradebook(graded, monkeypatch, capsys):
    exported = []
    monkeypatch.setattr(grading, "export", lambda grades: exported.append(grades))
    formgrader.main(["export", "--grades", str(graded)])
    assert exported == [graded.resolve()]
    assert capsys.readouterr().out.strip() == f"wrote {graded.resolve() / 'grades.csv'}"


@pytest.mark.parametrize("command", [["export"], ["serve", "--port", "8123"]])
def test_without_a_gradebook_each_command_says_to_grade_first(command, tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "export", lambda grades: pytest.fail("exported nothing"))
    monkeypatch.setattr(formgrader.subprocess, "run", lambda *a, **k: pytest.fail("served nothing"))
    empty = tmp_path / "grades"
    empty.mkdir()
    with pytest.raises(SystemExit) as stopped:
        formgrader.main([command[0], "--grades", str(empty), *command[1:]])
    message = str(stopped.value)
    assert message.startswith(f"error: GRADES={empty.resolve()} holds no nbgrader/gradebook.db")
    assert f"make grade GRADES={empty.resolve()}" in message
