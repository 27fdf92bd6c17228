"""Chapter 07's known mistakes: each wrong answer written out, so feedback can name it.

Kept apart from ``checkerboard_cases.py`` because a wrong answer is most of a right
one: the learners' copy of the course (``make publish``) replaces this module, as it does
``mistakes.py``, with the values these mistakes produce on the visible cases.
"""

from __future__ import annotations

import math

import numpy as np

from .arguments import require_pair
from .judge import Mistake


def _counts(k, s, n, *, step=None, length=None, combine="add"):
    step = s if step is None else step
    out = np.zeros((n - 1) * s + k if length is None else length)
    for j in range(n):
        window = out[j * step:j * step + k]
        if combine == "add":
            window += 1
        else:
            window[:] = 1
    return out


OVERLAP_COUNTS_1D = [
    Mistake(
        "overwriting instead of adding",
        "where two copies overlap, each must ADD 1 to the count (counts[start:start + k] += 1); "
        "setting it to 1 (= 1) only marks which positions are covered.",
        lambda k, s, n: _counts(k, s, n, combine="overwrite"),
    ),
    Mistake(
        "stride ignored",
        "copy j starts at j * s, not at j: the copies move s places per input.",
        lambda k, s, n: _counts(k, s, n, step=1),
    ),
    Mistake(
        "output length n * s",
        "the output is (n - 1) * s + k long: the last copy starts at (n - 1) * s and is k long.",
        lambda k, s, n: _counts(k, s, n, length=n * s),
    ),
    Mistake(
        "the interior count used at the borders",
        "ceil((k - p) / s) is the count of phase p only AWAY from the borders; near the ends fewer "
        "copies arrive. Count the copies themselves: start from zeros and add 1 over each copy.",
        lambda k, s, n: np.array([len(range(o % s, k, s)) for o in range((n - 1) * s + k)]),
    ),
]


def _phase_sums_with(w, s, reduce=np.sum, flip=False, swap=False):
    w = np.asarray(w, dtype=np.float64)
    w = w[::-1, ::-1] if flip else w
    s_h, s_w = require_pair("s", s, 1)[::-1] if swap else require_pair("s", s, 1)
    return np.array([[reduce(w[a::s_h, b::s_w]) for b in range(s_w)] for a in range(s_h)])


def _block_sums(w, s):
    w = np.asarray(w, dtype=np.float64)
    (s_h, s_w) = require_pair("s", s, 1)
    m_h, m_w = math.ceil(w.shape[0] / s_h), math.ceil(w.shape[1] / s_w)
    return np.array([[w[a * m_h:(a + 1) * m_h, b * m_w:(b + 1) * m_w].sum() for b in range(s_w)]
                     for a in range(s_h)])


_PHASE = "phase (a, b) holds the taps w[a::s_h, b::s_w]: every s-th tap, starting at (a, b)"

PHASE_SUMS = [
    Mistake(
        "phases of the flipped kernel",
        "the scatter-add puts tap w[t] at output position j*s + t, so phase (a, b) is "
        "w[a::s_h, b::s_w] of the kernel as it is; you took the phases of the kernel flipped "
        "(w[::-1, ::-1]), the direct-convolution view of chapter 05, which numbers the phases "
        "from the other end.",
        lambda w, s: _phase_sums_with(w, s, flip=True),
    ),
    Mistake(
        "stride pair read as (columns, rows)",
        "s = (s_h, s_w): the result has s_h rows and s_w columns, and row a sums w[a::s_h, ...].",
        lambda w, s: _phase_sums_with(w, s, swap=True),
    ),
    Mistake(
        "mean instead of sum",
        "a constant input c gives c times the SUM of a phase's taps (every tap adds c * w[t]); the "
        "mean divides by the number of taps.",
        lambda w, s: _phase_sums_with(w, s, reduce=lambda taps: taps.mean() if taps.size else 0.0),
    ),
    Mistake(
        "kernel cut into blocks instead of every s-th tap",
        f"you summed contiguous blocks of the kernel; {_PHASE}.",
        _block_sums,
    ),
]


def _polyphase(x, w, stride, *, order=None, reverse_phase=False, flip=False, concatenate=False):
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    w = w[::-1] if flip else w
    s = stride
    pieces = []
    for p in range(s):
        source = (s - 1 - p) if order == "reversed" else p
        phase = w[source::s][::-1] if reverse_phase else w[source::s]
        empty = np.zeros(len(x) - 1 if concatenate else 0)  # a phase with no taps: zeros, or nothing
        pieces.append(np.convolve(x, phase) if phase.size else empty)
    if concatenate:
        return np.concatenate(pieces)
    out = np.zeros((len(x) - 1) * s + len(w))
    for p, piece in enumerate(pieces):
        if piece.size:  # a phase with no taps stays zero
            out[p::s] = piece
    return out


def _polyphase_into_integers(x, w, stride):
    # out = np.zeros(..., dtype=int), as exercise 1's counts: assigning each phase's floats into
    # it truncates them silently (toward zero)
    x, w = np.asarray(x), np.asarray(w)
    out = np.zeros((len(x) - 1) * stride + len(w), dtype=int)
    for p in range(min(stride, len(w))):
        out[p::stride] = np.convolve(x, w[p::stride])
    return out.astype(np.float64)


CONV_TRANSPOSE1D_POLYPHASE = [
    Mistake(
        "output array of integers",
        "your output array holds integers (np.zeros(..., dtype=int), as exercise 1's counts, or the "
        "input's integer dtype), so every value you write into it is cut to a whole number: 0.5 "
        "becomes 0. Create it as floats: np.zeros(length).",
        _polyphase_into_integers,
    ),
    Mistake(
        "phases interleaved in the wrong order",
        "your phases land on the wrong output positions: the phase whose taps start at w[p] "
        "belongs at positions p, p + s, p + 2s, ..., and yours go to another phase's positions. "
        "Look at the order in which your loop pairs a phase with the positions it fills (the "
        "polyphase section's formula for y[m s + p]).",
        lambda x, w, stride: _polyphase(x, w, stride, order="reversed"),
    ),
    Mistake(
        "each phase reversed (correlation instead of convolution)",
        "each phase's taps are applied back to front: a stride-1 transposed convolution scatters "
        "the phase kernel forward from each input position, which is a convolution (chapter 01's "
        "scatter-add with stride 1), not a correlation. Look at the function that computes one "
        "phase.",
        lambda x, w, stride: _polyphase(x, w, stride, reverse_phase=True),
    ),
    Mistake(
        "phases of the flipped kernel",
        "your phases come from the kernel reversed: the scatter-add uses the kernel as it is (only "
        "the direct-convolution view of chapter 05 flips it). Look at where you slice the phases "
        "out of w.",
        lambda x, w, stride: _polyphase(x, w, stride, flip=True),
    ),
    Mistake(
        "phases concatenated instead of interleaved",
        "your phases are written one block after the other; each phase fills every s-th output "
        "position, starting at its own offset, so the phases alternate. Look at where you write a "
        "phase's result into the output.",
        lambda x, w, stride: _polyphase(x, w, stride, concatenate=True),
    ),
]


def _shuffle(x, r, axes):
    x = np.asarray(x, dtype=np.float64)
    channels, height, width = x.shape
    c = channels // (r * r)
    if axes == "r r c":
        return x.reshape(r, r, c, height, width).transpose(2, 3, 0, 4, 1).reshape(
            c, height * r, width * r)
    if axes == "swapped":
        return x.reshape(c, r, r, height, width).transpose(0, 3, 2, 4, 1).reshape(
            c, height * r, width * r)
    if axes == "tiled":
        return x.reshape(c, r, r, height, width).transpose(0, 1, 3, 2, 4).reshape(
            c, height * r, width * r)
    return x.reshape(c, height * r, width * r)


PIXEL_SHUFFLE = [
    Mistake(
        "channel order (r, r, C) instead of (C, r, r)",
        "you read the channel index as if the r*r offsets came first and the output channel last; "
        "in PyTorch's numbering (the exercise's formula for out[c, h*r + i, w*r + j]) the r*r "
        "channels of one output channel are neighbours. Look at how your code splits the channel "
        "axis.",
        lambda x, r: _shuffle(x, r, "r r c"),
    ),
    Mistake(
        "row and column offsets swapped",
        "each channel's pixels land at the transposed offset, (j, i) instead of (i, j): the "
        "offset that moves along the rows and the one that moves along the columns are swapped. "
        "Compare the order of your axes with the exercise's formula.",
        lambda x, r: _shuffle(x, r, "swapped"),
    ),
    Mistake(
        "reshape without moving the axes",
        "a reshape alone only re-reads the numbers in memory order, so channel 0's map fills "
        "the first rows whole instead of one pixel of every r x r cell. The axes must be moved "
        "between two reshapes: work out, from the exercise's formula, the order the axes must "
        "have before the last reshape.",
        lambda x, r: _shuffle(x, r, "plain"),
    ),
    Mistake(
        "sub-images tiled instead of interleaved",
        "each channel's H x W map is copied as one block, but it belongs spread over the whole "
        "output, one pixel in every r x r cell. Look at the order of your axes before the last "
        "reshape: the offset within a cell must vary fastest.",
        lambda x, r: _shuffle(x, r, "tiled"),
    ),
]


ICNR = [
    Mistake(
        "copies in the order (s*s, C) instead of (C, s*s)",
        "every output channel's kernel is there s*s times, but the copies of one channel are not "
        "neighbours: PixelShuffle builds output channel c from channels c*s*s to c*s*s + s*s - 1 "
        "(exercise 4's formula), so each output channel gets a mix of kernels and a grid. Right "
        "only when C = 1. Look at the order in which your code makes the copies.",
        lambda w, s: np.concatenate([np.asarray(w, dtype=float)] * (s * s), axis=0),
    ),
    Mistake(
        "copies divided by s*s",
        "each phase must hold the kernel itself, not a share of it: after the shuffle every output "
        "pixel is made by one phase only, so dividing makes the layer s*s times weaker than the "
        "convolution it should equal. Look at what you multiply or divide the copies by.",
        lambda w, s: np.repeat(np.asarray(w, dtype=float), s * s, axis=0) / (s * s),
    ),
    Mistake(
        "copies along the input channels",
        "the s*s copies belong on the first axis (the output channels, which PixelShuffle "
        "regroups), not on the second: the result must have shape (C*s*s, C_in, m, m). Look at "
        "the axis your copies are stacked on.",
        lambda w, s: np.repeat(np.asarray(w, dtype=float), s * s, axis=1),
    ),
]
