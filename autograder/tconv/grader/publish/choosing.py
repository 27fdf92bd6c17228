"""Which of the package's modules the learners' copy needs, and which of them hold answers."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import nbformat

from ... import exercises
from .. import course
from . import PACKAGE, PublishError


def _imported_tconv_modules(source: str) -> set[str]:
    """The tconv modules a piece of code imports (``from tconv import x``, ``from .x import y``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or base.split(".")[0] == "tconv":
                inner = base.split(".")[1:] if base.startswith("tconv") else base.split(".")
                inner = [part for part in inner if part]
                if inner:
                    found.add(inner[0])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "tconv" and len(parts) > 1:
                    found.add(parts[1])
    return {name for name in found if (PACKAGE / f"{name}.py").exists()}


def code_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells."""
    return [cell.source for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code"]


def learner_modules() -> list[str]:
    """Every tconv module a released notebook needs: what the notebooks import, and what those
    modules import, transitively."""
    wanted = set()
    for notebook in sorted(course.COURSE.glob("*/*.ipynb")):
        for source in code_cells(notebook):
            wanted |= _imported_tconv_modules(source)
    done: set[str] = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        wanted |= _imported_tconv_modules(module_path(name).read_text())
    return sorted(done)


def module_path(name: str) -> Path:
    """The file of ``tconv.<name>`` (found as Python finds it, not by a folder and a name)."""
    spec = importlib.util.find_spec(f"tconv.{name}")
    if spec is None or not spec.origin:
        raise PublishError(f"tconv.{name} is not a module of the package")
    return Path(spec.origin)


def answer_modules() -> list[str]:
    """The modules that hold answers, as the registry declares them: the references' (the answers
    the shortcut guard watches) and the known mistakes' (``exercises.answer_modules``)."""
    return list(exercises.answer_modules())
