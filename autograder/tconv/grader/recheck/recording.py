"""Step 1 of the re-check (trusted): what each test cell asks of the learner's function.

Each test cell of the instructors' notebook, hidden tests included, is a list of
``checks.check_*(function, cases...)`` calls; each is run once with a recorder in the learner
function's place, so the exact arguments of every call are known. The hidden tests' cases are
drawn here, at grading time: every ``seed=`` of a hidden test is replaced by one derived from the
instructor's secret and the student (``draw_key``), so no one can know them in advance, and a
regrade with the same secret draws the same cases. A class (chapter 06's DecoderBlock) is
recorded as the lives of the blocks the check builds (``blocks.py``).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib
import inspect
import io
import re
from dataclasses import dataclass, field, fields, is_dataclass, replace

from nbformat import NotebookNode
import numpy as np

from ... import checks, exercises, guard
from ..cells import cell_id, delimiters, is_test
from . import blocks
from .wire import MAX_TEXT

# check -> the reference with the learner function's signature (used only to record the calls):
# every exercise the registry declares re-checkable.
RECHECKABLE = exercises.recheckable()
# What a test cell's arguments may name: numpy and the cases modules the registry declares.
TEST_NAMESPACE = {"np": np, **{name: importlib.import_module(f"tconv.{name}")
                               for name in exercises.cases_modules()}}


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


def run_check(call: CheckCall, function, shortcuts=guard.REFERENCES):
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

    failure = run_check(call, recorder)
    if failure is not None:
        raise RuntimeError(f"course bug: {call.check} fails on its own reference:\n"
                           f"{failure.message}")


def test_cells(source: NotebookNode) -> tuple[tuple[str, str], ...]:
    """(grade_id, source with the hidden tests) of every test cell of an instructors' notebook."""
    return tuple((cell_id(cell), cell.source) for cell in source.cells if is_test(cell))


def plan_for(source: NotebookNode, draw: str | None = None) -> tuple:
    """((grade_id, [CheckCall] or None), ...) for one instructors' notebook, calls recorded, the
    hidden tests' cases drawn from ``draw`` (``draw_key``; None: as the notebook writes them).
    Made once per test cells, draw and process (a few tenths of a second)."""
    return _plan(test_cells(source), draw)


@functools.lru_cache(maxsize=32)
def _plan(cells: tuple[tuple[str, str], ...], draw: str | None) -> tuple:
    plan = tuple((grade_id, test_cell_calls(text, draw)) for grade_id, text in cells)
    for _, calls in plan:
        for call in calls or []:
            record(call)
    return plan


def rechecked_cells(source: NotebookNode) -> set[str]:
    return {grade_id for grade_id, calls in plan_for(source) if calls is not None}


def needs_torch(source: NotebookNode, draw: str | None = None) -> bool:
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
