"""How a check calls a learner's code, and what it says about it: one record, one way to call.

``call_learner(what, fn, *args)`` is the only place a check runs learner code: under the shortcut
guard (``guard.Guard``, passed by argument), with one set of messages for a name that is not a
function, a stub, a shortcut and a crash. It returns an ``Answer`` (the value, or the learner's
exception to be judged with the other cases); a stub or a shortcut stops the check at once.

A failing check raises ``CheckFailed``, which carries a ``CheckVerdict``: the exercise, the call,
the kind of finding, expected and actual values at the first difference, the known mistake(s)
that explain every case, the shortcut taken, the hint. The learner's message is a rendering of
that record (``verdict.message``). In a Jupyter kernel the record is also published, as JSON, in
a display output of type ``VERDICT_MIMETYPE`` with an empty text (so nothing more is shown), and
the grader reads it back with ``json``: no message is ever parsed back. In a learner's own kernel
the failure is shown as an error output but not raised, so that *Run All* reaches the end of the
chapter; under nbgrader (autograde, Validate) and outside a kernel it is raised (``published``).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass, replace
from typing import Callable

from . import drawing, guard

VERDICT_MIMETYPE = "application/vnd.tconv.verdict+json"

# What a verdict can find; the grader's report counts these when no mistake is named.
FINDINGS = {
    "not a function": "not a function",
    "not a class": "not a class",
    "not written": "not written yet",
    "shortcut": "calls a ready-made answer",
    "crash": "raised an error",
    "returned None": "returned None",
    "wrong type": "returned the wrong type",
    "wrong shape": "wrong shape",
    "wrong value": "wrong values",
    "wrong structure": "wrong structure",
    "no error": "did not raise ValueError",
    "wrong error": "raised the wrong error",
    # the grader's re-check (tconv/grader/recheck/), when the learner's code re-run outside the
    # notebook gives no answers to judge
    "recheck timed out": "did not finish when re-run outside the notebook",
    "recheck no answers": "gave no usable answers when re-run outside the notebook",
    "recheck memory": "used more than MEMORY in total when re-run outside the notebook",
    "recheck unreadable": "gave answers the check could not read when re-run",
}


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer, written out: a short ``name``, an ``explanation`` addressed to the
    learner, and ``compute``, the wrong code with the exercise's signature. A check whose answers
    equal a mistake's on every case names it (``comparing``); the lists are in the chapters'
    ``*mistakes`` modules, and the registry (``exercises``) says which belongs to which exercise."""
    name: str
    explanation: str
    compute: Callable


@dataclass(frozen=True)
class CheckVerdict:
    """What a failing check found. ``detail`` is the finding explained for the first failing case
    (after the call); the message adds how many cases fail and the named mistake(s)."""
    exercise: str                      # the learner's function or class, e.g. "conv_transpose1d"
    call: str                          # the failing call, described ("" when there is none)
    finding: str                       # a key of FINDINGS
    detail: str                        # the learner-facing explanation of the finding
    expected: str = ""                 # at the first difference (a shape, a value, a number)
    actual: str = ""
    mistakes: tuple[str, ...] = ()     # known mistakes that explain every case, by name
    explanations: tuple[str, ...] = ()  # and how to fix each
    shortcut: str = ""                 # the ready-made answer the code called
    hint: str = ""                     # advice on an error, already part of ``detail``
    failing: int = 1                   # cases that fail
    cases: int = 1                     # cases run

    def __post_init__(self):
        if self.finding not in FINDINGS:
            raise ValueError(f"unknown finding {self.finding!r}: one of {sorted(FINDINGS)}")

    @property
    def message(self) -> str:
        """The text the learner reads."""
        text = f"{self.call}\n  {self.detail}" if self.call else self.detail
        if self.cases > 1 and self.failing:
            text += f"\n  {self.failing} of {self.cases} cases fail; this is the first."
        named = [f"{name}: {why}" for name, why in zip(self.mistakes, self.explanations)]
        if len(named) == 1:
            text += f"\n  This looks like a known mistake, {named[0]}"
        elif named:
            text += ("\n  On every case here, your answers are what each of these known mistakes "
                     "produces:" + "".join(f"\n  - {line}" for line in named))
        return text

    def summary(self) -> str:
        """A few words for the grading report: the named mistake(s), else the shortcut, else the
        kind of finding."""
        if self.mistakes:
            return " or ".join(self.mistakes)
        if self.shortcut:
            return f"calls {self.shortcut}"
        if self.finding in ("crash", "wrong error") and self.actual:
            return f"raised {self.actual}"
        return FINDINGS[self.finding]

    def counted(self) -> tuple[str, ...]:
        """What the grading report counts for this failure: each named mistake, else the
        summary."""
        return self.mistakes or (self.summary(),)

    def note(self) -> str:
        """One line for the grading report: the named mistake(s) or shortcut, else what was
        found on the first failing case (the first line of ``detail``)."""
        headline = self.detail.strip().splitlines()[0] if self.detail.strip() else ""
        if self.mistakes or self.shortcut or not headline:
            return self.summary()
        return headline[:200]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text) -> "CheckVerdict":
        """The record from ``to_json``'s text (or its parsed dict); ValueError if it is not one."""
        data = json.loads(text) if isinstance(text, (str, bytes)) else text
        if not isinstance(data, dict):
            raise ValueError("a verdict is a JSON object")
        names = {f for f in cls.__dataclass_fields__}
        if not names >= set(data) or not {"exercise", "call", "finding", "detail"} <= set(data):
            raise ValueError(f"a verdict has the fields {sorted(names)}")
        for key in ("mistakes", "explanations"):
            data[key] = tuple(str(v) for v in data.get(key, ()))
        return cls(**data)


class CheckFailed(AssertionError):
    """A check found a wrong answer: ``verdict`` says what and where; ``str()`` is its message."""

    def __init__(self, verdict: CheckVerdict):
        self.verdict = verdict
        super().__init__(verdict.message)

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it in a notebook (and nbgrader in the feedback) in place of a
        traceback: the message alone. The frames would be the course's checking code, which says
        nothing about the learner's answer; an error the learner's own code raised is reported in
        the message, with the call to run to see its traceback."""
        first, *rest = str(self).splitlines() or [""]
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {first}", *rest]


def fail(exercise: str, call: str, finding: str, detail: str, **fields) -> CheckFailed:
    """``raise fail(...)``: a CheckFailed for one finding, the record built from the arguments."""
    return CheckFailed(CheckVerdict(exercise, call, finding, detail, **fields))


def published(check):
    """Decorate a public check: in a Jupyter kernel, a failure's record is published (invisibly)
    for the grader to read, then the learner's message is shown.

    The message is raised (``CheckFailed``) outside a kernel (the package's tests, the grader's
    re-check) and in a kernel that nbgrader runs (``NBGRADER_EXECUTION`` is set: autograde and
    Validate), where the error output is what scores the cell 0. In a learner's own kernel it is
    shown as the same error output without being raised, so that *Run All* goes on to the end of
    the chapter (JupyterLab stops at a cell that raises, not at one that shows an error)."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        __tracebackhide__ = True  # IPython and pytest leave this frame out
        try:
            return check(*args, **kwargs)
        except CheckFailed as failure:
            shell = _kernel_shell()
            if shell is not None:
                from IPython.display import display

                display(output_data(failure.verdict), raw=True)
            if shell is None or graded():
                raise
            shell.showtraceback(exc_tuple=(type(failure), failure, failure.__traceback__))
            return None
    return run


def graded() -> bool:
    """True while nbgrader runs the notebook: autograde, and Validate (both set
    ``NBGRADER_EXECUTION``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def grading_kernel() -> bool:
    """True in a kernel that nbgrader's autograde runs (not Validate, not the re-check, which
    runs outside any kernel)."""
    return drawing.grading() and _kernel_shell() is not None


def _kernel_shell():
    """IPython's shell when running in a Jupyter kernel, else None (nobody reads the record)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def output_data(verdict: CheckVerdict) -> dict:
    """The display output's data that carries ``verdict``: the record as JSON, and no text."""
    return {VERDICT_MIMETYPE: json.loads(verdict.to_json()), "text/plain": ""}


# --- calling the learner's code -----------------------------------------------------------------

@dataclass
class Answer:
    """What one call of the learner's code gave: its value, or the exception it raised."""
    value: object = None
    error: Exception | None = None

    def value_or_fail(self, exercise: str, call: str, hint: str = ""):
        """The value; a crash stops the check (when it cannot be judged with other cases)."""
        if self.error is not None:
            raise crash(exercise, call, self.error, hint)
        return self.value


def call_learner(exercise: str, call: str, fn, *args, shortcuts: guard.Guard | None = None,
                 kind: str = "function", stub: str = "", where: str = "", advice: str = "",
                 **kwargs) -> Answer:
    """Run ``fn(*args, **kwargs)``, the learner's code, under ``shortcuts``.

    ``exercise`` names the learner's function or class, ``call`` describes this call. A ``fn`` that
    is not a function (``kind="class"``: not a class), a stub (``stub`` says what is not written),
    or a shortcut stops the check (CheckFailed; ``where`` and ``advice`` are added to the shortcut
    message). Any other exception is returned in the Answer, to be judged with the other cases.
    ``shortcuts`` None is ``guard.LEARNER``, the rule for a learner's answer.
    """
    shortcuts = guard.LEARNER if shortcuts is None else shortcuts
    if kind == "class" and not isinstance(fn, type):
        raise fail(exercise, "", "not a class", f"{exercise} is a {type(fn).__name__}, not a "
                   f"class: run the cell that defines `class {exercise}`.")
    if not callable(fn):
        raise fail(exercise, "", "not a function", f"{exercise} is not a function (it is a "
                   f"{type(fn).__name__}): run the cell that defines it, and do not reuse the name.")
    try:
        with shortcuts.watch() as taken:
            value = fn(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise fail(exercise, call, "not written",
                   f"raised NotImplementedError: {stub or exercise} is not written yet: replace "
                   f"`raise NotImplementedError()` in its cell with your code and run that cell "
                   f"again.") from None
    except Exception as error:  # noqa: BLE001 - the learner's bug: judged by the caller
        return Answer(error=error)
    if taken:
        raise shortcut(exercise, call, taken[0], advice, where)
    return Answer(value)


def shortcut(exercise: str, call: str, taken: str, advice: str = "", where: str = ""
             ) -> CheckFailed:
    """What a learner reads when their answer called a ready-made one."""
    return fail(exercise, call, "shortcut",
                f"calls {taken}{where}. This exercise asks you to write it yourself, so an answer that "
                f"calls a ready-made one earns no credit: replace that call with your own code."
                + (f" {advice}" if advice else ""), shortcut=taken)


def crash_verdict(exercise: str, call: str, error: Exception, hint: str = "") -> CheckVerdict:
    return CheckVerdict(exercise, call, "crash",
                        f"raised {type(error).__name__}: {error}\n  {hint}Run this call yourself "
                        f"to see the full traceback.", actual=type(error).__name__, hint=hint)


def wrong_shape(exercise: str, call: str, expected, actual, detail: str) -> CheckVerdict:
    """A "wrong shape" verdict; ``detail`` says which shape was expected and why."""
    return CheckVerdict(exercise, call, "wrong shape", detail,
                        expected=str(tuple(expected)), actual=str(tuple(actual)))


def crash(exercise: str, call: str, error: Exception, hint: str = "") -> CheckFailed:
    return CheckFailed(crash_verdict(exercise, call, error, hint))


def with_cases(verdict: CheckVerdict, failing: int, cases: int, mistakes=()) -> CheckVerdict:
    """The first failing case's record, with the count of cases and the named mistakes."""
    return replace(verdict, failing=failing, cases=cases,
                   mistakes=tuple(m.name for m in mistakes),
                   explanations=tuple(m.explanation for m in mistakes))


__all__ = ["Answer", "CheckFailed", "CheckVerdict", "FINDINGS", "VERDICT_MIMETYPE", "call_learner",
           "crash", "crash_verdict", "fail", "published", "shortcut", "with_cases"]
