"""Chapter 07 (checkerboard artifacts and the sub-pixel view): kernels, cases, and the formulas
that explain an answer's right shape.

The answers live in ``checkerboard_reference``; known mistakes in ``checkerboard_mistakes``;
pictures in ``checkerboard_plots``; the training experiment in ``checkerboard_experiment``. The
exercises are declared in ``exercises``, and ``checks`` makes their ``checks.check_<name>``.
"""

from __future__ import annotations

import math

import numpy as np

from .case import Case
from .arguments import require_array as _require_array
from .arguments import require_int as _require_int
from .arguments import require_pair as _require_pair

# --- kernels and the sub-pixel weight (not exercises: the notebook uses them) ------------

def subpixel_weight(w, s) -> np.ndarray:
    """The weight of a stride-1 ``Conv2d`` whose ``s*s`` output channels, pixel-shuffled, are the
    stride-``s`` transposed convolution with kernel ``w``.

    The kernel is padded with zero taps at the bottom and right to ``m*s`` rows and columns
    (``m = ceil(max(kH, kW) / s)``), so that every phase has ``m x m`` taps; channel ``a*s + b`` holds the
    phase ``w[a::s, b::s]`` flipped on both axes (``Conv2d`` slides its kernel unflipped,
    chapter 05). ``F.conv2d`` of the input zero-padded by ``m - 1`` with this weight, followed by
    ``nn.PixelShuffle(s)``, gives ``F.conv_transpose2d(x, w, stride=s)`` plus ``m*s - kH`` (``m*s - kW``) extra
    rows and columns at the end (only zero taps reach them), to be cut off.

    w: (kH, kW); s: int -> (s*s, 1, m, m) float64
    """
    w = _require_array("w", w, 2, "(kH, kW)")
    s = _require_int("s", s, 1)
    m = math.ceil(max(w.shape) / s)
    padded = np.zeros((m * s, m * s))
    padded[:w.shape[0], :w.shape[1]] = w
    phases = [padded[a::s, b::s][::-1, ::-1] for a in range(s) for b in range(s)]
    return np.stack(phases)[:, None]


def bilinear_kernel(size) -> np.ndarray:
    """The bilinear-interpolation kernel used to initialise up-convolutions (FCN's
    ``upsample_filt``): a tent ``1 - |t - center| / factor`` on each axis, outer product.

    size = 2*s for stride s (its phases each sum to 1); size 3 gives the 3x3 tent
    [[.25, .5, .25], [.5, 1, .5], [.25, .5, .25]] that doubles with stride 2.
    -> (size, size) float64
    """
    size = _require_int("size", size, 1)
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    tent = 1 - np.abs(np.arange(size) - center) / factor
    return np.outer(tent, tent)


def nearest_resize_kernel(k) -> np.ndarray:
    """The kernel of nearest-neighbour resize by 2 followed by ``F.conv2d`` with the kernel ``k``
    (odd size m, padding (m - 1) // 2), as one stride-2 transposed convolution (padding
    (m - 1) // 2): ``k`` flipped and spread over every 2x2 block (the full convolution of a 2x2
    block of ones with the flipped ``k``). Every phase sums to ``k.sum()``.

    k: (m, m) -> (m + 1, m + 1) float64
    """
    k = _require_array("k", k, 2, "(m, m)")[::-1, ::-1]
    out = np.zeros((k.shape[0] + 1, k.shape[1] + 1))
    for a in range(2):
        for b in range(2):
            out[a:a + k.shape[0], b:b + k.shape[1]] += k
    return out


# --- cases -----------------------------------------------------------------------------------

_NAMES_COUNTS = ("k", "s", "n")
_NAMES_PHASES = ("w", "s")
_NAMES_POLYPHASE = ("x", "w", "stride")
_NAMES_SHUFFLE = ("x", "r")
_NAMES_ICNR = ("w", "s")

EXAMPLE_COUNTS = (3, 2, 4)          # a 3-tap kernel, stride 2, 4 inputs: 1 1 2 1 2 1 2 1 1
AVERAGING_3X3 = np.full((3, 3), 0.25)  # chapter 06's comparison kernel: 1/4 everywhere
UNEVEN_2X2 = np.array([[0.9, 0.3], [0.2, 0.6]])  # a 2x2 stride-2 kernel: one tap per phase


def case_counts(k, s, n, note="") -> Case:
    return Case((k, s, n), _NAMES_COUNTS, note)


def case_phases(w, s, note="") -> Case:
    return Case((np.asarray(w, dtype=np.float64), s), _NAMES_PHASES, note)


def case_polyphase(x, w, stride, note="") -> Case:
    return Case((np.asarray(x), np.asarray(w), stride), _NAMES_POLYPHASE, note)


def case_shuffle(x, r, note="") -> Case:
    return Case((np.asarray(x), r), _NAMES_SHUFFLE, note)


def case_icnr(w, s, note="") -> Case:
    return Case((np.asarray(w), s), _NAMES_ICNR, note)


def counts_example() -> list[Case]:
    return [case_counts(*EXAMPLE_COUNTS, "the chapter's example")]


def counts_random(count: int, seed: int, max_kernel=7, max_stride=5, max_inputs=8) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [case_counts(int(rng.integers(1, max_kernel + 1)), int(rng.integers(1, max_stride + 1)),
                        int(rng.integers(1, max_inputs + 1)), f"random, seed {seed}")
            for _ in range(count)]


def counts_edge() -> list[Case]:
    return [
        case_counts(4, 2, 5, "k = 2s: every inner position twice"),
        case_counts(2, 3, 3, "k < s: gaps no copy reaches"),
        case_counts(5, 5, 3, "k = s: the copies tile"),
        case_counts(4, 3, 1, "one input: one copy"),
        case_counts(1, 1, 6, "k = s = 1"),
        case_counts(7, 3, 4, "k = 7, s = 3: counts 3, 2, 2"),
    ]


def phases_chapter_kernels() -> list[Case]:
    """The kernels the chapter discusses."""
    return [
        case_phases(UNEVEN_2X2, 2, "a 2x2 stride-2 kernel: one tap per phase"),
        case_phases(bilinear_kernel(3), 2, "the 3x3 bilinear (tent) kernel"),
        case_phases(AVERAGING_3X3, 2, "chapter 06's averaging 3x3 kernel"),
        case_phases(np.arange(16.0).reshape(4, 4), 2, "a numbered 4x4 kernel"),
    ]


def phases_random(count: int, seed: int, max_kernel=6, max_stride=4) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        shape = tuple(int(v) for v in rng.integers(1, max_kernel + 1, 2))
        stride = tuple(int(v) for v in rng.integers(1, max_stride + 1, 2))
        cases.append(case_phases(rng.integers(-4, 5, shape).astype(np.float64),
                                 stride if stride[0] != stride[1] else stride[0],
                                 f"random, seed {seed}"))
    return cases


def phases_edge() -> list[Case]:
    numbered = np.arange(1.0, 13.0).reshape(3, 4)
    return [
        case_phases(numbered, (1, 2), "stride (1, 2): phases along the columns only"),
        case_phases(numbered, (3, 2), "stride (3, 2) on a 3x4 kernel"),
        case_phases(numbered, 5, "stride 5 > kernel: empty phases sum to 0"),
        case_phases([[2.5]], 1, "a 1x1 kernel, stride 1"),
        case_phases(np.arange(30.0).reshape(5, 6) - 14.5, (2, 3), "5x6 kernel, stride (2, 3)"),
    ]


def polyphase_example() -> list[Case]:
    return [
        case_polyphase([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], 2, "K = 4, stride 2: two 2-tap phases"),
        case_polyphase([2.0, 3.0], [1.0, 2.0, 3.0], 2, "chapter 01's example"),
    ]


def polyphase_random(count: int, seed: int, integers=True) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        length, kernel, stride = (int(rng.integers(1, 7)), int(rng.integers(1, 8)),
                                  int(rng.integers(1, 5)))
        if integers:
            x, w = rng.integers(-5, 6, length), rng.integers(-3, 4, kernel).astype(np.float64)
        else:
            x, w = rng.normal(size=length), rng.normal(size=kernel)
        cases.append(case_polyphase(x, w, stride, f"random, seed {seed}"))
    return cases


def polyphase_edge(seed: int = 707) -> list[Case]:
    """The corners of the polyphase exercise (``seed`` draws the float32 and the long case)."""
    rng = np.random.default_rng(seed)
    return [
        case_polyphase([1.0, -2.0, 3.0], [2.0, 5.0], 3, "stride 3 > K = 2: one phase has no taps"),
        case_polyphase(np.array([1, -2, 3, 4]), np.array([0.5, 0.25, -1.0, 2.0, 1.5, -0.5]), 3,
                       "integer input, fractional kernel: the output is float"),
        case_polyphase([1.0, 2.0], [4.0], 4, "K = 1, stride 4: three empty phases"),
        case_polyphase([1.0, 2.0, 3.0], [1.0, -1.0, 2.0], 1, "stride 1: one phase, the whole kernel"),
        case_polyphase([3.0], [1.0, 2.0, 3.0, 4.0, 5.0], 2, "one input value"),
        case_polyphase(rng.normal(size=6).astype(np.float32),
                       rng.normal(size=5).astype(np.float32), 2, "float32 input and kernel"),
        case_polyphase(rng.normal(size=40), rng.normal(size=9), 4, "long input"),
    ]


def shuffle_example() -> list[Case]:
    return [
        case_shuffle(np.arange(24.0).reshape(4, 2, 3), 2, "numbered: 4 channels -> 1, r = 2"),
        case_shuffle(np.arange(32.0).reshape(8, 2, 2), 2, "numbered: 8 channels -> 2, r = 2"),
    ]


def shuffle_random(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        r, channels = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        shape = (channels * r * r, int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        cases.append(case_shuffle(rng.normal(size=shape), r, f"random, seed {seed}"))
    return cases


def shuffle_edge() -> list[Case]:
    return [
        case_shuffle(np.arange(18.0).reshape(2, 3, 3), 1, "r = 1: nothing moves"),
        case_shuffle(np.arange(18.0).reshape(9, 1, 2), 3, "r = 3, one row"),
        case_shuffle(np.arange(36.0).reshape(18, 1, 2), 3, "r = 3, two output channels"),
        case_shuffle(np.arange(12).reshape(12, 1, 1), 2, "integers, 1x1 maps, three channels"),
        case_shuffle(np.arange(72.0).reshape(8, 3, 3) % 7, 2, "two channels of 3x3 maps, r = 2"),
    ]


def icnr_example() -> list[Case]:
    """A numbered kernel: one output channel, then two (where the copies' order shows)."""
    return [
        case_icnr(np.arange(9.0).reshape(1, 1, 3, 3), 2, "one 3x3 kernel, s = 2"),
        case_icnr(np.arange(18.0).reshape(2, 1, 3, 3) - 8.5, 2, "two output channels, s = 2"),
    ]


def icnr_random(count: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), *(2 * [int(rng.choice([1, 3, 5]))]))
        cases.append(case_icnr(rng.normal(size=shape), int(rng.integers(1, 5)), f"random, seed {seed}"))
    return cases


def icnr_edge() -> list[Case]:
    return [
        case_icnr(np.arange(12).reshape(2, 2, 1, 3) % 5, 3, "integers, s = 3, two output channels"),
        case_icnr(np.arange(8.0).reshape(2, 1, 2, 2) / 4, 1, "s = 1: nothing to copy"),
        case_icnr(np.float32([[[[0.5]]], [[[-1.5]]]]), 2, "float32, 1x1 kernels"),
    ]


# --- the right shape, explained (for the checks, declared in ``exercises``) -------------------

def counts_formula(case: Case) -> str:
    k, s, n = case.args
    return f"(n - 1)*s + k = ({n} - 1)*{s} + {k} = {(n - 1) * s + k}"


def phases_formula(case: Case) -> str:
    s_h, s_w = _require_pair("s", case.value("s"), 1)
    return f"(s_h, s_w) = ({s_h}, {s_w}): one sum per phase (a, b)"


def polyphase_formula(case: Case) -> str:
    length, kernel, stride = len(case.value("x")), len(case.value("w")), case.value("stride")
    return (f"(L - 1)*stride + K = ({length} - 1)*{stride} + {kernel} = "
            f"{(length - 1) * stride + kernel}, as in chapter 01")


def shuffle_formula(case: Case) -> str:
    channels, height, width = np.shape(case.value("x"))
    r = case.value("r")
    return (f"(C*r*r / (r*r), H*r, W*r) = ({channels} / {r * r}, {height}*{r}, {width}*{r}) = "
            f"({channels // (r * r)}, {height * r}, {width * r})")


def icnr_formula(case: Case) -> str:
    channels, inputs, k_h, k_w = np.shape(case.value("w"))
    s = case.value("s")
    return (f"(C*s*s, C_in, m, m) = ({channels}*{s}*{s}, {inputs}, {k_h}, {k_w}) = "
            f"({channels * s * s}, {inputs}, {k_h}, {k_w})")
