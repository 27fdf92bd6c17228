"""Shared fixtures: the course's folders, and one grading run of the sample class per session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tconv import guard
from tconv.grader import course, grading, release


def pytest_configure(config):
    config.addinivalue_line("markers", "guarded: keep the shortcut guard on for calls into "
                            "tconv.reference (other tests pass the references as right answers)")


@pytest.fixture(autouse=True)
def _references_count_as_right_answers(request, monkeypatch):
    """Tests hand the reference implementations to the checks as the right answer; in a
    learner's notebook that is a shortcut. Only tests marked `guarded` keep that rule."""
    if request.node.get_closest_marker("guarded") is None:
        monkeypatch.setattr(guard, "LEARNER", guard.REFERENCES)


def tree_digest(folder: Path) -> str:
    """A digest of every file's path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def sample_catalog() -> dict:
    return release.load_catalog()


@pytest.fixture(scope="session")
def graded_samples(tmp_path_factory):
    """Grade the shipped sample class once, in one batch, two students at a time, as `make grade`
    does on this machine."""
    grades = tmp_path_factory.mktemp("grades")
    before = tree_digest(course.SAMPLE_SUBMISSIONS)
    rows = grading.grade(course.SAMPLE_SUBMISSIONS, grades, cell_timeout=60, jobs=2)
    assert tree_digest(course.SAMPLE_SUBMISSIONS) == before, "grading modified the samples"
    return grades, rows


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory) -> Path:
    """What `make release` produces now, written to a scratch folder."""
    into = tmp_path_factory.mktemp("release")
    release.main(["--into", str(into)])
    return into


def with_answer(notebook_path, source):
    """Put ``source`` in every solution cell of the notebook at ``notebook_path``."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = source
    nbformat.write(notebook, notebook_path)


RIGHT_1D = """
def conv_transpose1d(x, w, stride=1):
    out = np.zeros((len(x) - 1) * stride + len(w))
    for j in range(len(x)):
        out[j * stride:j * stride + len(w)] += x[j] * w
    return out
"""
