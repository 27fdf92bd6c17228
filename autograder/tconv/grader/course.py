"""Where the course's folders are, and how the tools run nbgrader against them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("TCONV_COURSE_ROOT", Path(__file__).resolve().parents[3]))
SOLUTIONS = ROOT / "solutions"
COURSE = ROOT / "course"
AUTOGRADER = ROOT / "autograder"
SAMPLES = AUTOGRADER / "samples"
SAMPLE_SUBMISSIONS = SAMPLES / "submitted"
BUILD = ROOT / "build"

# Seconds one cell may run while grading before nbgrader interrupts it (`make grade TIMEOUT=N`).
CELL_TIMEOUT = 30


def assignments() -> list[str]:
    """The assignments (chapters), in order: the folders of solutions/ that hold notebooks."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebooks(assignment: str) -> list[str]:
    """The notebook names (without .ipynb) of one assignment."""
    return sorted(p.stem for p in (SOLUTIONS / assignment).glob("*.ipynb"))


def nbgrader_env() -> dict:
    """The environment nbgrader needs: this venv's bin/ on PATH (nbgrader runs `alembic` and
    `jupyter`), the course config found through JUPYTER_CONFIG_PATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["JUPYTER_CONFIG_PATH"] = str(AUTOGRADER)
    env["PYTHONWARNINGS"] = "ignore"  # a library warning on stderr would zero a grade cell
    return env


def run_nbgrader(*args: str, check: bool = True, quiet: bool = True,
                 timeout: float = 900) -> subprocess.CompletedProcess:
    """Run one nbgrader command from the course root; raise with its log if it fails."""
    command = [str(Path(sys.executable).parent / "nbgrader"), *args]
    if quiet:
        command.append("--log-level=WARN")
    try:
        result = subprocess.run(command, cwd=ROOT, env=nbgrader_env(),
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` did not finish within {timeout} s") \
            from None
    if check and result.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed (exit {result.returncode}):\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result
