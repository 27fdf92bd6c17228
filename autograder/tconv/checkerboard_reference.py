"""Chapter 07's answers: overlap counts, kernel phases, the polyphase and sub-pixel views.

The reference implementations of the chapter's graded exercises (numpy, written for clarity) and
the kernels the chapter talks about; the PyTorch twins the checks hold them against are in
``tconv.pytorch``.
A learner's answer that calls into this module is a shortcut, like one into ``tconv.reference``.

A stride-``s`` transposed convolution sends input ``x[j]`` times tap ``w[t]`` to output position
``j*s + t``. Output positions ``n`` with the same ``n mod s`` (the same *phase* ``p``) are reached
only by the taps ``w[p], w[p + s], w[p + 2s], ...`` (``w[p::s]``). Everything in this chapter
follows from that one line.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .arguments import require_array as _require_array
from .arguments import require_int as _require_int
from .arguments import require_pair as _require_pair

__all__ = [
    "overlap_counts_1d",
    "overlap_counts_2d",
    "interior_counts",
    "phase_sums",
    "conv_transpose1d_polyphase",
    "conv_transpose2d_polyphase",
    "pixel_shuffle",
    "icnr",
]


# --- overlap counts ------------------------------------------------------------------------

def overlap_counts_1d(k, s, n) -> np.ndarray:
    """How many copies of a ``k``-tap kernel land on each output position of a stride-``s``
    transposed convolution of ``n`` inputs: the scatter-add of ones through ones.

    k, s, n: ints >= 1 -> int array ((n - 1)*s + k,)
    """
    k, s, n = _require_int("k", k, 1), _require_int("s", s, 1), _require_int("n", n, 1)
    counts = np.zeros((n - 1) * s + k, dtype=int)
    for j in range(n):
        counts[j * s:j * s + k] += 1
    return counts


def overlap_counts_2d(k, s, n) -> np.ndarray:
    """The 2-D counts: ``k``, ``s``, ``n`` are ints or (rows, columns) pairs. A copy covers a
    rectangle, so the count at (row, column) is the row count times the column count.

    -> int array ((n_h - 1)*s_h + k_h, (n_w - 1)*s_w + k_w)
    """
    (k_h, k_w), (s_h, s_w), (n_h, n_w) = (_require_pair("k", k, 1), _require_pair("s", s, 1),
                                          _require_pair("n", n, 1))
    return np.outer(overlap_counts_1d(k_h, s_h, n_h), overlap_counts_1d(k_w, s_w, n_w))


def interior_counts(k, s) -> np.ndarray:
    """Away from the borders, the count at output phase ``p`` is the number of taps in that
    phase, ``len(range(p, k, s)) = ceil((k - p) / s)`` (0 when s > k and p >= k).

    -> int array (s,)
    """
    k, s = _require_int("k", k, 1), _require_int("s", s, 1)
    return np.array([len(range(p, k, s)) for p in range(s)])


# --- phases --------------------------------------------------------------------------------

def phase_sums(w, s) -> np.ndarray:
    """The sum of the kernel's taps in each of its ``s_h x s_w`` phases.

    ``sums[a, b] = w[a::s_h, b::s_w].sum()``. Away from the borders, a stride-``s`` transposed convolution turns a map of ones into these
    ``s_h x s_w`` numbers, tiled. The output of a constant input is constant iff they are equal.

    w: (kH, kW); s: int or (s_h, s_w) pair -> float array (s_h, s_w)
    """
    w = _require_array("w", w, 2, "(kH, kW)")
    s_h, s_w = _require_pair("s", s, 1)
    sums = np.zeros((s_h, s_w))
    for a in range(s_h):
        for b in range(s_w):
            sums[a, b] = w[a::s_h, b::s_w].sum()  # empty (0) when the stride exceeds the kernel
    return sums


def conv_transpose1d_polyphase(x, w, stride=1) -> np.ndarray:
    """Chapter 01's ``conv_transpose1d`` as ``stride`` stride-1 convolutions, interleaved.

    Output phase ``p`` (positions p, p + s, p + 2s, ...) is the stride-1 transposed convolution
    (the 'full' convolution) of ``x`` with the phase kernel ``w[p::s]``. A phase with no taps
    (stride > K) is zeros.

    x: (L,), w: (K,) -> ((L - 1)*stride + K,), float64
    """
    x = _require_array("x", x, 1, "(L,)")
    w = _require_array("w", w, 1, "(K,)")
    s = _require_int("stride", stride, 1)
    out = np.zeros((len(x) - 1) * s + len(w))
    for p in range(min(s, len(w))):
        out[p::s] = reference.conv_transpose1d(x, w[p::s], 1)
    return out


def conv_transpose2d_polyphase(x, w, stride=1) -> np.ndarray:
    """Chapter 03's full (uncropped) ``conv_transpose2d`` as ``s_h * s_w`` stride-1 transposed
    convolutions with the phase kernels ``w[a::s_h, b::s_w]``, interleaved.

    x: (H, W), w: (kH, kW) -> ((H - 1)*s_h + kH, (W - 1)*s_w + kW), float64
    """
    x = _require_array("x", x, 2, "(H, W)")
    w = _require_array("w", w, 2, "(kH, kW)")
    s_h, s_w = _require_pair("stride", stride, 1)
    out = np.zeros(((x.shape[0] - 1) * s_h + w.shape[0], (x.shape[1] - 1) * s_w + w.shape[1]))
    for a in range(min(s_h, w.shape[0])):
        for b in range(min(s_w, w.shape[1])):
            out[a::s_h, b::s_w] = reference.conv_transpose2d_full(x, w[a::s_h, b::s_w], 1)
    return out


# --- the sub-pixel view --------------------------------------------------------------------

def pixel_shuffle(x, r) -> np.ndarray:
    """``torch.nn.PixelShuffle(r)`` in numpy, on one (unbatched) stack of maps.

    Channel ``c*r*r + i*r + j`` fills the pixels at offset (i, j) of every r x r cell of output
    channel ``c``: ``out[c, h*r + i, w*r + j] = x[c*r*r + i*r + j, h, w]``.

    x: (C*r*r, H, W); r: int >= 1 -> (C, H*r, W*r), float64
    """
    x = _require_array("x", x, 3, "(C*r*r, H, W)")
    r = _require_int("r", r, 1)
    channels, height, width = x.shape
    if channels % (r * r):
        raise ValueError(f"x has {channels} channels: pixel_shuffle with r={r} needs a multiple "
                         f"of r*r = {r * r}")
    out = np.zeros((channels // (r * r), height * r, width * r))
    for c in range(out.shape[0]):
        for i in range(r):
            for j in range(r):
                out[c, i::r, j::r] = x[c * r * r + i * r + j]
    return out


def icnr(w, s) -> np.ndarray:
    """ICNR (Aitken et al., 2017): the weight of a sub-pixel ``Conv2d`` that, followed by
    ``nn.PixelShuffle(s)``, starts as the convolution with ``w`` followed by nearest resize by
    ``s``: every one of output channel ``c``'s ``s*s`` phases gets the same kernel ``w[c]``, so
    its phase sums are equal and a constant map stays constant.

    ``out[c*s*s + k] = w[c]`` for ``k = 0, ..., s*s - 1`` (PixelShuffle's channel order).
    w: (C, C_in, m, m); s: int >= 1 -> (C*s*s, C_in, m, m), float64
    """
    w = _require_array("w", w, 4, "(C, C_in, m, m)")
    s = _require_int("s", s, 1)
    out = np.zeros((w.shape[0] * s * s,) + w.shape[1:])
    for c in range(w.shape[0]):
        for k in range(s * s):
            out[c * s * s + k] = w[c]
    return out
