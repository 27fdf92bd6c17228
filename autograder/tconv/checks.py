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

The comparison itself (values, shapes, the first difference, the named mistake) is in
``comparing``; calling the learner's code and the verdict record in ``judge``.
"""

from __future__ import annotations

from . import exercises, guard, judge
from .comparing import compare_arrays, compare_ints, hint_for
from .judge import CheckFailed, CheckVerdict  # noqa: F401 (the notebooks' and grader's names)

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
    except Exception as error:  # noqa: BLE001 - shown, not raised: the checks below run anyway
        print(f"{name} raised {type(error).__name__}: {error}\n{hint_for(error)}"
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


# --- the checks, made from the registry ----------------------------------------------------------

def _made(exercise: exercises.Exercise):
    """The check of an exercise declared with ``compare`` "arrays" or "ints"."""
    sources = [source for source, _ in exercise.twins]
    if exercise.compare == "arrays":
        def check(fn, cases, picture=True, *, shortcuts: guard.Guard | None = None) -> None:
            __tracebackhide__ = True
            compare_arrays(exercise.learner, fn, cases, exercise.twins, exercise.formula,
                          exercise.mistakes, picture, exercise.what, shortcuts, exercise.axes)
    else:
        def check(fn, cases, *, shortcuts: guard.Guard | None = None) -> None:
            __tracebackhide__ = True
            compare_ints(exercise.learner, fn, cases, exercise.twins, exercise.formula,
                        exercise.mistakes, shortcuts)
    check.__name__ = check.__qualname__ = exercise.check
    check.__doc__ = (f"{exercise.doc}\n\nCompared with {' and '.join(sources)}; chapter "
                     f"{exercise.chapter}. Made from ``exercises.BY_CHECK[{exercise.check!r}]``.")
    return judge.published(check)


for _exercise in exercises.EXERCISES:
    if _exercise.compare != "by hand":
        globals()[_exercise.check] = _made(_exercise)

# The checks written by hand, imported after the machinery above (their modules import it); the
# import is spelled out so that the learners' copy (tconv.grader.publish) sees which modules it needs.
from . import unet_checks  # noqa: E402

_BY_HAND = {"unet_checks": unet_checks}
for _exercise in exercises.EXERCISES:
    if _exercise.compare == "by hand":
        globals()[_exercise.check] = getattr(_BY_HAND[_exercise.module], _exercise.check)
del _exercise
