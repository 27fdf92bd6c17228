"""Learner-facing checks: run an exercise function on cases and explain what is wrong.

A check calls the learner's function on every case, converts each answer to a plain float array
(or int), and compares it with the reference implementation and with PyTorch. If any case fails,
it raises ``CheckFailed`` (an ``AssertionError``) whose message says what is wrong with the first
failing case and where: the call, expected and actual shapes with the formula for the right one,
the first differing position with both values, how many cases fail, and, when the answers equal
what a known mistake produces on every case, the mistake's name and how to fix it. A check that
passes prints one line saying what it checked. ``try_it`` runs a learner's function in a *try it*
cell and prints an error instead of raising it, so that *Run All* reaches the checks.

Values are compared in plain Python on copies of the numbers, so nothing the answer object does
(an ``ndarray`` subclass, a lying ``__eq__``) changes the verdict. Tolerances suit float32.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

from . import guard, mistakes, pytorch, reference
from .cases import Case

RELATIVE_TOLERANCE = 1e-4  # float32 keeps about 7 significant digits; sums of a few terms lose some
ABSOLUTE_TOLERANCE = 1e-5  # scaled by the largest expected magnitude (at least 1)


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message says what and where."""


# --- chapter 01 --------------------------------------------------------------------------------

def _length_formula_1d(case: Case) -> str:
    length, kernel, stride = len(case.value("x")), len(case.value("w")), case.value("stride")
    return (f"(L - 1)*stride + K = ({length} - 1)*{stride} + {kernel} = "
            f"{(length - 1) * stride + kernel}")


def check_conv_transpose1d(fn, cases, picture=True) -> None:
    """Check ``conv_transpose1d(x, w, stride)`` against the reference and PyTorch on ``cases``."""
    _check_arrays("conv_transpose1d", fn, cases,
                  [("the reference implementation", reference.conv_transpose1d),
                   ("PyTorch's conv_transpose1d", pytorch.conv_transpose1d)],
                  _length_formula_1d, mistakes.CONV_TRANSPOSE1D, picture)


# --- chapter 02 --------------------------------------------------------------------------------

def _conv_size_formula(case: Case) -> str:
    i, k, s, p, d = case.args
    return (f"floor((i + 2p - d(k - 1) - 1) / s) + 1 = "
            f"floor(({i} + 2*{p} - {d}*({k} - 1) - 1) / {s}) + 1 = "
            f"{reference.conv_output_size(*case.args)}")


def _transpose_size_formula(case: Case) -> str:
    i, k, s, p, d, op = case.args
    return (f"(i - 1)s - 2p + d(k - 1) + output_padding + 1 = "
            f"({i} - 1)*{s} - 2*{p} + {d}*({k} - 1) + {op} + 1 = "
            f"{reference.conv_transpose_output_size(*case.args)}")


def check_conv_output_size(fn, cases) -> None:
    """Check ``conv_output_size(i, k, stride, padding, dilation)`` on ``cases``."""
    _check_ints("conv_output_size", fn, cases,
                [("the reference implementation", reference.conv_output_size),
                 ("the length of PyTorch's conv1d output", pytorch.conv_output_size)],
                _conv_size_formula, mistakes.CONV_OUTPUT_SIZE)


def check_conv_transpose_output_size(fn, cases) -> None:
    """Check ``conv_transpose_output_size(i, k, stride, padding, dilation, output_padding)``."""
    _check_ints("conv_transpose_output_size", fn, cases,
                [("the reference implementation", reference.conv_transpose_output_size),
                 ("the length of PyTorch's conv_transpose1d output",
                  pytorch.conv_transpose_output_size)],
                _transpose_size_formula, mistakes.CONV_TRANSPOSE_OUTPUT_SIZE)


# --- the machinery -----------------------------------------------------------------------------
# A check runs the learner's function on EVERY case before it judges: the message shows the first
# failing case, and a known mistake is named only when it reproduces every case (the failing ones
# and the passing ones), so a slip that happens to coincide with a mistake on one case is not
# given that mistake's name.

@dataclass
class _Outcome:
    """One case: the arguments, the learner's answer or the exception it raised, and what is wrong
    with it (``problem`` is None when the case passed)."""
    args: tuple
    answer: object = None
    error: Exception | None = None
    problem: str | None = None
    picture: tuple | None = None  # (expected, actual, title) to draw if this case is shown


def _run(name: str, fn, case):
    """``(answer, None)``, or ``(None, error)`` when the learner's code raised ``error``. A name
    that is not a function, a stub, or a shortcut stops the check at once (``CheckFailed``)."""
    if not callable(fn):
        raise CheckFailed(f"{name} is not a function (it is a {type(fn).__name__}): "
                          f"run the cell that defines it, and do not reuse the name.")
    try:
        with guard.watch() as shortcuts:
            answer = case.call(fn)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise CheckFailed(f"{name} is not written yet: replace `raise NotImplementedError()` "
                          f"in its cell with your code and run that cell again.") from None
    except Exception as error:  # the learner's bug: judged with the other cases
        return None, error
    if shortcuts:
        raise CheckFailed(shortcut_message(case.describe(name), shortcuts[0]))
    return answer, None


def _crash(call: str, error: Exception, hint: str = "") -> str:
    return (f"{call}\n  raised {type(error).__name__}: {error}\n"
            f"  {hint}Run this call yourself to see the full traceback.")


def shortcut_message(call: str, shortcut: str) -> str:
    """What a learner reads when their answer called a ready-made transposed convolution."""
    return (f"{call}\n  calls {shortcut}. This exercise asks you to write it yourself, so an "
            f"answer that calls a ready-made one earns no credit: replace that call with your "
            f"own code.")


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
        raise CheckFailed(f"{case.describe(name)}\n  returned None: did you forget to `return` "
                          f"the output array?")
    try:
        # np.array(..., dtype=float64) copies into a plain ndarray: subclasses and lazy objects
        # are reduced to their numbers before anything is compared.
        return np.array(answer, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{case.describe(name)}\n  returned a {type(answer).__name__} that is "
                          f"not an array of numbers ({error}). Return a numpy array.") from None


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


def _diagnosis(found: list, outcomes: list, same) -> str:
    named = [f"{mistake.name}: {mistake.explanation}" for mistake in found
             if _explains(mistake, outcomes, same)]
    if len(named) == 1:
        return f"\n  This looks like a known mistake, {named[0]}"
    if named:
        return ("\n  On every case here, your answers are what each of these known mistakes "
                "produces:" + "".join(f"\n  - {text}" for text in named))
    return ""


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
    count = (f"\n  {len(failed)} of {len(outcomes)} cases fail; this is the first."
             if len(outcomes) > 1 else "")
    raise CheckFailed(first.problem + count + _diagnosis(known, outcomes, same))


def _format(array: np.ndarray) -> str:
    return np.array2string(array, separator=", ", threshold=40, edgeitems=6, max_line_width=100,
                           formatter={"float_kind": lambda v: f"{v:.5g}"})


def _check_arrays(name, fn, cases, sources, formula, known, picture,
                  what="output length") -> None:
    """``formula(case)`` explains the right shape; ``what`` names it ("output length", ...)."""
    outcomes = []
    for case in cases:
        answer, error = _run(name, fn, case)
        expected = [(source, np.asarray(compute(*case.args), dtype=np.float64))
                    for source, compute in sources]
        if error is not None:
            hint = _hint_for(error, _arrays_in(case, expected[0][1].shape))
            outcomes.append(_Outcome(case.args, error=error,
                                     problem=_crash(case.describe(name), error, hint)))
            continue
        outcome = _Outcome(case.args, _as_float_array(name, answer, case))
        outcomes.append(outcome)
        actual = outcome.answer
        for source, want in expected:
            if actual.shape != want.shape:
                outcome.problem = (f"{case.describe(name)}\n"
                                   f"  wrong shape: expected {want.shape}, got {actual.shape}.\n"
                                   f"  The {what} is {formula(case)}.")
                break
            difference = _first_difference(want, actual)
            if difference is not None:
                index, wanted, got, count = difference
                where = index[0] if len(index) == 1 else index
                # Of an (N, C, H, W) answer, show the one (H, W) map where it first goes wrong.
                lead = index[:-2]
                label = f"[{', '.join(str(v) for v in lead)}]" if lead else ""
                outcome.picture = (want[lead], actual[lead], f"{name}: expected vs. yours{label}")
                outcome.problem = (
                    f"{case.describe(name)}\n"
                    f"  wrong value at index {where}{_AXES.get(len(index), '')}: expected "
                    f"{wanted:.6g}, got {got:.6g} ({count} of {want.size} values differ from "
                    f"{source}).\n"
                    f"{_side_by_side(want[lead], actual[lead], label)}")
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


def _check_ints(name, fn, cases, sources, formula, known) -> None:
    outcomes = []
    for case in cases:
        answer, error = _run(name, fn, case)
        if error is not None:
            outcomes.append(_Outcome(case.args, error=error,
                                     problem=_crash(case.describe(name), error, _hint_for(error))))
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
                outcome.problem = (
                    f"{case.describe(name)}\n  returned {answer!r}, a {type(answer).__name__}: "
                    f"the value is right but a size must be an int. This looks like true division "
                    f"instead of floor division: use // rather than /, or convert with int().")
            else:
                outcome.problem = (f"{case.describe(name)}\n  expected {expected} ({source}), got "
                                   f"{answer!r}.\n  {formula(case)}")
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


# --- chapter 03 --------------------------------------------------------------------------------

def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _shape_formula_2d(case: Case) -> str:
    (height, width), (k_h, k_w) = np.shape(case.value("x")), np.shape(case.value("w"))
    (s_h, s_w), (p_h, p_w) = _pair(case.value("stride")), _pair(case.value("padding"))
    size = reference.conv_transpose_output_size
    return (f"((H - 1)*stride_h + kH - 2*padding_h, (W - 1)*stride_w + kW - 2*padding_w) = "
            f"(({height} - 1)*{s_h} + {k_h} - 2*{p_h}, ({width} - 1)*{s_w} + {k_w} - 2*{p_w}) = "
            f"{(size(height, k_h, s_h, p_h), size(width, k_w, s_w, p_w))}; "
            f"before the crop the full output is "
            f"{(size(height, k_h, s_h, 0), size(width, k_w, s_w, 0))}")


def check_conv_transpose2d(fn, cases, picture=True) -> None:
    """Check ``conv_transpose2d(x, w, stride, padding)`` against the reference and PyTorch."""
    _check_arrays("conv_transpose2d", fn, cases,
                  [("the reference implementation", reference.conv_transpose2d),
                   ("PyTorch's conv_transpose2d", pytorch.conv_transpose2d)],
                  _shape_formula_2d, mistakes.CONV_TRANSPOSE2D, picture, what="output shape")


# --- chapter 04 --------------------------------------------------------------------------------

def _shape_formula_nchw(case: Case) -> str:
    batch, _, height, width = np.shape(case.value("x"))
    _, per_group, k_h, k_w = np.shape(case.value("weight"))
    groups = case.value("groups")
    s, p = _pair(case.value("stride")), _pair(case.value("padding"))
    op, d = _pair(case.value("output_padding")), _pair(case.value("dilation"))
    sizes = []
    for axis, (length, k, name) in enumerate([(height, k_h, "H"), (width, k_w, "W")]):
        size = reference.conv_transpose_output_size(length, k, s[axis], p[axis], d[axis], op[axis])
        sizes.append(f"{name}_out = ({name} - 1)*stride - 2*padding + dilation*(k - 1) + "
                     f"output_padding + 1 = ({length} - 1)*{s[axis]} - 2*{p[axis]} + "
                     f"{d[axis]}*({k} - 1) + {op[axis]} + 1 = {size}")
    return (f"(N, C_out, H_out, W_out) with N = {batch}, C_out = weight.shape[1] * groups = "
            f"{per_group}*{groups} = {per_group * groups},\n  " + ",\n  ".join(sizes))


def check_conv_transpose2d_nchw(fn, cases, picture=True) -> None:
    """Check ``conv_transpose2d_nchw(x, weight, bias, stride, padding, output_padding, groups,
    dilation)`` against the reference and ``torch.nn.functional.conv_transpose2d``."""
    _check_arrays("conv_transpose2d_nchw", fn, cases,
                  [("the reference implementation", reference.conv_transpose2d_nchw),
                   ("torch.nn.functional.conv_transpose2d", pytorch.conv_transpose2d_nchw)],
                  _shape_formula_nchw, mistakes.CONV_TRANSPOSE2D_NCHW, picture,
                  what="output shape")


# --- chapter 05 --------------------------------------------------------------------------------

def _shape_formula_matrix(case: Case) -> str:
    n, kernel, stride = case.value("n"), len(case.value("w")), case.value("stride")
    return (f"(m, n) with m = floor((n - K) / stride) + 1 = floor(({n} - {kernel}) / {stride}) + 1 "
            f"= {(n - kernel) // stride + 1}, the direct convolution's output length")


def check_conv1d_matrix(fn, cases, picture=True) -> None:
    """Check ``conv1d_matrix(n, w, stride)`` against the reference and PyTorch's conv1d."""
    _check_arrays("conv1d_matrix", fn, cases,
                  [("the reference implementation", reference.conv1d_matrix),
                   ("the matrix of PyTorch's conv1d", pytorch.conv1d_matrix)],
                  _shape_formula_matrix, mistakes.CONV1D_MATRIX, picture, what="matrix's shape")


def check_conv_transpose2d_by_zero_insertion(fn, cases, picture=True) -> None:
    """Check ``conv_transpose2d_by_zero_insertion(x, w, stride, padding)``: it must give chapter
    03's scatter-add result (and PyTorch's)."""
    _check_arrays("conv_transpose2d_by_zero_insertion", fn, cases,
                  [("the scatter-add reference", reference.conv_transpose2d),
                   ("PyTorch's conv_transpose2d", pytorch.conv_transpose2d)],
                  _shape_formula_2d, mistakes.CONV_TRANSPOSE2D_BY_ZERO_INSERTION, picture,
                  what="output shape")


# --- chapter 06 --------------------------------------------------------------------------------
# torch and the chapter's reference are imported inside the functions: the other chapters' notebooks
# must not pay for them.

def _answer_shortcut(shortcuts: list, what: str) -> None:
    """A learner's code that entered the course's answers (``tconv.unet_reference``) earns no
    credit. PyTorch's own layers are not shortcuts here: a DecoderBlock is made of them."""
    taken = [found for found in shortcuts if found.startswith("the course's answer")]
    if taken:
        raise CheckFailed(f"{what}\n  calls {taken[0]}. Write it yourself: an answer that calls "
                          f"the course's own solution earns no credit.")


def _attempt(what: str, fn, *args):
    """Run the learner's code: ``(answer, None)`` or ``(None, error)``. A stub or a call into the
    course's answers stops the check at once (CheckFailed)."""
    try:
        with guard.watch() as shortcuts:
            answer = fn(*args)
    except CheckFailed:
        raise
    except NotImplementedError:
        raise CheckFailed(f"{what}: not written yet (it raised NotImplementedError): replace "
                          f"`raise NotImplementedError()` with your code and run its cell again."
                          ) from None
    except Exception as error:  # the learner's bug, reported as feedback
        return None, error
    _answer_shortcut(shortcuts, what)
    return answer, None


def _learner_call(what: str, fn, *args):
    """Run the learner's code; a NotImplementedError or a crash becomes a CheckFailed."""
    answer, error = _attempt(what, fn, *args)
    if error is not None:
        raise CheckFailed(_crash(what, error))
    return answer


def _tensor_as_array(what: str, answer, kind="tensor") -> np.ndarray:
    import torch

    if answer is None:
        raise CheckFailed(f"{what}\n  returned None: did you forget to `return` the result?")
    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(f"{what}\n  returned a {type(answer).__name__}; for a torch {kind} "
                          f"input it must return a torch tensor (slicing a tensor keeps it one).")
    return np.array(answer.detach().cpu().numpy(), dtype=np.float64)  # a plain copy


def check_center_crop(fn, crop_cases) -> None:
    """Check ``center_crop(x, height, width)`` on tensors, value by value, against the reference."""
    import torch

    from . import unet_reference

    outcomes = []
    for case in crop_cases:
        x = case.input()
        answer, error = _attempt(case.describe(), fn, torch.from_numpy(x.copy()), case.height,
                                 case.width)
        if error is not None:
            outcomes.append(_Outcome(case.args, error=error, problem=_crash(case.describe(), error)))
            continue
        outcome = _Outcome(case.args, _tensor_as_array(case.describe(), answer))
        outcomes.append(outcome)
        actual = outcome.answer
        expected = np.asarray(unet_reference.center_crop(x, case.height, case.width), np.float64)
        n, c, full_height, full_width = case.shape
        top, left = (full_height - case.height) // 2, (full_width - case.width) // 2
        where = (f"The window starts at row top = (H - height) // 2 = ({full_height} - "
                 f"{case.height}) // 2 = {top} and column left = (W - width) // 2 = "
                 f"({full_width} - {case.width}) // 2 = {left}.")
        if actual.shape != expected.shape:
            outcome.problem = (f"{case.describe()}\n  wrong shape: expected {expected.shape} = "
                               f"(N, C, height, width), got {actual.shape}. Crop the last two "
                               f"axes only: x[:, :, top:top + height, left:left + width].\n  "
                               f"{where}")
        elif _first_difference(expected, actual) is not None:
            first = actual.flat[0]
            located = ""
            if first == int(first) and 0 <= first < x.size:  # x.flat[k] = k: find the corner
                _, _, row, column = np.unravel_index(int(first), case.shape)
                located = (f"  Your window's top-left value is x[0, 0, {row}, {column}]; "
                           f"the centered window's is x[0, 0, {top}, {left}].\n")
            outcome.problem = (f"{case.describe()}\n  right shape {expected.shape}, wrong values "
                               f"(x is numbered: x.flat[k] = k).\n{located}  {where}")
    _verdict("center_crop", crop_cases, ["the reference center crop"], outcomes,
             mistakes.CENTER_CROP, _same_array)


def check_center_crop_rejects_larger(fn, crop_cases) -> None:
    """Check that ``center_crop`` raises ``ValueError`` when the window does not fit."""
    import torch

    for case in crop_cases:
        try:
            answer = fn(torch.from_numpy(case.input()), case.height, case.width)
        except NotImplementedError:
            raise CheckFailed("center_crop is not written yet: replace `raise "
                              "NotImplementedError()` with your code and run its cell again."
                              ) from None
        except ValueError:
            continue
        except Exception as error:
            raise CheckFailed(f"{case.describe()}\n  raised {type(error).__name__}: {error}\n"
                              f"  A window larger than the input must raise ValueError (with a "
                              f"message saying which size is too large), not "
                              f"{type(error).__name__}.") from None
        shape = tuple(answer.shape) if hasattr(answer, "shape") else type(answer).__name__
        raise CheckFailed(f"{case.describe()}\n  returned {shape} instead of raising ValueError. "
                          f"Slicing past the end silently returns a smaller window, so check "
                          f"first: if height > H or width > W, raise ValueError(...) naming the "
                          f"size that is too large.")
    print(f"✓ center_crop: raises ValueError for {len(crop_cases)} window"
          f"{'s' if len(crop_cases) != 1 else ''} larger than the input.")


def _decoder_parts(in_channels: int, out_channels: int) -> dict:
    """What the checks expect of each submodule: its class name, settings, and how to write it."""
    return {
        "up": ("ConvTranspose2d",
               dict(in_channels=in_channels, out_channels=in_channels // 2, kernel_size=(2, 2),
                    stride=(2, 2), padding=(0, 0)),
               "nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)"),
        "conv1": ("Conv2d",
                  dict(in_channels=in_channels, out_channels=out_channels, kernel_size=(3, 3),
                       stride=(1, 1), padding=(0, 0)),
                  "nn.Conv2d(in_channels, out_channels, kernel_size=3)"),
        "conv2": ("Conv2d",
                  dict(in_channels=out_channels, out_channels=out_channels, kernel_size=(3, 3),
                       stride=(1, 1), padding=(0, 0)),
                  "nn.Conv2d(out_channels, out_channels, kernel_size=3)"),
    }


def _build_decoder_block(block_class, in_channels: int, out_channels: int):
    """The learner's block, built, with the reference structure checked; a CheckFailed if not."""
    import torch

    from . import unet_reference

    what = f"DecoderBlock({in_channels}, {out_channels})"
    if not isinstance(block_class, type):
        raise CheckFailed(f"DecoderBlock is a {type(block_class).__name__}, not a class: run the "
                          f"cell that defines `class DecoderBlock(nn.Module)`.")
    block = _learner_call(what, block_class, in_channels, out_channels)
    if not isinstance(block, torch.nn.Module):
        raise CheckFailed(f"{what} is a {type(block).__name__}: DecoderBlock must subclass "
                          f"torch.nn.Module (class DecoderBlock(nn.Module)) and call "
                          f"super().__init__() first.")
    parts = _decoder_parts(in_channels, out_channels)
    children = dict(block.named_children())
    listing = "\n".join(f"    self.{name} = {code}" for name, (_, _, code) in parts.items())
    missing = [name for name in parts if name not in children]
    if missing:
        found = ", ".join(f"{name} ({type(module).__name__})" for name, module in children.items())
        raise CheckFailed(
            f"{what} has no submodule named {' or '.join(missing)}. The checks give your block a "
            f"reference block's weights, so its submodules must have exactly these names:\n"
            f"{listing}\n  Your block's submodules are: {found or 'none'}.")
    for name, (kind, settings, code) in parts.items():
        module = children[name]
        if type(module).__name__ != kind:
            raise CheckFailed(f"{what}: self.{name} is a {type(module).__name__}; it must be "
                              f"{code}.")
        for setting, wanted in settings.items():
            got = getattr(module, setting)
            if tuple(np.atleast_1d(got)) != tuple(np.atleast_1d(wanted)):
                why = (" U-Net's 3x3 convolutions are unpadded: each one makes the map 2 pixels "
                       "smaller, which is why the skip map must be cropped."
                       if setting == "padding" else "")
                raise CheckFailed(f"{what}: self.{name} has {setting}={got}, expected {wanted}: "
                                  f"it must be {code}.{why}")
    wanted = unet_reference.DecoderBlock(in_channels, out_channels).state_dict()
    have = block.state_dict()
    extra, lacking = sorted(set(have) - set(wanted)), sorted(set(wanted) - set(have))
    if extra or lacking:
        raise CheckFailed(
            f"{what}'s parameters are {sorted(have)}, expected {sorted(wanted)}"
            + (f" (missing: {lacking}: keep the default bias=True)" if lacking else "")
            + (f" (extra: {extra}: the block has only up, conv1 and conv2)" if extra else "")
            + ".")
    return block


def check_decoder_block_submodules(block_class, sizes=((8, 4), (6, 5))) -> None:
    """Check that ``DecoderBlock(in, out)`` has ``up``, ``conv1`` and ``conv2`` as the paper's."""
    for in_channels, out_channels in sizes:
        _build_decoder_block(block_class, in_channels, out_channels)
    print(f"✓ DecoderBlock: up, conv1 and conv2 are as U-Net's for "
          f"{', '.join(f'DecoderBlock{size}' for size in sizes)}.")


def _run_decoder_block(block, case, x, skip):
    """The learner's forward pass on copies of the inputs: ``(answer, None)`` or ``(None, error)``."""
    import torch

    with torch.no_grad():
        try:
            with guard.watch() as shortcuts:
                answer = block(x.clone(), skip.clone())
        except CheckFailed:
            raise
        except NotImplementedError:
            raise CheckFailed(f"{case.describe()}\n  raised NotImplementedError: forward, or the "
                              f"center_crop it calls, is not written yet.") from None
        except Exception as error:  # judged with the other cases; a known mistake may crash so
            return None, error
    _answer_shortcut(shortcuts, case.describe())
    return answer, None


def _same_tensor(produced, answer) -> bool:
    return _equal_arrays(np.asarray(produced.detach(), np.float64), answer)


def check_decoder_block(block_class, block_cases, picture=True) -> None:
    """Give the learner's block a reference block's weights; compare the outputs value by value."""
    import torch

    outcomes = []
    for case in block_cases:
        reference_block = case.reference_block()
        block = _build_decoder_block(block_class, case.in_channels, case.out_channels)
        block.load_state_dict(reference_block.state_dict())
        block.eval()
        x, skip = case.inputs()
        with torch.no_grad():
            expected = reference_block(x, skip).numpy().astype(np.float64)
        answer, error = _run_decoder_block(block, case, x, skip)
        args = (reference_block, x, skip)
        if error is not None:
            outcomes.append(_Outcome(args, error=error, problem=(
                f"{case.describe()}\n  forward(x, skip) raised {type(error).__name__}: {error}")))
            continue
        outcome = _Outcome(args, _tensor_as_array(case.describe(), answer))
        outcomes.append(outcome)
        actual = outcome.answer
        h, w = case.x_shape[2:]
        formula = (f"(N, out_channels, 2h - 4, 2w - 4) = ({case.x_shape[0]}, {case.out_channels}, "
                   f"2*{h} - 4, 2*{w} - 4): the up-convolution doubles, each 3x3 convolution "
                   f"takes 2 away")
        if actual.shape != expected.shape:
            outcome.problem = (f"{case.describe()}\n  wrong output shape: expected "
                               f"{expected.shape}, got {actual.shape}.\n  {formula}.")
            continue
        difference = _first_difference(expected, actual)
        if difference is not None:
            index, want, got, count = difference
            outcome.picture = (expected, actual, "DecoderBlock output, first map: expected vs. yours")
            outcome.problem = (
                f"{case.describe()}\n  right shape, wrong values (your block was given the same "
                f"weights as the reference block): at index {index} expected {want:.6g}, got "
                f"{got:.6g} ({count} of {expected.size} values differ).")
    with torch.no_grad():
        _verdict("DecoderBlock", block_cases, ["the reference block given the same weights"],
                 outcomes, mistakes.DECODER_BLOCK, _same_tensor, picture)


def check_decoder_block_paper_sizes(block_class, steps) -> None:
    """Run the block at the paper's four expanding steps; compare output shapes with the table."""
    import torch

    outcomes, cases = [], [case for case, _ in steps]
    for case, wanted in steps:
        block = _build_decoder_block(block_class, case.in_channels, case.out_channels)
        x, skip = case.inputs()
        args = (case.reference_block(), x, skip)
        answer, error = _run_decoder_block(block, case, x, skip)
        if error is not None:
            outcomes.append(_Outcome(args, error=error, problem=(
                f"{case.describe()}\n  forward(x, skip) raised {type(error).__name__}: {error}")))
            continue
        if not isinstance(answer, torch.Tensor):
            _tensor_as_array(case.describe(), answer)
        outcome = _Outcome(args, tuple(answer.shape))
        outcomes.append(outcome)
        if tuple(answer.shape) != tuple(wanted):
            outcome.problem = (
                f"{case.describe()}\n  output shape {tuple(answer.shape)}, but the paper's size "
                f"table says {wanted}: up-convolution {case.x_shape[2]} -> {2 * case.x_shape[2]}, "
                f"crop the skip map to that, then two unpadded 3x3 convolutions -> "
                f"{2 * case.x_shape[2] - 4}.")
    with torch.no_grad():
        _verdict("DecoderBlock", cases, [], outcomes, mistakes.DECODER_BLOCK,
                 lambda produced, shape: tuple(produced.shape) == shape, passed=(
                     f"✓ DecoderBlock: {len(steps)} of the paper's expanding steps give the "
                     f"table's sizes ({', '.join(f'{case.x_shape[2]} -> {wanted[2]}' for case, wanted in steps)})."))


def check_scatter_add_function(function_class, strides=(1, 2)) -> None:
    """Optional exercise of chapter 06: a ``torch.autograd.Function`` whose forward runs the
    learner's numpy scatter-add and whose backward is the adjoint. Forward values and both
    gradients are compared with PyTorch's ``conv_transpose2d``; then ``torch.autograd.gradcheck``."""
    import torch
    import torch.nn.functional as F

    if not (isinstance(function_class, type) and issubclass(function_class, torch.autograd.Function)):
        raise CheckFailed(f"{function_class!r} is not a torch.autograd.Function subclass: run the "
                          f"cell that defines it.")
    generator = torch.Generator().manual_seed(6)
    for stride in strides:
        x = torch.randn(2, 2, 3, 4, dtype=torch.float64, generator=generator, requires_grad=True)
        weight = torch.randn(2, 3, 3, 2, dtype=torch.float64, generator=generator,
                             requires_grad=True)
        what = (f"{function_class.__name__}.apply(x of shape {tuple(x.shape)}, weight of shape "
                f"{tuple(weight.shape)}, stride={stride})")
        try:
            with guard.watch() as shortcuts:
                out = function_class.apply(x, weight, stride)
        except NotImplementedError:
            raise CheckFailed(f"{what}: not written yet (it raised NotImplementedError): write "
                              f"forward and backward, and paste your chapter 04 function.") from None
        except Exception as error:  # the learner's bug, reported as feedback
            raise CheckFailed(f"{what}\n  raised {type(error).__name__}: {error}") from None
        _answer_shortcut(shortcuts, what)
        taken = [found for found in shortcuts if "conv_transpose" in found]
        if taken:
            raise CheckFailed(f"{what}\n  calls {taken[0]} in the forward pass: the point is to "
                              f"run YOUR scatter-add there (conv_transpose2d_nchw, in numpy).")
        expected = F.conv_transpose2d(x, weight, stride=stride)
        actual = _tensor_as_array(what, out)
        if actual.shape != tuple(expected.shape):
            raise CheckFailed(f"{what}\n  forward: expected shape {tuple(expected.shape)}, got "
                              f"{actual.shape}.")
        difference = _first_difference(expected.detach().numpy(), actual)
        if difference is not None:
            raise CheckFailed(f"{what}\n  forward: at index {difference[0]} expected "
                              f"{difference[1]:.6g}, got {difference[2]:.6g}: check your "
                              f"conv_transpose2d_nchw (chapter 04).")
        if not out.requires_grad:
            raise CheckFailed(f"{what}\n  the output does not require a gradient: call the "
                              f"Function through .apply(...), and return a tensor from forward.")
        upstream = torch.randn(expected.shape, dtype=torch.float64, generator=generator)
        want = torch.autograd.grad(expected, (x, weight), upstream)
        got = _learner_call(f"{what}: the backward pass", lambda: torch.autograd.grad(
            out, (x, weight), upstream, allow_unused=True))
        for name, w, g, formula in [
                ("x", want[0], got[0], "the direct convolution F.conv2d(grad_output, weight, "
                                       "stride=stride): the adjoint of the transposed one"),
                ("weight", want[1], got[1], "for every kernel tap (a, b), the sum over the batch "
                                            "and the positions of x times the grad_output value "
                                            "that tap reached")]:
            if g is None:
                raise CheckFailed(f"{what}\n  backward returned None for {name}'s gradient: "
                                  f"return it as {formula}.")
            have = np.array(g.detach().numpy(), np.float64)
            if have.shape != tuple(w.shape):
                raise CheckFailed(f"{what}\n  the gradient for {name} has shape {have.shape}, "
                                  f"expected {tuple(w.shape)} ({name}'s own shape).")
            difference = _first_difference(w.numpy(), have)
            if difference is not None:
                raise CheckFailed(f"{what}\n  the gradient for {name} differs from PyTorch's at "
                                  f"index {difference[0]}: expected {difference[1]:.6g}, got "
                                  f"{difference[2]:.6g}. It is {formula}.")
        passed = torch.autograd.gradcheck(lambda a, b: function_class.apply(a, b, stride),
                                          (x, weight), raise_exception=False)
        if not passed:
            raise CheckFailed(f"{what}\n  torch.autograd.gradcheck disagrees with your backward "
                              f"(its finite differences give other gradients).")
    print(f"✓ {function_class.__name__}: forward matches F.conv_transpose2d, backward matches its "
          f"gradients, and torch.autograd.gradcheck passes (strides {', '.join(map(str, strides))}).")


from .checkerboard import check_conv_transpose1d_polyphase, check_overlap_counts_1d, check_phase_sums, check_pixel_shuffle  # noqa: E402,F401 (chapter 07)
