"""How a check compares a learner's answers with the right ones, case by case, and concludes.

The machinery behind every chapter's checks (``checks`` makes them from the registry,
``unet_checks`` writes chapter 06's by hand): each case's answer is converted to plain numbers and
compared with the reference and PyTorch; an ``Outcome`` per case holds the answer (or the
learner's exception) and, when it is wrong, a ``judge.CheckVerdict`` for that case; ``conclude``
prints the pass line or raises ``CheckFailed`` for the first failing case, with how many cases
fail and the known mistake that explains all of them.

Values are compared in plain Python on copies of the numbers, so nothing the answer object does
(an ``ndarray`` subclass, a lying ``__eq__``) changes the verdict. Tolerances suit float32.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

from . import judge
from .case import Case
from .judge import CheckFailed, CheckVerdict

RELATIVE_TOLERANCE = 1e-4  # float32 keeps about 7 significant digits; sums of a few terms lose some
ABSOLUTE_TOLERANCE = 1e-5  # scaled by the largest expected magnitude (at least 1)


# --- the machinery -----------------------------------------------------------------------------
# A check runs the learner's function on EVERY case before it judges: the message shows the first
# failing case, and a known mistake is named only when it reproduces every case (the failing ones
# and the passing ones), so a slip that happens to coincide with a mistake on one case is not
# given that mistake's name.

@dataclass
class Outcome:
    """One case: the arguments, the learner's answer or the exception it raised, and what is wrong
    with it (``problem``, a CheckVerdict for this case alone; None when the case passed)."""
    args: tuple
    answer: object = None
    error: Exception | None = None
    problem: CheckVerdict | None = None
    picture: tuple | None = None  # (expected, actual, title) to draw if this case is shown


def run_case(name: str, fn, case, shortcuts) -> judge.Answer:
    """The learner's ``fn`` on one case (a stub or a shortcut stops the check at once)."""
    return judge.call_learner(name, case.describe(name), fn, *case.args, shortcuts=shortcuts,
                              **case.kwargs)


_ERROR_HINTS = [
    ("to dtype('bool')", "Your output array holds booleans (dtype=bool), so adding numbers into "
     "it fails: create it as floats, e.g. np.zeros(length). "),
    ("to dtype('int", "Your output array holds integers (an "
     "int dtype, or the input's), so adding float values into it fails: create it as floats, "
     "e.g. np.zeros(length). "),
    ("v cannot be empty", "np.convolve was given an empty kernel: when the stride is larger than "
     "the kernel, the phases w[p::stride] with p >= len(w) have no taps; skip them and leave "
     "their outputs zero. "),
    ("slice indices must be integers", "A slice bound or step is not an int: a float (use // "
     "rather than /), or a stride given as an (s_h, s_w) pair used whole (unpack it first). "),
    ("cannot unpack non-iterable int", "An int was unpacked as a pair: a stride or a padding may "
     "be one int or an (h, w) pair; turn an int s into (s, s) before unpacking it. "),
    # numpy 1.x and 2.x word a length mismatch differently ("could not broadcast input array",
    # "operands could not be broadcast together", "non-broadcastable output operand").
    ("broadcast", "A slice of the output and the copy you put into it differ in shape: check "
     "where each copy starts and ends, and the output's shape. "),
]


def hint_for(error: Exception, arrays=()) -> str:
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
    __tracebackhide__ = True
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


def first_difference(expected: np.ndarray, actual: np.ndarray):
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


def equal_arrays(expected: np.ndarray, actual: np.ndarray) -> bool:
    return expected.shape == actual.shape and first_difference(expected, actual) is None


def same_array(produced, answer) -> bool:
    return equal_arrays(np.asarray(produced, dtype=np.float64), answer)


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


def conclude(name: str, cases, sources: list, outcomes: list, known: list, same,
             picture: bool = False, passed: str | None = None) -> None:
    """Print the pass line (``passed``, or the usual one), or raise CheckFailed for the first
    failing case, with how many cases fail and the known mistake that explains all of them."""
    __tracebackhide__ = True  # the checks' own frames are no help to a learner
    failed = [outcome for outcome in outcomes if outcome.problem is not None]
    if not failed:
        if passed:
            print(passed)
        else:
            _passed(name, cases, sources)
        return
    first = failed[0]
    if picture and first.picture is not None:
        show_comparison(*first.picture)
    raise CheckFailed(judge.with_cases(first.problem, len(failed), len(outcomes),
                                       _diagnosis(known, outcomes, same)))


def _format(array: np.ndarray) -> str:
    return np.array2string(array, separator=", ", threshold=40, edgeitems=6, max_line_width=100,
                           formatter={"float_kind": lambda v: f"{v:.5g}"})


def oracles(sources: tuple) -> tuple:
    """What a check holds an answer against: the reference first, then PyTorch's twin. In a kernel
    that nbgrader grades, the reference alone: the kernel then imports no PyTorch, and the grader's
    re-check holds every case, visible and hidden, against both outside it
    (``tconv.grader.recheck``), where PyTorch is already loaded. In the learner's own notebook and
    in Validate, both."""
    return tuple(sources[:1]) if judge.grading_kernel() else tuple(sources)


def compare_arrays(name, fn, cases, sources, formula, known, picture,
                  what="output length", shortcuts=None, axes="") -> None:
    """``formula(case)`` explains the right shape; ``what`` names it ("output length", ...);
    ``axes`` says what an answer's axes are (default: ``AXES``, by its number of dimensions)."""
    __tracebackhide__ = True  # the checks' own frames are no help to a learner
    sources = oracles(sources)
    outcomes = []
    for case in cases:
        got = run_case(name, fn, case, shortcuts)
        answer, error = got.value, got.error
        expected = [(source, np.asarray(compute(*case.args), dtype=np.float64))
                    for source, compute in sources]
        if error is not None:
            hint = hint_for(error, _arrays_in(case, expected[0][1].shape))
            outcomes.append(Outcome(case.args, error=error,
                                     problem=judge.crash_verdict(name, case.describe(name), error,
                                                                 hint)))
            continue
        outcome = Outcome(case.args, _as_float_array(name, answer, case))
        outcomes.append(outcome)
        actual = outcome.answer
        for source, want in expected:
            if actual.shape != want.shape:
                outcome.problem = judge.wrong_shape(
                    name, case.describe(name), want.shape, actual.shape,
                    f"wrong shape: expected {want.shape}, got {actual.shape}.\n"
                    f"  The {what} is {formula(case)}.")
                break
            difference = first_difference(want, actual)
            if difference is not None:
                index, wanted, got, count = difference
                where = index[0] if len(index) == 1 else index
                # Of an (N, C, H, W) answer, show the one (H, W) map where it first goes wrong.
                lead = index[:-2]
                label = f"[{', '.join(str(v) for v in lead)}]" if lead else ""
                outcome.picture = (want[lead], actual[lead], f"{name}: expected vs. yours{label}")
                outcome.problem = CheckVerdict(
                    name, case.describe(name), "wrong value",
                    f"wrong value at index {where}{_named(axes or AXES.get(len(index)))}: "
                    f"expected {wanted:.6g}, got {got:.6g} ({count} of {want.size} values differ from "
                    f"{source}).\n"
                    f"{_side_by_side(want[lead], actual[lead], label)}",
                    expected=f"{wanted:.6g} at {where}", actual=f"{got:.6g}")
                break
    conclude(name, cases, [source for source, _ in sources], outcomes, known, same_array,
             picture)


AXES = {2: "(row, column)", 4: "(batch, channel, row, column)"}


def _named(axes: str | None) -> str:
    return f" {axes}" if axes else ""


def _side_by_side(expected: np.ndarray, actual: np.ndarray, label: str = "") -> str:
    """'expected: ...' above 'yours: ...'; the rows of a 2-D array line up under each other."""
    lines = []
    for title, values in ((f"expected{label}: ", expected), (f"yours{label}:    ", actual)):
        text = _format(values)
        if values.ndim >= 2:
            text = text.replace("\n", "\n" + " " * (len(title) + 2))
        lines.append(f"  {title}{text}")
    return "\n".join(lines)


def compare_ints(name, fn, cases, sources, formula, known, shortcuts=None) -> None:
    __tracebackhide__ = True  # the checks' own frames are no help to a learner
    sources = oracles(sources)
    outcomes = []
    for case in cases:
        got = run_case(name, fn, case, shortcuts)
        answer, error = got.value, got.error
        if error is not None:
            outcomes.append(Outcome(case.args, error=error, problem=judge.crash_verdict(
                name, case.describe(name), error, hint_for(error))))
            continue
        outcome = Outcome(case.args, answer)
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
    conclude(name, cases, [source for source, _ in sources], outcomes, known, _same_number)


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


def show_comparison(expected: np.ndarray, actual: np.ndarray, title: str) -> None:
    """Draw expected / yours / difference under the failing cell (and in graded feedback)."""
    from . import plots  # matplotlib is loaded only when a picture is needed

    plots.display(plots.comparison_figure(expected, actual, title))
