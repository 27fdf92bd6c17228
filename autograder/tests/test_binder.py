"""Binder's build, as far as this machine allows (no Docker engine, so no repo2docker image).

repo2docker creates the environment from binder/environment.yml with conda, runs binder/postBuild
in the repository folder, and starts every session through binder/start. Binder builds the
learners' repository (`make publish`; its README has the badge), so here: the learners' copy in a
fresh virtual environment made from its own requirements.txt (the learners' part of the pins,
test_environment.py checks that binder/environment.yml lists the same), then the copy's real
binder/postBuild, with the venv's bin/ first on PATH as conda's is on Binder (conftest.learner_venv,
shared with test_publish.py); then JupyterLab started through binder/start, as Binder starts it.
What the learner's server loads: the course package from anywhere, nbgrader's Validate, and none
of its instructor extensions nor its assignment list (server and lab sides).
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import time
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tconv.grader import course

BINDER = course.ROOT / "binder"
POSTBUILD = BINDER / "postBuild"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
INSTRUCTOR_LAB = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                  "@jupyter/nbgrader:create-assignment"]


def run(command: list[str], env: dict, cwd: Path, timeout: int = 600) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    output = ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def binder_like(learner_venv, published, tmp_path_factory):
    """(env, scratch folder, repository) of the learners' copy, whose badge opens Binder: its
    fresh venv, on which its binder/postBuild has run (conftest.learner_venv, which
    test_publish.py uses too: one install per session)."""
    _, env = learner_venv
    return env, tmp_path_factory.mktemp("binder"), published


@pytest.mark.parametrize("name", ["postBuild", "start"])
def test_binder_scripts_are_executable_bash_with_strict_mode(name):
    path = BINDER / name
    text = path.read_text()
    assert path.stat().st_mode & stat.S_IXUSR, f"binder/{name} must be executable (chmod +x)"
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text or name == "start"
    if name == "start":
        assert text.rstrip().endswith('exec "$@"')  # repo2docker's rule for start


def test_binder_reads_the_binder_folder():
    """repo2docker reads binder/ when it exists and then ignores the top-level environment.yml
    (the instructors' one, with the test tools)."""
    assert (BINDER / "environment.yml").is_file() and not (course.ROOT / "postBuild").exists()
    assert not (course.ROOT / ".binder").exists()


def test_the_instructors_readme_has_no_badge():
    """Binder is the learners' door: the badge is in the README `make publish` writes
    (test_publish.py), with the learners' repository's name; here it would open the answers."""
    readme = (course.ROOT / "README.md").read_text()
    assert "(https://mybinder.org/v2/gh/" not in readme


def test_the_course_package_imports_from_outside_the_repo(binder_like):
    env, scratch, _ = binder_like
    where = run(["python", "-c", "import tconv, tconv.checks, tconv.plots; print(tconv.__file__)"],
                env, scratch).strip()
    assert "site-packages" in where and str(course.ROOT) not in where, where


def test_a_learners_server_loads_validate_and_no_instructor_extension(binder_like):
    """JupyterLab started through binder/start: which nbgrader extensions it loads (its log),
    which lab plugins its page disables."""
    env, scratch, repo = binder_like
    port, token = free_port(), "binder-test-token"
    log_path = scratch / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            ["binder/start", "jupyter", "lab", "--no-browser", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        page = ""
        deadline = time.monotonic() + 90
        while not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}",
                                            timeout=2) as response:
                    page = response.read().decode()
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)
    text = ANSI.sub("", log_path.read_text())
    loaded = set(re.findall(r"(nbgrader\.server_extensions\.\w+) \| extension was successfully "
                            r"loaded", text))
    assert loaded == {"nbgrader.server_extensions.validate_assignment"}, text[-3000:]
    disabled = json.loads(script_text(page, "jupyter-config-data"))["disabledExtensions"]
    for plugin in INSTRUCTOR_LAB + ["@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:menu"]:
        assert plugin in disabled, disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled


class _ScriptText(HTMLParser):
    """The text of the ``<script>`` element with a given id."""

    def __init__(self, wanted: str):
        super().__init__()
        self.wanted, self.inside, self.found = wanted, False, []

    def handle_starttag(self, tag, attrs):
        self.inside = tag == "script" and dict(attrs).get("id") == self.wanted

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.found.append(data)


def script_text(page: str, element_id: str) -> str:
    parser = _ScriptText(element_id)
    parser.feed(page)
    assert parser.found, f"no <script id={element_id!r}> in the page: {page[:2000]}"
    return "".join(parser.found)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
