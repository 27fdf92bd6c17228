"""Re-check a learner's answers outside their notebook's kernel.

nbgrader runs the test cells in the learner's own kernel, after the learner's code, so a notebook
can make them pass without a right answer: reassign a check or a numpy comparison, return an
object that lies about equality, silence the traceback. The re-check does not trust that run:

1. **Record** (here): each test cell of the instructors' notebook is read, and each
   ``checks.check_*(function, cases...)`` call in it is run once with a recorder standing in for
   the learner's function, so the exact arguments of every call are known.
2. **Answer** (``recheck_child``, a separate process): the learner's code cells run, then their
   function is called with those arguments; only the numbers come back.
3. **Judge** (here, in a process that never ran learner code): the same check runs again with
   the learner's numbers played back in order. Its verdict is the re-check's verdict.

Checks that take a class (chapter 06's DecoderBlock) cannot be replayed this way; their cells keep
nbgrader's score and ``recheck`` reports them as not re-checked.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np

from . import cases, checks, guard, reference, unet_cases, unet_reference

# check -> the reference with the learner function's signature (used only to record the calls)
RECHECKABLE = {
    "check_conv_transpose1d": reference.conv_transpose1d,
    "check_conv_output_size": reference.conv_output_size,
    "check_conv_transpose_output_size": reference.conv_transpose_output_size,
    "check_conv_transpose2d": reference.conv_transpose2d,
    "check_conv_transpose2d_nchw": reference.conv_transpose2d_nchw,
    "check_conv1d_matrix": reference.conv1d_matrix,
    "check_conv_transpose2d_by_zero_insertion": reference.conv_transpose2d_by_zero_insertion,
    "check_center_crop": unet_reference.center_crop,
    "check_center_crop_rejects_larger": unet_reference.center_crop,
}
TEST_NAMESPACE = {"cases": cases, "unet_cases": unet_cases, "np": np}


@dataclass
class CheckCall:
    check: str          # e.g. "check_conv_transpose1d"
    function: str       # the learner's function, by name
    args: tuple         # the check's arguments after the function
    kwargs: dict
    calls: list         # [(args, kwargs)] the check makes to the learner's function


@dataclass
class Verdict:
    grade_id: str
    passed: bool | None  # None: this cell could not be re-checked
    message: str = ""


def test_cell_calls(source: str) -> list[CheckCall] | None:
    """The check calls of one test cell, or None if the cell holds anything else."""
    calls = []
    for statement in ast.parse(source).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id == "checks"
                and call.func.attr in RECHECKABLE and call.args
                and isinstance(call.args[0], ast.Name)):
            return None
        evaluate = lambda node: eval(compile(ast.Expression(node), "<test cell>", "eval"),  # noqa: E731
                                     dict(TEST_NAMESPACE))
        calls.append(CheckCall(call.func.attr, call.args[0].id,
                               tuple(evaluate(arg) for arg in call.args[1:]),
                               {kw.arg: evaluate(kw.value) for kw in call.keywords}, []))
    return calls


@contextlib.contextmanager
def _quiet_and_unguarded():
    """While recording, the recorder calls the reference on purpose; and nothing is printed."""
    saved = guard._ANSWER_FILES
    guard._ANSWER_FILES = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        guard._ANSWER_FILES = saved


def _run_check(call: CheckCall, function) -> str | None:
    """Run the real check with ``function`` in the learner's place: None if it passes, else why."""
    kwargs = dict(call.kwargs)
    if "picture" in getattr(checks, call.check).__code__.co_varnames:
        kwargs["picture"] = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            getattr(checks, call.check)(function, *call.args, **kwargs)
    except checks.CheckFailed as failure:
        return str(failure)
    return None


def record(call: CheckCall) -> None:
    """Fill ``call.calls`` with the arguments the check passes to the learner's function."""
    def recorder(*args, **kwargs):
        call.calls.append((args, kwargs))
        return RECHECKABLE[call.check](*args, **kwargs)

    with _quiet_and_unguarded():
        failure = _run_check(call, recorder)
    if failure is not None:
        raise RuntimeError(f"course bug: {call.check} fails on its own reference:\n{failure}")


def _decode(answer, function: str):
    kind = answer[0]
    if kind == "none":
        return None
    if kind in ("int", "float", "array"):
        return answer[1]
    if kind == "tensor":
        import torch

        return torch.from_numpy(answer[1])
    if kind == "shortcut":
        raise checks.CheckFailed(checks.shortcut_message(function, answer[1]))
    if kind == "error":
        _, name, message = answer
        error_class = getattr(builtins, name, None)
        if not (isinstance(error_class, type) and issubclass(error_class, Exception)):
            error_class = type(name, (Exception,), {})
        raise error_class(message)
    _, type_name, shown = answer
    return type(type_name, (), {"__repr__": lambda self: shown})()


def replay(call: CheckCall, answers: list) -> str | None:
    """Judge the learner's recorded answers with the real check: None if it passes, else why."""
    queue = iter(answers)

    def played_back(*args, **kwargs):
        return _decode(next(queue), call.function)

    return _run_check(call, played_back)


def _learner_cells(submitted: Path, source: Path, released: Path) -> list[str]:
    """The code to run in the child: locked cells as the instructors wrote them, the learner's
    solution cells and any cell they added or changed, and only the imports of the others."""
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c
             for c in nbformat.read(source, as_version=4).cells}
    unchanged = {c.source for c in nbformat.read(released, as_version=4).cells
                 if c.cell_type == "code"}
    cells = []
    for cell in nbformat.read(submitted, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        if meta.get("locked") and meta.get("grade_id") in by_id:
            cells.append(by_id[meta["grade_id"]].source)
        elif meta.get("solution") or cell.source not in unchanged:
            cells.append(cell.source)
        else:
            cells.append(_imports_only(cell.source))
    return cells


def _imports_only(source: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(node) for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def source_test_cells(source: Path) -> list[tuple[str, str]]:
    """(grade_id, source with the hidden tests) of every test cell of the instructors' notebook."""
    cells = []
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            cells.append((meta["grade_id"], cell.source))
    return cells


@functools.lru_cache(maxsize=None)
def plan_for(source: Path) -> tuple:
    """((grade_id, [CheckCall] or None), ...) for one instructors' notebook, calls recorded.
    Made once per notebook and shared by every student; not thread-safe, so the grading command
    makes the plans before it starts the re-checks side by side."""
    plan = tuple((grade_id, test_cell_calls(text)) for grade_id, text in source_test_cells(source))
    for _, calls in plan:
        for call in calls or []:
            record(call)
    return plan


def answers_for(submitted: Path, source: Path, released: Path, timeout: float = 120):
    """Run the learner's notebook code in a child process on every recorded call:
    (answers, None), or (None, why there are none). Safe to run side by side."""
    plan = plan_for(source)
    requests = [(call.function, args, kwargs) for _, calls in plan for call in calls or []
                for args, kwargs in call.calls]
    return _answers(_learner_cells(submitted, source, released), requests, timeout,
                    submitted.parent)


def judge(source: Path, answers, failure) -> list[Verdict]:
    """Replay the answers through the real checks: one Verdict per test cell."""
    verdicts, position = [], 0
    for grade_id, calls in plan_for(source):
        if calls is None:
            verdicts.append(Verdict(grade_id, None, "not re-checked (its check takes a class)"))
            continue
        problem = None
        for call in calls:
            mine = answers[position:position + len(call.calls)] if answers is not None else None
            position += len(call.calls)
            if problem is None:
                problem = failure if mine is None else replay(call, mine)
        verdicts.append(Verdict(grade_id, problem is None, problem or ""))
    return verdicts


def recheck(submitted: Path, source: Path, released: Path, timeout: float = 120) -> list[Verdict]:
    """Re-check every test cell of one submitted notebook; one Verdict per test cell."""
    return judge(source, *answers_for(submitted, source, released, timeout))


def _answers(cells, requests, timeout, folder: Path):
    """Run the child; (answers, None) or (None, why it gave none)."""
    with tempfile.TemporaryDirectory() as scratch:
        request_path, answers_path = Path(scratch) / "request.pkl", Path(scratch) / "answers.pkl"
        with open(request_path, "wb") as file:
            pickle.dump({"cells": cells, "calls": requests}, file)
        env = dict(os.environ, MPLBACKEND="Agg", NBGRADER_EXECUTION="autograde",
                   PYTHONWARNINGS="ignore")
        try:
            result = subprocess.run([sys.executable, "-m", "tconv.recheck_child", str(request_path),
                                     str(answers_path)], cwd=folder, env=env, timeout=timeout,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
        except subprocess.TimeoutExpired:
            return None, f"your code did not finish within {timeout:g} s when re-run outside the notebook"
        if result.returncode != 0 or not answers_path.exists():
            return None, (f"your code stopped the process that re-runs it outside the notebook "
                          f"(exit code {result.returncode}): no answers to check")
        with open(answers_path, "rb") as file:
            answers = pickle.load(file)
        if len(answers) != len(requests):
            return None, "the re-run outside the notebook returned the wrong number of answers"
        return answers, None
