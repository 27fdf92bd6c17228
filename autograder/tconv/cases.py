"""Test cases for the exercises: the article's examples, edge cases and seeded random ones.

A ``Case`` holds the positional arguments of one call to an exercise function, their names (for
messages) and a note saying what the case is there to test. Random cases come from a seeded
generator, so a grade never depends on luck and a learner can re-run a failing case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import reference


@dataclass(frozen=True)
class Case:
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
    if isinstance(value, np.ndarray):
        text = np.array2string(value, separator=", ", threshold=12, edgeitems=4,
                               max_line_width=10_000,
                               formatter={"float_kind": lambda v: f"{v:.4g}"})
        return text
    return repr(value)


# --- chapter 01: conv_transpose1d(x, w, stride) ------------------------------------------------

_NAMES_1D = ("x", "w", "stride")


def case_1d(x, w, stride, note="") -> Case:
    return Case((np.asarray(x), np.asarray(w), stride), _NAMES_1D, note)


def seed_example_1d() -> list[Case]:
    """The article's example: [2, 3] scattered through [1, 2, 3] with stride 2."""
    return [case_1d([2.0, 3.0], [1.0, 2.0, 3.0], 2, "the article's example")]


def random_1d(count: int, seed: int, max_length=6, max_kernel=5, max_stride=4,
              integers=True, dtype=np.float64) -> list[Case]:
    """``count`` random cases. ``integers=True`` draws small whole numbers (easy to check by hand)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        length = int(rng.integers(1, max_length + 1))
        kernel = int(rng.integers(1, max_kernel + 1))
        stride = int(rng.integers(1, max_stride + 1))
        if integers:
            x = rng.integers(-5, 6, length).astype(dtype)
            w = rng.integers(-3, 4, kernel).astype(dtype)
        else:
            x = rng.normal(size=length).astype(dtype)
            w = rng.normal(size=kernel).astype(dtype)
        cases.append(case_1d(x, w, stride, f"random, seed {seed}"))
    return cases


def edge_1d() -> list[Case]:
    """The corners of the exercise where scatter-add code most often goes wrong."""
    rng = np.random.default_rng(101)
    return [
        case_1d([4.0], [1.0, -2.0, 3.0], 1, "input of length 1"),
        case_1d([4.0], [1.0, -2.0, 3.0], 3, "input of length 1 with stride 3: stride never applies"),
        case_1d([1.0, 2.0, 3.0, 4.0], [0.5], 1, "kernel of length 1"),
        case_1d([1.0, -2.0, 3.0], [2.0], 3, "kernel of length 1 with stride 3: gaps of zeros"),
        case_1d([1.0, 2.0, 3.0], [1.0, 1.0], 5, "stride larger than the kernel: copies do not overlap"),
        case_1d(np.array([1, 2, 3]), np.array([0.5, 0.25]), 1, "integer input, float kernel"),
        case_1d(np.array([3, -1]), np.array([0.1, 0.2, 0.3]), 2, "integer input, float kernel, overlap"),
        case_1d([1.0, -1.0], [1.0, 2.0, 3.0], 40, "large stride"),
        case_1d(rng.normal(size=200), rng.normal(size=7), 3, "long input"),
        case_1d(rng.normal(size=5).astype(np.float32), rng.normal(size=4).astype(np.float32), 2,
                "float32 input and kernel"),
    ]


# --- chapter 02: output sizes ------------------------------------------------------------------

_NAMES_CONV = ("i", "k", "stride", "padding", "dilation")
_NAMES_TRANSPOSE = _NAMES_CONV + ("output_padding",)


def case_conv_size(i, k, stride=1, padding=0, dilation=1, note="") -> Case:
    return Case((i, k, stride, padding, dilation), _NAMES_CONV, note)


def case_transpose_size(i, k, stride=1, padding=0, dilation=1, output_padding=0, note="") -> Case:
    return Case((i, k, stride, padding, dilation, output_padding), _NAMES_TRANSPOSE, note)


def conv_size_examples() -> list[Case]:
    return [
        case_conv_size(4, 3, note="no padding, unit stride: 4 - 3 + 1"),
        case_conv_size(5, 3, stride=2, padding=1, note="the 'same'-style halving"),
        case_conv_size(7, 3, stride=2, padding=1, note="7 and 8 both give 4 ..."),
        case_conv_size(8, 3, stride=2, padding=1, note="... because of the floor"),
        case_conv_size(10, 3, dilation=2, note="dilation 2: the kernel spans 5 samples"),
    ]


def transpose_size_examples() -> list[Case]:
    return [
        case_transpose_size(2, 3, stride=2, note="the article's 1D example: 5"),
        case_transpose_size(2, 3, stride=2, padding=1, note="the article's 2D example: 3 after the crop"),
        case_transpose_size(2, 3, note="the article's animation: a 2x2 input grows to 4x4"),
        case_transpose_size(4, 3, stride=2, padding=1, note="back from 4 ..."),
        case_transpose_size(4, 3, stride=2, padding=1, output_padding=1, note="... to 8, not 7"),
        case_transpose_size(3, 3, dilation=2, note="dilation 2"),
    ]


def _random_valid(count, seed, names, ref, draw):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        args = draw(rng)
        try:
            ref(*args)
        except ValueError:
            continue  # an invalid combination: exercises are graded on valid arguments only
        cases.append(Case(args, names, f"random, seed {seed}"))
    return cases


def random_conv_sizes(count: int, seed: int) -> list[Case]:
    def draw(rng):
        return tuple(int(v) for v in (rng.integers(1, 65), rng.integers(1, 8), rng.integers(1, 6),
                                      rng.integers(0, 5), rng.integers(1, 5)))
    return _random_valid(count, seed, _NAMES_CONV, reference.conv_output_size, draw)


def random_transpose_sizes(count: int, seed: int) -> list[Case]:
    def draw(rng):
        stride, dilation = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        return (int(rng.integers(1, 65)), int(rng.integers(1, 8)), stride, int(rng.integers(0, 5)),
                dilation, int(rng.integers(0, max(stride, dilation))))
    return _random_valid(count, seed, _NAMES_TRANSPOSE, reference.conv_transpose_output_size, draw)


def edge_conv_sizes() -> list[Case]:
    return [
        case_conv_size(1, 1, note="1 sample, kernel of 1"),
        case_conv_size(3, 3, note="the kernel exactly fits"),
        case_conv_size(1, 3, padding=1, note="padding makes room for the kernel"),
        case_conv_size(9, 3, stride=10, note="stride larger than the input: one position"),
        case_conv_size(100, 5, stride=3, padding=2, dilation=3, note="everything at once"),
    ]


def edge_transpose_sizes() -> list[Case]:
    return [
        case_transpose_size(1, 1, note="1 sample, kernel of 1"),
        case_transpose_size(1, 3, stride=5, note="one input: stride never applies"),
        case_transpose_size(3, 1, stride=4, note="kernel of 1, gaps between copies"),
        case_transpose_size(5, 3, stride=1, padding=2, note="crop as much as the kernel adds"),
        case_transpose_size(3, 2, stride=1, dilation=3, output_padding=2,
                            note="output_padding may reach max(stride, dilation) - 1"),
        case_transpose_size(10, 4, stride=5, padding=3, dilation=2, output_padding=4,
                            note="everything at once"),
    ]
