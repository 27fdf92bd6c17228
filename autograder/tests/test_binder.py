"""Binder's build, as far as this machine allows (no Docker engine, so no repo2docker image).

repo2docker creates the environment from environment.yml with conda, then runs `postBuild` in the
repository folder. Here: a fresh virtual environment from requirements.txt (the same packages,
test_environment.py checks that), then the real `postBuild`, run in a scratch copy of the files it
uses, with this venv's bin/ first on PATH as conda's is on Binder. Then what a learner's server
would see: the course package importable from anywhere, nbgrader's instructor extensions off
(server and lab sides), the assignment list and Validate on. About a minute, most of it pip
unpacking torch from this machine's disk.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tconv import course

POSTBUILD = course.ROOT / "postBuild"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
INSTRUCTOR_SERVER = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]
LEARNER_SERVER = ["nbgrader.server_extensions.assignment_list",
                  "nbgrader.server_extensions.validate_assignment"]
INSTRUCTOR_LAB = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                  "@jupyter/nbgrader:create-assignment"]
LEARNER_LAB = ["@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"]


def run(command: list[str], env: dict, cwd: Path, timeout: int = 600) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    output = ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def binder_like(tmp_path_factory):
    """(env, scratch folder, postBuild's output) for a fresh venv on which postBuild has run."""
    scratch = tmp_path_factory.mktemp("binder")
    venv = scratch / "venv"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV", "MPL"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
               HOME=str(scratch / "home"),  # matplotlib's cache, ~/.jupyter: nothing of ours
               JUPYTER_CONFIG_DIR=str(scratch / "home" / ".jupyter"),
               JUPYTER_DATA_DIR=str(scratch / "home" / ".local" / "share" / "jupyter"))
    (scratch / "home").mkdir()
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "-r", str(course.ROOT / "requirements.txt")], env, scratch, timeout=900)
    installed = time.perf_counter()

    # The files postBuild uses, copied, so that building the package leaves the repo alone.
    repo = scratch / "repo"
    shutil.copytree(course.AUTOGRADER, repo / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "samples",
                                                  "tests", ".hypothesis"))
    shutil.copy2(POSTBUILD, repo / "postBuild")
    output = run(["./postBuild"], env, repo)
    done = time.perf_counter()
    print(f"\nfresh venv from requirements.txt: {installed - start:.0f} s; "
          f"postBuild: {done - installed:.0f} s")
    yield env, scratch, output
    shutil.rmtree(scratch, ignore_errors=True)  # 1.4 GB; pytest would keep three runs of it


def test_postbuild_is_executable_bash_with_strict_mode():
    text = POSTBUILD.read_text()
    assert POSTBUILD.stat().st_mode & stat.S_IXUSR, "postBuild must be executable (chmod +x)"
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def test_binder_reads_the_root_level_files():
    """A binder/ or .binder/ folder would make repo2docker ignore environment.yml and postBuild
    at the top level."""
    assert not (course.ROOT / "binder").exists() and not (course.ROOT / ".binder").exists()
    assert (course.ROOT / "environment.yml").is_file()


def test_the_readme_badge_opens_the_first_chapter_in_jupyterlab():
    readme = (course.ROOT / "README.md").read_text()
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^/\s]+/[^/\s]+/main\?urlpath=([^)\s]+)\)", readme)
    assert badge, "README.md has no Binder badge link"
    target = urllib.parse.unquote(badge.group(1))
    assert target.startswith("lab/tree/"), target
    assert (course.ROOT / target.removeprefix("lab/tree/")).is_file(), target
    assert target.endswith("course/01_scatter_add_1d/01_scatter_add_1d.ipynb"), target


def test_the_course_package_imports_from_outside_the_repo(binder_like):
    env, scratch, _ = binder_like
    where = run(["python", "-c", "import tconv, tconv.checks, tconv.plots; print(tconv.__file__)"],
                env, scratch).strip()
    assert "site-packages" in where and str(course.ROOT) not in where, where


def test_instructor_server_extensions_are_off_and_learner_ones_on(binder_like):
    env, scratch, _ = binder_like
    listing = run(["jupyter", "server", "extension", "list"], env, scratch)
    state = dict(re.findall(r"^\s*(nbgrader\.server_extensions\.\w+) (enabled|disabled)\s*$",
                            listing, re.MULTILINE))
    for name in INSTRUCTOR_SERVER:
        assert state.get(name) == "disabled", f"{name} is {state.get(name)}:\n{listing}"
    for name in LEARNER_SERVER:
        assert state.get(name) == "enabled", f"{name} is {state.get(name)}:\n{listing}"


def test_instructor_lab_plugins_are_off_and_learner_ones_on(binder_like):
    env, scratch, _ = binder_like
    listing = run(["jupyter", "labextension", "list"], env, scratch)
    assert re.search(r"@jupyter/nbgrader v0\.9\.6 enabled OK", listing), listing
    disabled = listing.split("Disabled extensions:", 1)[-1] if "Disabled extensions:" in listing else ""
    disabled_names = set(re.findall(r"^\s*(@\S+)\s*$", disabled, re.MULTILINE))
    for plugin in INSTRUCTOR_LAB:
        assert plugin in disabled_names, f"{plugin} is not disabled:\n{listing}"
    for plugin in LEARNER_LAB:
        assert plugin not in disabled_names, f"{plugin} is disabled:\n{listing}"
