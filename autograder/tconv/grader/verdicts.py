"""Judge a learner's answers where no learner code ever ran.

nbgrader runs test cells inside the learner's own kernel, after the learner's code, so a notebook
can make them pass without a right answer (reassign a check, patch numpy, return an object that
lies, read the hidden tests). So every answer is checked again, in three steps:

1. **Record** (here, trusted): each test cell of the instructors' notebook, hidden tests included,
   is a list of ``checks.check_*(function, cases...)`` calls; each is run once with a recorder in
   the learner function's place, so the exact arguments of every call are known. The hidden
   tests' cases are drawn here, at grading time: every ``seed=`` of a hidden test is replaced by
   one derived from the instructor's secret and the student (``draw_key``), so no one can know
   them in advance, and a regrade with the same secret draws the same cases.
2. **Answer** (``child.py``, in the student's Sandbox): the learner's code cells run and their
   function is called with those arguments. The course package is not visible there, and neither
   is PyTorch unless the exercise takes tensors, so no shortcut can reach an answer, under any name
   or from any thread. What comes back is JSON: numbers, an error's name and message, or a short
   description, checked against a schema and capped in size. Nothing is unpickled or executed.
3. **Judge** (here, trusted): the same check runs again with the learner's numbers played back in
   order. Its verdict is the re-check's verdict.

Chapter 06's DecoderBlock checks take a class: each block they build is recorded and re-lived the
same way, its structure and outputs coming back as data (``blocks.py``).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib
import io
import json
import hashlib
import inspect
import math
import re
import secrets
import sys
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

import nbformat
import numpy as np

from .. import checks, exercises, guard
from ..judge import shortcut as shortcut_failure
from . import blocks, packages
from .cells import cell_id, delimiters, is_locked, is_solution, is_test

# check -> the reference with the learner function's signature (used only to record the calls):
# every exercise the registry declares re-checkable.
RECHECKABLE = exercises.recheckable()
# What a test cell's arguments may name: numpy and the modules the notebooks' setup cells import.
# Every chapter's cases module (``cases``, ``<topic>_cases``), found by its name.
TEST_NAMESPACE = {"np": np, **{path.stem: importlib.import_module(f"tconv.{path.stem}")
                               for path in sorted(Path(checks.__file__).parent.glob("*cases.py"))}}
CHILD = Path(__file__).with_name("child.py")

MAX_ANSWER_VALUES = 2_000_000   # all numbers of one notebook's answers together
MAX_TEXT = 500                  # an error message or a description


@dataclass
class CheckCall:
    check: str          # e.g. "check_conv_transpose1d"
    function: str       # the learner's function, by name
    args: tuple         # the check's arguments after the function
    kwargs: dict
    calls: list = field(default_factory=list)  # [(args, kwargs)] made to the learner's function
    lives: list = field(default_factory=list)  # [blocks.Life] of the learner's class
    hidden: bool = False  # a hidden test's call: its cases are drawn at grading time

    @property
    def answers(self) -> int:
        """How many answers the child returns for this check."""
        return len(self.calls) + len(self.lives)


@dataclass(frozen=True)
class Verdict:
    grade_id: str
    passed: bool | None  # None: this cell is not re-checked
    message: str = ""
    note: str = ""                 # one line for the grading report (from the check's record)
    found: tuple[str, ...] = ()    # what the report counts: the named mistakes, else the finding


class Malformed(ValueError):
    """What came back from the child is not answers in the agreed form."""


# --- 1. record ---------------------------------------------------------------------------------

DRAWN_NOTE = "drawn when graded"  # what a hidden case's note says instead of its seed


def draw_key(secret: str, student: str) -> str:
    """What a student's hidden cases are drawn from: the instructor's secret (never shown to
    anyone) and the student, so that one learner's feedback tells nothing about another's cases."""
    return hashlib.sha256(f"{secret}\0{student}".encode()).hexdigest()


def drawn_seed(draw: str, written: str) -> int:
    """The seed a hidden test's ``seed=<written>`` becomes when the cases are drawn from ``draw``
    (56 bits: numpy's and PyTorch's generators take it, and so does ``seed + k``)."""
    return int.from_bytes(hashlib.sha256(f"{draw}\0{written}".encode()).digest()[:7], "big")


def _evaluate(node):
    return eval(compile(ast.Expression(node), "<test cell>", "eval"), dict(TEST_NAMESPACE))


def _with_drawn_seeds(call: ast.Call, draw: str) -> ast.Call:
    """A hidden test's check call with every ``seed=`` replaced by a seed drawn from ``draw``. A
    cases function that takes a seed and is not given it as ``seed=`` is a course bug: its cases
    would be the ones anyone can generate."""
    call = ast.parse(ast.unparse(call), mode="eval").body  # a copy
    for node in ast.walk(call):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "seed":
                keyword.value = ast.copy_location(
                    ast.Constant(drawn_seed(draw, ast.unparse(keyword.value))), keyword.value)
        if node is call or any(k.arg == "seed" for k in node.keywords):
            continue
        try:
            parameters = list(inspect.signature(_evaluate(node.func)).parameters)
        except (TypeError, ValueError, NameError, AttributeError):
            continue
        if "seed" in parameters:
            raise RuntimeError(f"course bug: the hidden test's {ast.unparse(node)} takes a seed: "
                               f"give it as seed=... so that its cases are drawn at grading")
    return call


def _without_seeds(value):
    """A hidden test's evaluated argument with every case's note freed of its (drawn) seed: the
    feedback must not say how to regenerate the cases."""
    if isinstance(value, list):
        return [_without_seeds(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_without_seeds(item) for item in value)
    if is_dataclass(value) and not isinstance(value, type) and "note" in {f.name for f in fields(value)}:
        return replace(value, note=re.sub(r"seed \d+", DRAWN_NOTE, value.note))
    return value


def test_cell_calls(source: str, draw: str | None = None) -> list[CheckCall] | None:
    """The check calls of one test cell, or None if the cell holds anything else. With ``draw``,
    the hidden tests' seeds are drawn from it (``draw_key``); without, they are as written (the
    instructors' own runs)."""
    calls = []
    hidden_lines = delimiters().hidden_tests.line_numbers(source)
    for statement in ast.parse(source).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id == "checks"
                and call.func.attr in RECHECKABLE
                and call.args
                and isinstance(call.args[0], ast.Name)):
            return None
        hidden = statement.lineno in hidden_lines
        drawn = hidden and draw is not None
        if drawn:
            call = _with_drawn_seeds(call, draw)

        def evaluate(node):
            value = _evaluate(node)
            return _without_seeds(value) if drawn else value

        calls.append(CheckCall(call.func.attr, call.args[0].id,
                               tuple(evaluate(arg) for arg in call.args[1:]),
                               {kw.arg: evaluate(kw.value) for kw in call.keywords},
                               hidden=hidden))
    return calls


def _run_check(call: CheckCall, function, shortcuts=guard.REFERENCES):
    """Run the real check with ``function`` in the learner's place, printing nothing: None if it
    passes, else its verdict record (``checks.CheckVerdict``).
    ``shortcuts``: the guard, by argument (thread-safe); by default the references may run, as
    the recorder calls them on purpose (and played-back answers call nothing)."""
    import inspect

    kwargs = dict(call.kwargs, shortcuts=shortcuts)
    check = getattr(checks, call.check)
    if "picture" in inspect.signature(check).parameters:
        kwargs["picture"] = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check(function, *call.args, **kwargs)
    except checks.CheckFailed as failure:
        return failure.verdict
    except Exception as error:  # noqa: BLE001 - a stand-in the check could not read
        return checks.CheckVerdict(
            call.function, "", "recheck unreadable",
            f"{call.check}({call.function}, ...) could not judge the answers that came back when "
            f"your code was re-run outside the notebook ({type(error).__name__}: "
            f"{str(error)[:MAX_TEXT]}).")
    return None


def record(call: CheckCall) -> None:
    answers = exercises.BY_CHECK[call.check].answers
    if answers != "values":
        recorder = blocks.recorder(call.lives, answers == "blocks",
                                   exercises.BY_CHECK[call.check].reference)
    else:
        def recorder(*args, **kwargs):
            call.calls.append((args, kwargs))
            return RECHECKABLE[call.check](*args, **kwargs)

    failure = _run_check(call, recorder)
    if failure is not None:
        raise RuntimeError(f"course bug: {call.check} fails on its own reference:\n"
                           f"{failure.message}")


def test_cells(source: Path) -> list[tuple[str, str]]:
    """(grade_id, source with the hidden tests) of every test cell of an instructors' notebook."""
    return [(cell_id(cell), cell.source) for cell in nbformat.read(source, as_version=4).cells
            if is_test(cell)]


@functools.lru_cache(maxsize=32)
def plan_for(source: Path, draw: str | None = None) -> tuple:
    """((grade_id, [CheckCall] or None), ...) for one instructors' notebook, calls recorded, the
    hidden tests' cases drawn from ``draw`` (``draw_key``; None: as the notebook writes them).
    Made once per notebook, draw and process (a few tenths of a second)."""
    plan = tuple((grade_id, test_cell_calls(text, draw)) for grade_id, text in test_cells(source))
    for _, calls in plan:
        for call in calls or []:
            record(call)
    return plan


def rechecked_cells(source: Path) -> set[str]:
    return {grade_id for grade_id, calls in plan_for(source) if calls is not None}


def needs_torch(source: Path, draw: str | None = None) -> bool:
    """Whether the learner's function is called with tensors (else PyTorch is hidden)."""
    import torch

    def has_tensor(value):
        if isinstance(value, torch.Tensor):
            return True
        if isinstance(value, (list, tuple)):
            return any(has_tensor(v) for v in value)
        if isinstance(value, dict):
            return any(has_tensor(v) for v in value.values())
        return False

    return any(call.lives or any(has_tensor(made) for made in call.calls)
               for _, calls in plan_for(source, draw) for call in calls or [])


# --- 2. answer: what goes to the child and what comes back ---------------------------------------

def encode(value):
    """Arguments as JSON: arrays and tensors with their dtype and shape, tuples kept apart."""
    if isinstance(value, np.ndarray):
        return {"__array__": {"dtype": str(value.dtype), "shape": list(value.shape),
                              "data": value.ravel().tolist()}}
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        return {"__tensor__": encode(value.detach().numpy())["__array__"]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def learner_cells(submitted: Path, source: Path, released: Path) -> list[str]:
    """The code to run in the child: locked cells as the instructors wrote them, the learner's
    solution cells and any cell they added or changed, and only the imports of the others."""
    by_id = {cell_id(c): c for c in nbformat.read(source, as_version=4).cells}
    unchanged = {c.source for c in nbformat.read(released, as_version=4).cells
                 if c.cell_type == "code"}
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


def request(submitted: Path, source: Path, released: Path, draw: str | None = None) -> dict:
    calls = []
    for _, planned in plan_for(source, draw):
        for call in planned or []:
            calls += [[call.function, encode(list(args)), encode(kwargs)]
                      for args, kwargs in call.calls]
            calls += [[call.function, encode(list(life.args)), encode(life.kwargs),
                       life.request(encode)] for life in call.lives]
    return {"marker": f"ANSWERS-{secrets.token_hex(16)}:",
            "cells": learner_cells(submitted, source, released), "calls": calls}


def answers_from(stdout: bytes, marker: str, count: int) -> list:
    """The child's answers, checked against the schema; Malformed if anything is off."""
    lines = [line for line in stdout.decode("utf-8", "replace").splitlines()
             if line.startswith(marker)]
    if len(lines) != 1:
        raise Malformed("no answers came back" if not lines else "answers came back twice")
    try:
        answers = json.loads(lines[0][len(marker):])
    except ValueError:
        raise Malformed("the answers are not JSON") from None
    if not isinstance(answers, list) or len(answers) != count:
        raise Malformed(f"expected {count} answers")
    total = 0
    for answer in answers:
        total += validate(answer)
        if total > MAX_ANSWER_VALUES:
            raise Malformed("the answers hold too many numbers")
    return answers


def validate(answer) -> int:
    """Raise Malformed unless ``answer`` is one encoded answer; return how many numbers it has."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not (isinstance(answer, list) and answer and isinstance(answer[0], str)):
        raise Malformed("an answer is not [kind, ...]")
    kind, rest = answer[0], answer[1:]
    if kind == "none" and not rest:
        return 0
    if kind in ("int", "float") and len(rest) == 1 and number(rest[0]):
        return 1
    if kind in ("error", "other") and len(rest) == 2 and all(isinstance(v, str) and
                                                             len(v) <= 2 * MAX_TEXT for v in rest):
        return 0
    if kind == "block" and len(rest) == 1:
        return blocks.validate(rest[0], validate, Malformed)
    if kind in ("array", "tensor") and len(rest) == 1 and isinstance(rest[0], dict):
        spec = rest[0]
        shape, data = spec.get("shape"), spec.get("data")
        if (set(spec) == {"dtype", "shape", "data"} and spec["dtype"] == "float64"
                and isinstance(shape, list) and len(shape) <= 8
                and all(isinstance(n, int) and 0 <= n for n in shape)
                and isinstance(data, list) and len(data) == math.prod(shape)
                and all(number(v) for v in data)):
            return len(data)
    raise Malformed(f"an answer of kind {kind!r} is not in the agreed form")


def _played(answer, function: str):
    """One validated answer, turned back into the value the learner's function returned."""
    kind = answer[0]
    if kind == "none":
        return None
    if kind in ("int", "float"):
        return answer[1]
    if kind in ("array", "tensor"):
        spec = answer[1]
        array = np.array(spec["data"], dtype=np.float64).reshape(spec["shape"])
        if kind == "tensor":
            import torch

            return torch.from_numpy(array)
        return array
    if kind == "error":
        _, name, message = answer
        if name == "ModuleNotFoundError" and any(f"'{m}" in message for m in ("torch", "tconv")):
            raise shortcut_failure(
                function, f"{function}(...)", "PyTorch or the course package, which are not "
                "available when your answer is re-checked (write it with numpy)")
        error_class = getattr(builtins, name, None) if name.isidentifier() else None
        if not (isinstance(error_class, type) and issubclass(error_class, Exception)):
            error_class = type(name if name.isidentifier() else "Error", (Exception,), {})
        raise error_class(message[:MAX_TEXT])
    if kind == "block":  # a block's report where a function's answer belongs
        return object()
    _, type_name, shown = answer
    name = type_name if type_name.isidentifier() else "object"
    return type(name, (), {"__repr__": lambda self: shown[:200]})()


# --- 3. judge ----------------------------------------------------------------------------------

def judge(source: Path, answers: list | None,
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
        played_back = blocks.played_class(call.function, answers, _played)
    else:
        queue = iter(answers)

        def played_back(*args, **kwargs):
            return _played(next(queue), call.function)

    return _run_check(call, played_back)


def recheck(sandbox, submitted: Path, source: Path, released: Path,
            timeout: float, draw: str | None = None) -> list[Verdict]:
    """Steps 2 and 3 for one submitted notebook, the child in ``sandbox``, the hidden cases
    drawn from ``draw`` (``draw_key(secret, student)``; None: the notebook's own seeds)."""
    wanted = request(submitted, source, released, draw)
    # The child imports numpy, and PyTorch only where the exercise takes tensors: no other
    # package is there (not the course's, not SciPy's). -I: no user site, no PYTHON* variables.
    # Its source goes on the command line, as the package it lives in is not there.
    seen = packages.RECHECK_WITH_TORCH if needs_torch(source, draw) else packages.RECHECK
    ran = sandbox.seeing(seen).run([sys.executable, "-I", "-c", CHILD.read_text()],
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
            answers = answers_from(ran.stdout, wanted["marker"], len(wanted["calls"]))
        except Malformed as problem:
            failure = checks.CheckVerdict(
                "", "", "recheck no answers",
                f"re-running your code outside the notebook gave no usable answers ({problem}; "
                f"exit code {ran.returncode})")
    return judge(source, answers, failure, draw)

