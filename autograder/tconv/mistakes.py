"""Known mistakes, each written out as the wrong code would compute it.

When a learner's answer is wrong, the checks run every known mistake of that exercise on the same
input; if the answer equals what a mistake produces, the feedback names the mistake and says how
to fix it, instead of only showing where the numbers differ. Each entry is a ``Mistake``: a short
name, an explanation addressed to the learner, and a function with the exercise's signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Mistake:
    name: str
    explanation: str
    compute: Callable


# --- chapter 01: conv_transpose1d --------------------------------------------------------------

def _scatter_1d(x, w, stride, *, length=None, combine="add", step=None):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    step = stride if step is None else step
    if length is None:
        length = (len(x) - 1) * step + len(w)
    out = np.zeros(length)
    for j, value in enumerate(x):
        start = j * step
        window = out[start:start + len(w)]
        piece = (value * w)[:len(window)]
        if combine == "add":
            window += piece
        else:
            window[:] = piece
    return out


def _integer_output(x, w, stride):
    # out[s] = out[s] + x[j] * w into an integer array: numpy truncates silently at each step
    # (with += it raises a casting error instead, which the checks explain too).
    out = np.zeros((len(x) - 1) * stride + len(w), dtype=np.asarray(x).dtype)
    for j, value in enumerate(np.asarray(x)):
        window = slice(j * stride, j * stride + len(w))
        out[window] = out[window] + value * np.asarray(w)
    return out.astype(np.float64)


CONV_TRANSPOSE1D = [
    Mistake(
        "overwriting instead of adding",
        "where two copies of the kernel overlap, the later copy must be ADDED to what is already "
        "there (out[start:start + K] += x[j] * w), not replace it (out[start:start + K] = ...).",
        lambda x, w, stride: _scatter_1d(x, w, stride, combine="overwrite"),
    ),
    Mistake(
        "stride ignored",
        "each input position j must start its copy of the kernel at j * stride, not at j: "
        "the copies move `stride` places per input value.",
        lambda x, w, stride: _scatter_1d(x, w, stride, step=1),
    ),
    Mistake(
        "flipped kernel",
        "a transposed convolution scatters the kernel as it is; you reversed it (w[::-1]). Flipping "
        "belongs to the 'direct convolution' view of chapter 05, not to scatter-add.",
        lambda x, w, stride: _scatter_1d(x, np.asarray(w)[::-1], stride),
    ),
    Mistake(
        "output array of the input's integer type",
        "your output array has the input's integer dtype (np.zeros_like(x) or x.dtype), so the "
        "kernel's fractions were truncated. Create it as floats: np.zeros(length).",
        _integer_output,
    ),
    Mistake(
        "output length L * stride",
        "the output length is (L - 1) * stride + K: the last input value starts its copy at "
        "(L - 1) * stride and the copy is K long.",
        lambda x, w, stride: _scatter_1d(x, w, stride, length=len(x) * stride),
    ),
    Mistake(
        "output length L + K - 1",
        "L + K - 1 is the length only when stride is 1; in general it is (L - 1) * stride + K.",
        lambda x, w, stride: _scatter_1d(x, w, stride, length=len(x) + len(w) - 1),
    ),
]


# --- chapter 02: output sizes ------------------------------------------------------------------

CONV_OUTPUT_SIZE = [
    Mistake(
        "dilation ignored",
        "a kernel of k taps with dilation d spans d*(k - 1) + 1 input samples, not k.",
        lambda i, k, s, p, d: (i + 2 * p - k) // s + 1,
    ),
    Mistake(
        "the + 1 forgotten",
        "count the positions including the first: floor((i + 2p - d(k - 1) - 1) / s) + 1.",
        lambda i, k, s, p, d: (i + 2 * p - d * (k - 1) - 1) // s,
    ),
    Mistake(
        "padding counted on one side only",
        "padding is added on both sides of the input: i + 2*padding.",
        lambda i, k, s, p, d: (i + p - d * (k - 1) - 1) // s + 1,
    ),
    Mistake(
        "true division instead of floor division",
        "use // (floor division): the kernel only fits at whole positions, and the result must "
        "be an int.",
        lambda i, k, s, p, d: (i + 2 * p - d * (k - 1) - 1) / s + 1,
    ),
]

CONV_TRANSPOSE_OUTPUT_SIZE = [
    Mistake(
        "padding added instead of cropped",
        "in a transposed convolution `padding` CROPS the full output (2*padding samples in all), "
        "so it is subtracted: (i - 1)s - 2p + d(k - 1) + output_padding + 1.",
        lambda i, k, s, p, d, op: (i - 1) * s + 2 * p + d * (k - 1) + op + 1,
    ),
    Mistake(
        "dilation ignored",
        "a dilated kernel spans d*(k - 1) + 1 samples: use d*(k - 1) + 1 where you used k.",
        lambda i, k, s, p, d, op: (i - 1) * s - 2 * p + k + op,
    ),
    Mistake(
        "output_padding ignored",
        "output_padding adds that many samples to the end of the output: + output_padding.",
        lambda i, k, s, p, d, op: (i - 1) * s - 2 * p + d * (k - 1) + 1,
    ),
    Mistake(
        "output_padding added on both sides",
        "output_padding is added on one side only (the end), unlike padding: + output_padding, "
        "not + 2*output_padding.",
        lambda i, k, s, p, d, op: (i - 1) * s - 2 * p + d * (k - 1) + 2 * op + 1,
    ),
    Mistake(
        "i * stride instead of (i - 1) * stride",
        "the last of the i inputs starts its copy at (i - 1) * stride, so the steps count i - 1.",
        lambda i, k, s, p, d, op: i * s - 2 * p + d * (k - 1) + op + 1,
    ),
]
