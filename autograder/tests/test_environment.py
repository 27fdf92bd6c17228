"""One list of dependencies in three files that must agree, and an install that works on a laptop.

requirements.txt (pip, the Makefile's .venv) and environment.yml (conda, instructors) list the same
packages at the same versions; binder/environment.yml (Binder, learners) is the learners' part of
them: no test tools, the same pins where the course depends on a version. scripts/course_env.py
installs PyTorch's CPU build on Linux (a local wheel store first, then PyTorch's CPU index) and
refuses a Python outside 3.11-3.13 with a message naming what to install.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from tconv.grader import course, front_door
from tconv.grader.publish import tree

sys.path.insert(0, str(course.ROOT / "scripts"))
import course_env

CONDA_TO_PIP = {"pytorch-cpu": "torch", "pytorch": "torch", "matplotlib-base": "matplotlib"}
NOT_PACKAGES = {"python", "pip", "nomkl"}
NOT_FOR_LEARNERS = {"pytest", "hypothesis", "playwright", "ruff", "dask", "distributed",
                    "pyseccomp", "latex2mathml",
                    "nh3"}


def pinned(lines) -> dict[str, Version]:
    """{canonical name: version} of pip requirement lines, each of which must be one `==` pin."""
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            (pin,) = requirement.specifier  # exactly one version specifier ...
            assert pin.operator == "==", f"{line!r} is not pinned with =="  # ... and a pin
            pins[canonicalize_name(requirement.name)] = Version(pin.version)
    return pins


def pip_pins() -> dict[str, Version]:
    return pinned((course.ROOT / "requirements.txt").read_text().splitlines())


def conda_specs(path) -> dict[str, str]:
    """{pip name: version spec} from a conda environment file, its conda and its pip entries."""
    env = yaml.safe_load(path.read_text())
    specs = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            specs.update({name: f"=={version}" for name, version in pinned(entry["pip"]).items()})
            continue
        # a conda match spec (`name`, `name=2.4` or `name=2.4=build`), not a pip requirement
        name, _, rest = entry.partition("=")
        if name in NOT_PACKAGES:
            continue
        version = rest.split("=")[0]  # `pytorch=2.13=cpu_generic*`: version 2.13, then a build
        # conda's `name=2.4` means any 2.4.x release
        specs[canonicalize_name(CONDA_TO_PIP.get(name, name))] = f"=={version}.*" if version else ""
    return specs


INSTRUCTORS = course.ROOT / "environment.yml"
BINDER = course.ROOT / "binder" / "environment.yml"


def test_requirements_and_environment_yml_list_the_same_packages():
    assert set(pip_pins()) == set(conda_specs(INSTRUCTORS))


def test_binder_lists_the_learners_packages_only():
    assert set(conda_specs(BINDER)) == set(pip_pins()) - NOT_FOR_LEARNERS
    # what `make publish` leaves out of the learners' requirements.txt
    learners = pinned(tree.learner_requirements().splitlines())
    assert learners == {name: version for name, version in pip_pins().items()
                        if name not in NOT_FOR_LEARNERS}


@pytest.mark.parametrize("path", [INSTRUCTORS, BINDER], ids=["environment.yml", "binder"])
def test_pip_pins_are_within_the_conda_versions(path):
    specs = conda_specs(path)
    pins = pip_pins()
    for name, spec in specs.items():
        assert pins[name] in SpecifierSet(spec), (
            f"{name}: requirements.txt pins {pins[name]}, {path.name} asks for {spec or 'any'}")


def test_binder_is_lean():
    text = BINDER.read_text()
    entries = yaml.safe_load(text)["dependencies"]
    assert "matplotlib-base" in entries and "matplotlib" not in entries  # no Qt
    assert "nomkl" in entries
    assert any(e.startswith("pytorch=2.13=cpu_generic") for e in entries if isinstance(e, str))
    assert "python=3.11" in entries  # repo2docker would pick 3.10, too old for nbgrader 0.9.6
    for tool in NOT_FOR_LEARNERS:
        assert tool not in text


def test_torch_is_pinned_once():
    assert pip_pins()["torch"] == Version("2.13.0")
    assert Version(course_env.torch_pin(course.ROOT / "requirements.txt")) == Version("2.13.0")


# --- the install commands -------------------------------------------------------------------------

def plan(system: str, **options) -> dict:
    return course_env.install_plan(".venv", course.ROOT / "requirements.txt", "autograder",
                                   system=system, **options)


def test_linux_takes_torch_from_a_local_store_then_the_cpu_index():
    torch = plan("linux")["torch"]
    assert [c[3:] for c in torch] == [
        ["install", "--quiet", "--no-compile", "--no-deps", "--no-index", "torch==2.13.0+cpu"],
        ["install", "--quiet", "--no-compile", "--no-deps", "--index-url",
         "https://download.pytorch.org/whl/cpu", "torch==2.13.0+cpu"]]


@pytest.mark.parametrize("system", ["darwin", "windows"])
def test_macos_and_windows_take_pypis_torch(system):
    steps = plan(system)
    assert steps["torch"] == []  # PyPI's wheels are CPU builds there
    assert not any("download.pytorch.org" in " ".join(c) for c in steps["rest"])
    if system == "windows":
        assert steps["rest"][0][0].endswith("Scripts\\python.exe") or \
            steps["rest"][0][0].endswith("Scripts/python.exe")


def test_torch_index_pypi_skips_the_cpu_index_on_linux(monkeypatch):
    assert plan("linux", torch_index="pypi")["torch"] == []
    monkeypatch.setenv("TORCH_INDEX", "pypi")
    assert plan("linux")["torch"] == []


def test_only_the_graders_venv_is_compiled_ahead():
    """A learner's venv compiles each module when it is first imported, as Python does; the
    grader's (`make env`) is compiled at install, since its sandbox mounts it read-only."""
    assert plan("linux")["compile"] is None
    assert plan("linux", compile=True)["compile"][1:3] == ["-c", course_env.COMPILE]


def test_the_graders_venv_is_byte_compiled():
    """Checked on every file of torch and numpy in the venv the tests run in (`make env`, from
    nothing in CI), most of which no test imports: 100% with the compile step; 29% in a venv
    installed without it and then warmed by importing everything the course uses."""
    site = Path(sysconfig.get_path("purelib"))
    sources = [*(site / "torch").rglob("*.py"), *(site / "numpy").rglob("*.py")]
    compiled = [p for p in sources if Path(importlib.util.cache_from_source(str(p))).exists()]
    assert len(sources) > 2000 and len(compiled) > 0.95 * len(sources), (len(compiled), len(sources))


@pytest.mark.parametrize("version", [(3, 11), (3, 12), (3, 13)])
def test_supported_pythons_are_accepted(version):
    course_env.check_python(version + (0,))


@pytest.mark.parametrize("version", [(3, 10), (3, 14), (2, 7)])
def test_other_pythons_are_refused_naming_what_to_install(version):
    with pytest.raises(SystemExit) as refused:
        course_env.check_python(version + (0,))
    message = str(refused.value)
    assert f"this is Python {version[0]}.{version[1]}" in message
    assert "3.11, 3.12 or 3.13" in message and "Install Python 3.12" in message


def test_an_old_python_is_refused_before_anything_is_installed(tmp_path):
    """The script itself runs on an old Python, to say so (here: whichever 3.8-3.10 exists)."""
    import glob
    import shutil
    from pathlib import Path

    candidates = [shutil.which(f"python3.{minor}") for minor in (10, 9, 8)]
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.1[0]*/bin/python")))
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.[89]*/bin/python")))
    for old in filter(None, candidates):
        if subprocess.run([old, "-c", "1"], capture_output=True).returncode == 0:
            break
    else:
        pytest.skip("no Python older than 3.11 on this machine")
    result = subprocess.run([old, str(course.ROOT / "scripts" / "course_env.py"), "install",
                             "--venv", str(tmp_path / "venv")], capture_output=True, text=True)
    assert result.returncode == 1 and "the course needs Python 3.11, 3.12 or 3.13" in result.stderr
    assert not (tmp_path / "venv").exists()


# --- which Python `make env` / `make lab` use (scripts/find_python.sh) ---------------------------

FIND_PYTHON = course.ROOT / "scripts" / "find_python.sh"
WORKING = os.path.realpath(sys.executable)  # a Python 3.11-3.13 (the tests' own, outside its venv)


def _stubs(folder: Path, **programs: str) -> Path:
    """A folder of fake interpreters: "fails" exits 127 (a pyenv shim for a version that is not
    active), "broken" is a link to nothing, "works" is a link to a real Python, any other text is
    what the fake prints (its version)."""
    folder.mkdir(exist_ok=True)
    for name, kind in programs.items():
        path = folder / name.replace("_", ".")
        if kind == "broken":
            path.symlink_to(folder / "nothing-here")
        elif kind == "works":
            path.symlink_to(WORKING)
        else:
            path.write_text("#!/bin/sh\n" + ("exit 127\n" if kind == "fails" else f"echo {kind}\n"))
            path.chmod(0o755)
    return folder


def test_find_python_skips_what_does_not_run_and_says_what_it_chose(tmp_path):
    stubs = _stubs(tmp_path / "bin", python3_11="fails", python3_12="works", python3_13="broken")
    result = subprocess.run(["/bin/sh", str(FIND_PYTHON)], env={"PATH": str(stubs)},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{stubs}/python3.12\n"
    assert result.stderr.startswith(f"using python3.12 ({stubs}/python3.12, Python 3.11)")
    assert f"skipped python3.11 ({stubs}/python3.11): does not run" in result.stderr


def test_find_python_refuses_in_one_line_naming_what_to_install(tmp_path):
    stubs = _stubs(tmp_path / "bin", python3_11="fails", python3_12="fails", python3_13="broken",
                   python3="3.10")
    result = subprocess.run(["/bin/sh", str(FIND_PYTHON)], env={"PATH": str(stubs)},
                            capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "error: no Python 3.11, 3.12 or 3.13 runs here")
    assert "python3.12 (" in result.stderr and "does not run" in result.stderr
    assert "python3: Python 3.10" in result.stderr
    assert "install Python 3.12" in result.stderr and "make lab PYTHON=" in result.stderr


def _scratch_course(folder: Path, makefile: Path, package: str) -> Path:
    """A folder with ``makefile`` and what its env target reads; scripts/course_env.py is a stub
    that logs each call (and makes the venv's python a link to a real one): no venv is built."""
    (folder / "scripts").mkdir(parents=True)
    shutil.copy2(makefile, folder / "Makefile")
    shutil.copy2(FIND_PYTHON, folder / "scripts" / "find_python.sh")
    (folder / "requirements.txt").write_text("")
    (folder / package).mkdir(exist_ok=True)
    (folder / package / "pyproject.toml").write_text("")
    (folder / "scripts" / "course_env.py").write_text(textwrap.dedent(f"""\
        import os, sys
        with open({str(folder / "calls.log")!r}, "a") as log:
            log.write(" ".join(sys.argv[1:2]) + "\\n")
        if sys.argv[1] == "install":
            os.makedirs(".venv/bin", exist_ok=True)
            os.path.lexists(".venv/bin/python") or os.symlink({WORKING!r}, ".venv/bin/python")
        """))
    return folder


@pytest.mark.parametrize("makefile, package", [
    (course.ROOT / "Makefile", "autograder"), (front_door.MAKEFILE, ".")],
    ids=["instructors", "learners"])
def test_make_lab_skips_a_failing_python_and_installs_once(makefile, package, tmp_path):
    folder = _scratch_course(tmp_path / "course", makefile, package)
    stubs = _stubs(tmp_path / "bin", python3_11="fails", python3_12="fails", python3_13="broken",
                   python3="works")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MAKE", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{stubs}:{env['PATH']}"
    outputs = [subprocess.run(["make", "lab"], cwd=folder, env=env, capture_output=True,
                              text=True) for _ in range(2)]
    assert [o.returncode for o in outputs] == [0, 0], outputs[0].stderr + outputs[1].stderr
    assert f"using python3 ({stubs}/python3, Python 3.11)" in outputs[0].stderr
    assert f"python3.12 ({stubs}/python3.12): does not run" in outputs[0].stderr
    assert (folder / "calls.log").read_text() == "install\nlab\nlab\n"  # the second run: no install
    assert "find_python" not in outputs[1].stdout + outputs[1].stderr
