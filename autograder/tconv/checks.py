"""Learner-facing checks: run an exercise function on cases and explain what is wrong.

This module is the one facade the notebooks call (``checks.check_<name>(function, cases...)``).
Every exercise is declared once, in ``exercises``; the checks of chapters 01-05 and 07 are made
here from those declarations, and chapter 06's (which take tensors and classes) are written by
hand in ``unet_checks`` and re-exported here from the same registry.

A check calls the learner's function on every case (through ``judge.call_learner``: under the
shortcut guard, one set of messages for a stub, a shortcut and a crash), converts each answer to
a plain float array (or int), and compares it with the reference implementation and with PyTorch.
If any case fails, it raises ``CheckFailed`` carrying a ``judge.CheckVerdict``, whose message says
what is wrong with the first failing case and where: the call, expected and actual shapes with
the formula for the right one, the first differing position with both values, how many cases
fail, and, when the answers equal what a known mistake produces on every case, the mistake's name
and how to fix it. A check that passes prints one line saying what it checked. ``try_it`` runs a
learner's function in a *try it* cell and prints an error instead of raising it, so that
*Run All* reaches the checks.

Values are compared in plain Python on copies of the numbers, so nothing the answer object does
(an ``ndarray`` subclass, a lying ``__eq__``) changes the verdict. Tolerances suit float32.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

from . import exercises, guard, judge
from .cases import Case
from .judge import CheckFailed, CheckVerdict  # noqa: F401 (the notebooks' and grader's names)

RELATIVE_TOLERANCE = 1e-4  # float32 keeps about 7 significant digits; sums of a few terms lose some
ABSOLUTE_TOLERANCE = 1e-5  # scaled by the largest expected magnitude (at least 1)


# --- the machinery -----------------------------------------------------------------------------
# A check runs the learner's function on EVERY case before it judges: the message shows the first
# failing case, and a known mistake is named only when it reproduces every case (the failing ones
# and the passing ones), so a slip that happens to coincide with a mistake on one case is not
# given that mistake's name.

@dataclass
class _Outcome:
    """One case: the arguments, the learner's answer or the exception it raised, and what is wrong
    with it (``problem``, a CheckVerdict for this case alone; None when the case passed)."""
    args: tuple
    answer: object = None
    error: Exception | None = None
    problem: CheckVerdict | None = None
    picture: tuple | None = None  # (expected, actual, title) to draw if this case is shown


def _run(name: str, fn, case, shortcuts) -> judge.Answer:
    """The learner's ``fn`` on one case (a stub or a shortcut stops the check at once)."""
    return judge.call_learner(name, case.describe(name), fn, *case.args, shortcuts=shortcuts,
                              **case.kwargs)


def try_it(fn, *args, **kwargs) -> None:
    """Call the learner's ``fn(*args, **kwargs)`` in a *try it* cell and print the result.

    An error is printed, not raised, so that *Run All* goes on to the checks below, which say what
    is wrong. Large arrays and tensors are shown by their shape. Returns nothing (so the cell does
    not show the result a second time); to try several steps, pass a function of your own.
    """
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        print(f"{name} stopped at `raise NotImplementedError()`: replace that line in the exercise "
              f"cell with your code, run that cell, then this one. The checks below run anyway.")
        return
    except Exception as error:  # shown, not raised: the checks below run all the same
        print(f"{name} raised {type(error).__name__}: {error}\n{_hint_for(error)}"
              f"The checks below run anyway and say more; to see the full traceback, call it "
              f"in a cell of your own.")
        return
    print(_summary(result))


def _summary(result) -> str:
    size = getattr(result, "size", None)
    if callable(size):  # a torch tensor: .size() is a method, .numel() the count
        size = result.numel()
    if isinstance(size, int) and size > 100 and hasattr(result, "shape"):
        return f"{type(result).__name__} of shape {tuple(result.shape)}"
    return str(result)


_ERROR_HINTS = [
    ("Cannot cast ufunc 'add' output", "Your output array holds integers (it took the input's "
     "dtype), so adding float values into it fails: create it as floats, e.g. np.zeros(length). "),
    # numpy 1.x and 2.x word a length mismatch differently ("could not broadcast input array",
    # "operands could not be broadcast together", "non-broadcastable output operand").
    ("broadcast", "A slice of the output and the copy you put into it differ in shape: check "
     "where each copy starts and ends, and the output's shape. "),
]


def _hint_for(error: Exception, arrays=()) -> str:
    """A hint for a learner's exception; ``arrays`` lists (name, shape) of the arrays in play
    (the arguments and the right output), to say which one an index ran past."""
    text = str(error)
    hints = [hint for pattern, hint in _ERROR_HINTS if pattern in text]
    bound = re.search(r"out of bounds for (?:axis|dimension) (\d+) with size (\d+)", text)
    if bound:
        axis, size = int(bound.group(1)), int(bound.group(2))
        fits = [name for name, shape in arrays if len(shape) > axis and shape[axis] == size]
        where = (f"{' or '.join(fits)} (axis {axis} has {size} entries)" if fits else
                 f"an array whose axis {axis} has only {size} entries ("
                 + ", ".join(f"{name} is {shape}" for name, shape in arrays) + ")")
        hints.append(f"An index ran past the end of {where}: check the range of the loop that "
                     f"makes that index. ")
    return "".join(hints)


def _arrays_in(case, output_shape=None) -> list:
    """(name, shape) of the case's array arguments, and of the right output."""
    found = [(name, np.shape(value)) for name, value in zip(case.names, case.args)
             if isinstance(value, np.ndarray)]
    return found + ([("the output", tuple(output_shape))] if output_shape is not None else [])


def _as_float_array(name: str, answer, case: Case) -> np.ndarray:
    if answer is None:
        raise judge.fail(name, case.describe(name), "returned None",
                         "returned None: did you forget to `return` the output array?",
                         expected="an array", actual="None")
    try:
        # np.array(..., dtype=float64) copies into a plain ndarray: subclasses and lazy objects
        # are reduced to their numbers before anything is compared.
        return np.array(answer, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise judge.fail(name, case.describe(name), "wrong type",
                         f"returned a {type(answer).__name__} that is not an array of numbers "
                         f"({error}). Return a numpy array.", expected="an array",
                         actual=type(answer).__name__) from None


def _close(expected: float, actual: float, scale: float) -> bool:
    return abs(expected - actual) <= ABSOLUTE_TOLERANCE * scale + RELATIVE_TOLERANCE * abs(expected)


def _first_difference(expected: np.ndarray, actual: np.ndarray):
    """(index, expected value, actual value, count of differing values), or None if all close."""
    flat_expected = [float(v) for v in expected.ravel().tolist()]
    flat_actual = [float(v) for v in actual.ravel().tolist()]
    scale = max([1.0] + [abs(v) for v in flat_expected])
    wrong = [n for n, (e, a) in enumerate(zip(flat_expected, flat_actual))
             if not _close(e, a, scale)]
    if not wrong:
        return None
    index = tuple(int(v) for v in np.unravel_index(wrong[0], expected.shape))
    return index, flat_expected[wrong[0]], flat_actual[wrong[0]], len(wrong)


def _equal_arrays(expected: np.ndarray, actual: np.ndarray) -> bool:
    return expected.shape == actual.shape and _first_difference(expected, actual) is None


def _same_array(produced, answer) -> bool:
    return _equal_arrays(np.asarray(produced, dtype=np.float64), answer)


def _same_error(produced: Exception | None, error: Exception) -> bool:
    """The same crash: the same exception type and the same first sentence."""
    return (produced is not None and type(produced) is type(error)
            and str(produced).split(".")[0] == str(error).split(".")[0])


def _explains(mistake, outcomes: list, same) -> bool:
    """True when ``mistake`` reproduces every failing case (its answer, or the same crash) and
    agrees with every passing one. Where the mistake's code cannot run on a case the learner got
    right, that case says nothing either way."""
    for outcome in outcomes:
        try:
            produced, raised = mistake.compute(*outcome.args), None
        except Exception as error:  # noqa: BLE001 - a mistake may crash as the learner's code did
            produced, raised = None, error
        if outcome.error is not None:
            if not _same_error(raised, outcome.error):
                return False
        elif raised is not None:
            if outcome.problem is not None:
                return False
        elif not same(produced, outcome.answer):
            return False
    return True


def _diagnosis(found: list, outcomes: list, same) -> list:
    """The known mistakes that explain every case."""
    return [mistake for mistake in found if _explains(mistake, outcomes, same)]


def _verdict(name: str, cases, sources: list, outcomes: list, known: list, same,
             picture: bool = False, passed: str | None = None) -> None:
    """Print the pass line (``passed``, or the usual one), or raise CheckFailed for the first
    failing case, with how many cases fail and the known mistake that explains all of them."""
    failed = [outcome for outcome in outcomes if outcome.problem is not None]
    if not failed:
        if passed:
            print(passed)
        else:
            _passed(name, cases, sources)
        return
    first = failed[0]
    if picture and first.picture is not None:
        _show_comparison(*first.picture)
    raise CheckFailed(judge.with_cases(first.problem, len(failed), len(outcomes),
                                       _diagnosis(known, outcomes, same)))


def _format(array: np.ndarray) -> str:
    return np.array2string(array, separator=", ", threshold=40, edgeitems=6, max_line_width=100,
                           formatter={"float_kind": lambda v: f"{v:.5g}"})


def _check_arrays(name, fn, cases, sources, formula, known, picture,
                  what="output length", shortcuts=None) -> None:
    """``formula(case)`` explains the right shape; ``what`` names it ("output length", ...)."""
    outcomes = []
    for case in cases:
        got = _run(name, fn, case, shortcuts)
        answer, error = got.value, got.error
        expected = [(source, np.asarray(compute(*case.args), dtype=np.float64))
                    for source, compute in sources]
        if error is not None:
            hint = _hint_for(error, _arrays_in(case, expected[0][1].shape))
            outcomes.append(_Outcome(case.args, error=error,
                                     problem=judge.crash_verdict(name, case.describe(name), error,
                                                                 hint)))
            continue
        outcome = _Outcome(case.args, _as_float_array(name, answer, case))
        outcomes.append(outcome)
        actual = outcome.answer
        for source, want in expected:
            if actual.shape != want.shape:
                outcome.problem = CheckVerdict(
                    name, case.describe(name), "wrong shape",
                    f"wrong shape: expected {want.shape}, got {actual.shape}.\n"
                    f"  The {what} is {formula(case)}.",
                    expected=str(want.shape), actual=str(actual.shape))
                break
            difference = _first_difference(want, actual)
            if difference is not None:
                index, wanted, got, count = difference
                where = index[0] if len(index) == 1 else index
                # Of an (N, C, H, W) answer, show the one (H, W) map where it first goes wrong.
                lead = index[:-2]
                label = f"[{', '.join(str(v) for v in lead)}]" if lead else ""
                outcome.picture = (want[lead], actual[lead], f"{name}: expected vs. yours{label}")
                outcome.problem = CheckVerdict(
                    name, case.describe(name), "wrong value",
                    f"wrong value at index {where}{_AXES.get(len(index), '')}: expected "
                    f"{wanted:.6g}, got {got:.6g} ({count} of {want.size} values differ from "
                    f"{source}).\n"
                    f"{_side_by_side(want[lead], actual[lead], label)}",
                    expected=f"{wanted:.6g} at {where}", actual=f"{got:.6g}")
                break
    _verdict(name, cases, [source for source, _ in sources], outcomes, known, _same_array,
             picture)


_AXES = {2: " (row, column)", 4: " (batch, channel, row, column)"}


def _side_by_side(expected: np.ndarray, actual: np.ndarray, label: str = "") -> str:
    """'expected: ...' above 'yours: ...'; the rows of a 2-D array line up under each other."""
    lines = []
    for title, values in ((f"expected{label}: ", expected), (f"yours{label}:    ", actual)):
        text = _format(values)
        if values.ndim >= 2:
            text = text.replace("\n", "\n" + " " * (len(title) + 2))
        lines.append(f"  {title}{text}")
    return "\n".join(lines)


def _check_ints(name, fn, cases, sources, formula, known, shortcuts=None) -> None:
    outcomes = []
    for case in cases:
        got = _run(name, fn, case, shortcuts)
        answer, error = got.value, got.error
        if error is not None:
            outcomes.append(_Outcome(case.args, error=error, problem=judge.crash_verdict(
                name, case.describe(name), error, _hint_for(error))))
            continue
        outcome = _Outcome(case.args, answer)
        outcomes.append(outcome)
        for source, compute in sources:
            expected = int(compute(*case.args))
            is_int = isinstance(answer, numbers.Integral) and not isinstance(answer, bool)
            if is_int and int(answer) == expected:
                continue
            if (isinstance(answer, numbers.Real) and not isinstance(answer, bool)
                    and math.isfinite(float(answer)) and float(answer) == expected):
                outcome.problem = CheckVerdict(
                    name, case.describe(name), "wrong type",
                    f"returned {answer!r}, a {type(answer).__name__}: the value is right but a "
                    f"size must be an int. This looks like true division instead of floor "
                    f"division: use // rather than /, or convert with int().",
                    expected="int", actual=type(answer).__name__)
            else:
                outcome.problem = CheckVerdict(
                    name, case.describe(name), "wrong value",
                    f"expected {expected} ({source}), got {answer!r}.\n  {formula(case)}",
                    expected=str(expected), actual=repr(answer)[:80])
            break
    _verdict(name, cases, [source for source, _ in sources], outcomes, known, _same_number)


def _same_number(produced, answer) -> bool:
    try:
        return float(produced) == float(answer)
    except (TypeError, ValueError):
        return False


def _passed(name: str, cases, sources) -> None:
    notes = sorted({case.note for case in cases if case.note})
    what = f" ({'; '.join(notes)})" if 0 < len(notes) <= 3 else ""
    print(f"✓ {name}: {len(cases)} case{'s' if len(cases) != 1 else ''}{what} "
          f"{'match' if len(cases) != 1 else 'matches'} "
          f"{' and '.join(sources)}.")


def _show_comparison(expected: np.ndarray, actual: np.ndarray, title: str) -> None:
    """Draw expected / yours / difference under the failing cell (and in graded feedback)."""
    from . import plots  # matplotlib is loaded only when a picture is needed

    plots.display(plots.comparison_figure(expected, actual, title))


# --- the checks, made from the registry ----------------------------------------------------------

def _made(exercise: exercises.Exercise):
    """The check of an exercise declared with ``compare`` "arrays" or "ints"."""
    sources = [source for source, _ in exercise.twins]
    if exercise.compare == "arrays":
        def check(fn, cases, picture=True, *, shortcuts: guard.Guard | None = None) -> None:
            _check_arrays(exercise.learner, fn, cases, exercise.twins, exercise.formula,
                          exercise.mistakes, picture, exercise.what, shortcuts)
    else:
        def check(fn, cases, *, shortcuts: guard.Guard | None = None) -> None:
            _check_ints(exercise.learner, fn, cases, exercise.twins, exercise.formula,
                        exercise.mistakes, shortcuts)
    check.__name__ = check.__qualname__ = exercise.check
    check.__doc__ = (f"{exercise.doc}\n\nCompared with {' and '.join(sources)}; chapter "
                     f"{exercise.chapter}. Made from ``exercises.BY_CHECK[{exercise.check!r}]``.")
    return judge.published(check)


for _exercise in exercises.EXERCISES:
    if _exercise.compare != "by hand":
        globals()[_exercise.check] = _made(_exercise)

# The checks written by hand, imported after the machinery above (their modules import it); the
# import is spelled out so that the learners' copy (tconv.publish) sees which modules it needs.
from . import unet_checks  # noqa: E402

_BY_HAND = {"unet_checks": unet_checks}
for _exercise in exercises.EXERCISES:
    if _exercise.compare == "by hand":
        globals()[_exercise.check] = getattr(_BY_HAND[_exercise.module], _exercise.check)
del _exercise
