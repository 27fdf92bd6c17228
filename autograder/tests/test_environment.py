"""requirements.txt (pip, the Makefile's venv) and environment.yml (conda, Binder) must agree."""

from __future__ import annotations

import re

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tconv import course

CONDA_TO_PIP = {"pytorch-cpu": "torch", "pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def pip_pins() -> dict[str, str]:
    pins = {}
    for line in (course.ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line).groups()
            pins[name.lower()] = version
    return pins


def conda_specs() -> dict[str, str]:
    """{pip name: version spec} from environment.yml, its conda and its pip entries."""
    env = yaml.safe_load((course.ROOT / "environment.yml").read_text())
    specs = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
                specs[name.lower()] = f"=={version}"
            continue
        name, _, version = entry.partition("=")
        if name in NOT_PACKAGES:
            continue
        # conda's `name=2.4` means any 2.4.x release
        specs[CONDA_TO_PIP.get(name, name).lower()] = f"=={version}.*" if version else ""
    return specs


def test_the_same_packages_are_listed():
    assert set(pip_pins()) == set(conda_specs())


def test_pip_pins_are_within_the_conda_versions():
    specs = conda_specs()
    for name, version in pip_pins().items():
        assert Version(version.split("+")[0]) in SpecifierSet(specs[name]), (
            f"{name}: requirements.txt pins {version}, environment.yml asks for {specs[name]}")


def test_torch_is_the_cpu_build_pinned_for_this_machine():
    assert pip_pins()["torch"] == "2.13.0"
    assert "pytorch-cpu" in (course.ROOT / "environment.yml").read_text()


def test_binder_gets_python_311():
    env = yaml.safe_load((course.ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
