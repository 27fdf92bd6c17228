"""Shared fixtures: the sample catalog, one release and one grading batch per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import classroom
from tconv import guard
from tconv.grader import course, grading, publish, release


def pytest_configure(config):
    config.addinivalue_line("markers", "guarded: keep the shortcut guard on for calls into "
                            "tconv.reference (other tests pass the references as right answers)")


@pytest.fixture(autouse=True)
def _references_count_as_right_answers(request, monkeypatch):
    """Tests hand the reference implementations to the checks as the right answer; in a
    learner's notebook that is a shortcut. Only tests marked `guarded` keep that rule."""
    if request.node.get_closest_marker("guarded") is None:
        monkeypatch.setattr(guard, "LEARNER", guard.REFERENCES)


@pytest.fixture(scope="session")
def sample_catalog() -> dict:
    return release.load_catalog()


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory) -> classroom.Batch:
    """The one sandboxed grading batch of the session: the sample class, the faulty students and
    the attackers of tests/classroom.py, two notebooks at a time, as `make grade` does here.
    test_grading, test_sandbox and test_cluster read it; other runs reuse its results."""
    folder = tmp_path_factory.mktemp("class")
    batch = classroom.the_class(folder)
    assert classroom.tree_digest(batch.submitted) == batch.digest, "grading modified the submissions"
    return batch


def grade_reusing(batch: classroom.Batch, submitted: Path, grades: Path, **options) -> list[dict]:
    """`grading.grade`, with the session batch's kept results copied in first: a notebook already
    graded there with the same bytes, student id and settings is not graded again (the key of a
    kept result is a digest of everything it depends on: tconv.grader.runner.task_key)."""
    shutil.copytree(batch.grades / "results", grades / "results")
    return grading.grade(submitted, grades, cell_timeout=classroom.CELL_TIMEOUT, **options)


REPO = "jdoe/transposed-convolution"  # the learners' repository named by `make publish` in tests


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Path:
    """`make publish` (the graded edition) into a scratch folder, once per session."""
    dest = tmp_path_factory.mktemp("published") / "learners"
    start = time.perf_counter()
    publish.build(dest, "graded", REPO)
    print(f"\nmake publish (graded): {time.perf_counter() - start:.0f} s")
    return dest


@pytest.fixture(scope="session")
def learner_venv(published, tmp_path_factory):
    """A fresh venv made the way a learner's `make lab` makes it, then Binder's postBuild in it:
    (venv, environment). test_publish.py runs the copy in it, test_binder.py its JupyterLab."""
    scratch = tmp_path_factory.mktemp("learner-venv")
    venv = scratch / "venv"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV", "MPL"))}
    env.update(HOME=str(scratch / "home"), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    (scratch / "home").mkdir()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "scripts/course_env.py", "install", "--venv", str(venv),
                             "--requirements", "requirements.txt", "--package", "."],
                            cwd=published, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "--no-deps --no-index torch==2.13.0+cpu" in result.stdout  # the local wheel store, first
    installed = time.perf_counter()
    result = subprocess.run(["binder/postBuild"], cwd=published, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
    print(f"\nlearner venv: {installed - start:.0f} s, {size} MB; postBuild: "
          f"{time.perf_counter() - installed:.0f} s")
    yield venv, env
    shutil.rmtree(scratch, ignore_errors=True)  # 1.4 GB


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory) -> Path:
    """What `make release` produces now, written to a scratch folder."""
    into = tmp_path_factory.mktemp("release")
    release.main(["--into", str(into)])
    return into
