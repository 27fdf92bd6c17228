"""The record every exercise's test cases are made of (``Case``), and what the cases modules of
several chapters share: the article's 2D example (chapters 03 and 04) and the seeded draw of a
number or a pair. Kept apart from ``cases`` so that ``layer_cases`` (chapter 04's) can use them
while ``cases`` hands chapter 04's cases out as ``cases.<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Case:
    """One call of an exercise's function: its positional arguments, their names (for messages),
    a note saying what the case is there to test, and any keyword arguments."""
    args: tuple
    names: tuple
    note: str = ""
    kwargs: dict = field(default_factory=dict)

    def call(self, fn):
        return fn(*self.args, **self.kwargs)

    def describe(self, function_name: str) -> str:
        shown = [f"{name}={_show(value)}" for name, value in zip(self.names, self.args)]
        shown += [f"{name}={_show(value)}" for name, value in self.kwargs.items()]
        text = f"{function_name}({', '.join(shown)})"
        return f"{text}  [{self.note}]" if self.note else text

    def value(self, name):
        return dict(zip(self.names, self.args), **self.kwargs)[name]


def _show(value) -> str:
    if isinstance(value, np.ndarray) and (value.ndim > 2 or (value.ndim == 2 and value.size > 36)):
        return f"<{value.dtype} array of shape {value.shape}>"  # too big to read in a message
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return " ".join(_show(row) for row in value).join("[]").replace("] [", "], [")
    if isinstance(value, np.ndarray):
        text = np.array2string(value, separator=", ", threshold=12, edgeitems=4,
                               max_line_width=10_000,
                               formatter={"float_kind": lambda v: f"{v:.4g}"})
        return text
    return repr(value)


# --- shared by chapters 03 and 04 ---------------------------------------------------------------

SEED_X_2D = [[1.0, 2.0], [3.0, 4.0]]
SEED_W_2D = [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]]


def draw_pair(rng, low, high, pairs):
    """One number drawn from low..high (both included), or a pair of them when ``pairs``."""
    first = int(rng.integers(low, high + 1))
    return (first, int(rng.integers(low, high + 1))) if pairs else first
