"""Steps 2 and 3 of the re-check: the learner's code answers in its sandbox (``child.py``), and
the real checks judge the answers here, where no learner code ever ran.

2. **Answer**: the learner's code cells run in the child and their functions are called with
   the recorded arguments (``recording.py``). The course package is not visible there, and neither
   is PyTorch unless the exercise takes tensors, so no shortcut can reach an answer, under any
   name or from any thread. What comes back is JSON in the declared form (``wire.py``), capped in
   size; nothing is unpickled or executed.
3. **Judge**: the same check runs again with the learner's answers played back in order
   (a class's as stand-in blocks, ``blocks.py``). Its verdict is the re-check's verdict.
"""

from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ... import checks
from .. import packages
from ..cells import cell_id, is_locked, is_solution, is_test
from . import blocks, codec, wire
from .recording import CheckCall, run_check, needs_torch, plan_for


@dataclass(frozen=True)
class Verdict:
    grade_id: str
    passed: bool | None  # None: this cell is not re-checked
    message: str = ""
    note: str = ""                 # one line for the grading report (from the check's record)
    found: tuple[str, ...] = ()    # what the report counts: the named mistakes, else the finding


# --- 2. answer: what goes to the child ----------------------------------------------------------

def learner_cells(submitted: Path, source: NotebookNode, released: NotebookNode) -> list[str]:
    """The code to run in the child: locked cells as the instructors wrote them, the learner's
    solution cells and any cell they added or changed, and only the imports of the others.
    ``source``: the instructors' notebook; ``released``: the one learners start from."""
    by_id = {cell_id(c): c for c in source.cells}
    unchanged = {c.source for c in released.cells if c.cell_type == "code"}
    cells = []
    for cell in nbformat.read(submitted, as_version=4).cells:
        if cell.cell_type != "code" or is_test(cell):
            continue
        if is_locked(cell) and cell_id(cell) in by_id:
            cells.append(_imports_only(by_id[cell_id(cell)].source))
        elif is_solution(cell) or cell.source not in unchanged:
            cells.append(cell.source)
        else:
            cells.append(_imports_only(cell.source))
    return cells


def _imports_only(source: str) -> str:
    """One import a line, each guarded: in the child the course package (and maybe PyTorch) is
    not there, and a failing import must not stop the next one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    lines = [ast.unparse(node) for node in tree.body
             if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(f"try:\n    {line}\nexcept ImportError:\n    pass" for line in lines)


def request(submitted: Path, source: NotebookNode, released: NotebookNode,
            draw: str | None = None) -> dict:
    """The message to the child (``wire.request``): the code to run and every recorded call, the
    hidden cases drawn from ``draw``."""
    calls = []
    for _, planned in plan_for(source, draw):
        for call in planned or []:
            calls += [[call.function, codec.encode(list(args)), codec.encode(kwargs)]
                      for args, kwargs in call.calls]
            calls += [[call.function, codec.encode(list(life.args)), codec.encode(life.kwargs),
                       life.request()] for life in call.lives]
    return wire.request(learner_cells(submitted, source, released), calls)


# --- 3. judge ----------------------------------------------------------------------------------

def judge(source: NotebookNode, answers: list | None,
          failure: checks.CheckVerdict | None, draw: str | None = None) -> list[Verdict]:
    """Replay the answers through the real checks: one Verdict per test cell. ``answers`` None
    means there are none, for the reason ``failure`` (a record, like every other finding).
    ``draw``: what the hidden cases were drawn from (as for ``request``)."""
    verdicts, position = [], 0
    for grade_id, calls in plan_for(source, draw):
        if calls is None:
            verdicts.append(Verdict(grade_id, None, "not re-checked (its test cell calls a check the registry does not re-check)"))
            continue
        problem = None
        for call in calls:
            mine = None if answers is None else answers[position:position + call.answers]
            position += call.answers
            if problem is None:
                problem = failure if mine is None else _replay(call, mine)
                if problem is not None and call.hidden and mine is not None:
                    problem = _as_hidden(problem)
        if problem is None:
            verdicts.append(Verdict(grade_id, True))
        else:
            verdicts.append(Verdict(grade_id, False, problem.message, problem.note(),
                                    problem.counted()))
    return verdicts


def _as_hidden(problem: checks.CheckVerdict) -> checks.CheckVerdict:
    """A hidden case's failure as the learner sees it: the call (its input, or its shape when it
    is large) and the first wrong value, not the whole expected output."""
    if problem.finding != "wrong value":
        return problem  # a shape and its formula, an error, a type: nothing of the answer
    first = problem.detail.strip().splitlines()[0]
    return replace(problem, detail=f"{first}\n  (a case drawn when your notebook was graded: "
                                   f"its expected output is not shown beyond this value)")


def _replay(call: CheckCall, answers: list):
    if call.lives:
        played_back = blocks.played_class(call.function, answers)
    else:
        queue = iter(answers)

        def played_back(*args, **kwargs):
            return wire.played(next(queue), call.function)

    return run_check(call, played_back)


def child_packages(source: NotebookNode, draw: str | None = None) -> tuple[str, ...]:
    """What the re-check child of ``source``'s exercises may import (packages.py): numpy, and
    PyTorch only where an exercise takes tensors; no other package (not the course's, not
    SciPy's)."""
    return packages.RECHECK_WITH_TORCH if needs_torch(source, draw) else packages.RECHECK


def run(sandbox, submitted: Path, source: NotebookNode, released: NotebookNode,
        timeout: float, draw: str | None = None) -> list[Verdict]:
    """Steps 2 and 3 for one submitted notebook, the child in ``sandbox``, the hidden cases
    drawn from ``draw`` (``draw_key(secret, student)``; None: the notebook's own seeds)."""
    wanted = request(submitted, source, released, draw)
    # -I: no user site, no PYTHON* variables. Its source goes on the command line, as the
    # package it lives in is not there (child_packages).
    ran = sandbox.seeing(child_packages(source, draw)).run([sys.executable, "-I", "-c", wire.CHILD_PROGRAM],
                                   input_bytes=json.dumps(wanted).encode(), timeout=timeout)
    answers, failure = None, None
    if ran.memory_exceeded:
        failure = checks.CheckVerdict(
            "", "", "recheck memory",
            "your code's processes used more memory in total than grading allows when re-run "
            "outside the notebook, and were ended")
    elif ran.timed_out:
        failure = checks.CheckVerdict(
            "", "", "recheck timed out",
            f"your code did not finish within {timeout:g} s when re-run outside the notebook")
    else:
        try:
            answers = wire.answers_from(ran.stdout, wanted["marker"], len(wanted["calls"]))
        except wire.Malformed as problem:
            failure = checks.CheckVerdict(
                "", "", "recheck no answers",
                f"re-running your code outside the notebook gave no usable answers ({problem}; "
                f"exit code {ran.returncode})")
    return judge(source, answers, failure, draw)
