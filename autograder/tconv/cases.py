"""Test cases for the exercises: the article's examples, edge cases and seeded random ones.

A ``Case`` (``case.Case``) holds the positional arguments of one call to an exercise function,
their names (for messages) and a note saying what the case is there to test. Random cases come
from a seeded generator, so a grade never depends on luck and a learner can re-run a failing case.
The generators that draw numbers take a ``seed``; the hidden tests call them with seeds the grader
draws from the instructor's secret when it grades (``tconv.grader.recheck``), so a hidden case
is known to no one beforehand.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .case import SEED_W_2D, SEED_X_2D, Case, draw_pair
from .layer_cases import (  # noqa: F401 - chapter 04's, handed out as cases.<name>
    case_nchw, combined_nchw, edge_nchw_channels, edge_nchw_geometry, edge_nchw_small,
    random_nchw, seed_example_nchw)


# --- chapter 01: conv_transpose1d(x, w, stride) ------------------------------------------------

_NAMES_1D = ("x", "w", "stride")


def case_1d(x, w, stride, note="") -> Case:
    return Case((np.asarray(x), np.asarray(w), stride), _NAMES_1D, note)


def seed_example_1d() -> list[Case]:
    """The article's example: [2, 3] scattered through [1, 2, 3] with stride 2."""
    return [case_1d([2.0, 3.0], [1.0, 2.0, 3.0], 2, "the article's example")]


def _random_input_and_kernel(rng, input_shape, kernel_shape, integers, dtype):
    """Small whole numbers (easy to redo by hand) or normal floats, as ``dtype``."""
    if integers:
        return (rng.integers(-5, 6, input_shape).astype(dtype),
                rng.integers(-3, 4, kernel_shape).astype(dtype))
    return rng.normal(size=input_shape).astype(dtype), rng.normal(size=kernel_shape).astype(dtype)


def random_1d(count: int, seed: int, max_length=6, max_kernel=5, max_stride=4,
              integers=True, dtype=np.float64) -> list[Case]:
    """``count`` random cases. ``integers=True`` draws small whole numbers (easy to check by hand)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        length = int(rng.integers(1, max_length + 1))
        kernel = int(rng.integers(1, max_kernel + 1))
        stride = int(rng.integers(1, max_stride + 1))
        x, w = _random_input_and_kernel(rng, length, kernel, integers, dtype)
        cases.append(case_1d(x, w, stride, f"random, seed {seed}"))
    return cases


def edge_1d(seed: int = 101) -> list[Case]:
    """The corners of the exercise where scatter-add code most often goes wrong (``seed`` draws
    the long and the float32 case)."""
    rng = np.random.default_rng(seed)
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


def random_conv_sizes(count: int, seed: int, max_input: int = 64) -> list[Case]:
    def draw(rng):
        return tuple(int(v) for v in (rng.integers(1, max_input + 1), rng.integers(1, 8), rng.integers(1, 6),
                                      rng.integers(0, 5), rng.integers(1, 5)))
    return _random_valid(count, seed, _NAMES_CONV, reference.conv_output_size, draw)


def random_transpose_sizes(count: int, seed: int, max_input: int = 64) -> list[Case]:
    def draw(rng):
        stride, dilation = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        return (int(rng.integers(1, max_input + 1)), int(rng.integers(1, 8)), stride, int(rng.integers(0, 5)),
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


# --- chapter 03: conv_transpose2d(x, w, stride, padding) -------------------------------------

_NAMES_2D = ("x", "w", "stride", "padding")


def case_2d(x, w, stride=1, padding=0, note="") -> Case:
    return Case((np.asarray(x), np.asarray(w), stride, padding), _NAMES_2D, note)


def seed_example_2d() -> list[Case]:
    """The article's 2D example: [[1, 2], [3, 4]], a 3x3 edge kernel, stride 2, padding 1."""
    return [case_2d(SEED_X_2D, SEED_W_2D, 2, 1, "the article's example")]


def seed_intermediate_2d() -> list[Case]:
    """The article's example without the crop (padding 0): its 5x5 intermediate output."""
    return [case_2d(SEED_X_2D, SEED_W_2D, 2, 0, "the article's example, before the crop")]


def random_2d(count: int, seed: int, max_size=4, max_kernel=4, max_stride=3, max_padding=2,
              pairs=False, integers=True, dtype=np.float64) -> list[Case]:
    """``count`` random cases with valid padding; ``pairs=True`` draws (h, w) pairs that differ."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        shape = tuple(int(v) for v in rng.integers(1, max_size + 1, 2))
        kernel = tuple(int(v) for v in rng.integers(1, max_kernel + 1, 2))
        stride = draw_pair(rng, 1, max_stride, pairs)
        padding = draw_pair(rng, 0, max_padding, pairs)
        x, w = _random_input_and_kernel(rng, shape, kernel, integers, dtype)
        try:
            reference.conv_transpose2d(x, w, stride, padding)
        except ValueError:
            continue  # padding would crop everything: graded on valid arguments only
        cases.append(case_2d(x, w, stride, padding, f"random, seed {seed}"))
    return cases


def edge_2d(seed: int = 303) -> list[Case]:
    """Corners of the 2D exercise, each case named for what it is there to catch (``seed`` draws
    the numbers of the last three)."""
    rng = np.random.default_rng(seed)
    asymmetric = np.array([[1.0, 2.0, 0.0], [-1.0, 3.0, 5.0]])  # every flip or transpose differs
    return [
        case_2d([[2.0]], asymmetric, 1, 0, "1x1 input"),
        case_2d([[2.0]], asymmetric, 3, (0, 1), "1x1 input: stride never applies"),
        case_2d([[1.0, -2.0], [3.0, 0.5]], [[3.0]], 1, 0, "1x1 kernel"),
        case_2d([[1.0, -2.0], [3.0, 0.5]], [[3.0]], 3, 0, "1x1 kernel with stride 3: gaps of zeros"),
        case_2d([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], asymmetric, (1, 3), 0,
                "stride (1, 3): different along rows and columns"),
        case_2d([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], asymmetric, (3, 1), (0, 1),
                "stride (3, 1) and padding (0, 1)"),
        case_2d([[1.0, 2.0], [3.0, 4.0]], asymmetric, 2, (1, 0), "padding (1, 0): rows only"),
        case_2d(rng.integers(-4, 5, (3, 4)), asymmetric, 2, (1, 2), "non-square input, padding (1, 2)"),
        case_2d([[1.0, 2.0], [3.0, 4.0]], asymmetric.T, 2, (2, 1), "padding = kernel size - 1"),
        case_2d(np.array([[1, 2], [3, 4]]), np.array([[0.5, 0.25], [-0.5, 1.0]]), 1, 0,
                "integer input, float kernel"),
        case_2d(rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32),
                2, 1, "float32 input and kernel"),
        case_2d(rng.normal(size=(5, 6)), rng.normal(size=(4, 3)), (2, 3), (3, 1), "everything at once"),
    ]


def large_padding_2d() -> list[Case]:
    """Padding larger than kernel size - 1: the zero-insertion route must crop, not pad."""
    asymmetric = np.array([[1.0, 2.0], [-1.0, 3.0]])
    return [
        case_2d([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], asymmetric, 3, 2,
                "padding 2 with a 2x2 kernel"),
        case_2d(np.arange(12.0).reshape(3, 4), asymmetric, (3, 2), (2, 0),
                "padding (2, 0) with a 2x2 kernel"),
    ]


# --- chapter 05: conv1d_matrix(n, w, stride) -------------------------------------------------

_NAMES_MATRIX = ("n", "w", "stride")


def case_matrix(n, w, stride=1, note="") -> Case:
    return Case((n, np.asarray(w), stride), _NAMES_MATRIX, note)


def matrix_examples() -> list[Case]:
    return [
        case_matrix(4, [1.0, 2.0, 3.0], 1, "stride 1: two positions"),
        case_matrix(5, [1.0, 2.0, 3.0], 2, "chapter 01's kernel, stride 2: C.T turns 2 into 5"),
    ]


def random_matrices(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        kernel = int(rng.integers(1, 5))
        n = kernel + int(rng.integers(0, 8))
        cases.append(case_matrix(n, rng.normal(size=kernel), int(rng.integers(1, 4)),
                                 f"random, seed {seed}"))
    return cases


def edge_matrices() -> list[Case]:
    return [
        case_matrix(3, [1.0, -2.0, 3.0], 1, "n == K: one row"),
        case_matrix(4, [2.0], 1, "kernel of 1: a diagonal matrix"),
        case_matrix(5, [2.0], 2, "kernel of 1, stride 2: every other column"),
        case_matrix(6, [1.0, 2.0, 3.0], 2, "stride leaves the last column unused"),
        case_matrix(7, [1.0, 2.0], 4, "stride larger than the kernel"),
        case_matrix(1, [5.0], 3, "n = 1"),
    ]
