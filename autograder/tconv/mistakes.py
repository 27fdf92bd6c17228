"""Known mistakes, each written out as the wrong code would compute it.

When a learner's answer is wrong, the checks run every known mistake of that exercise on the same
input; if the answer equals what a mistake produces, the feedback names the mistake and says how
to fix it, instead of only showing where the numbers differ. Each entry is a ``judge.Mistake``: a short
name, an explanation addressed to the learner, and a function with the exercise's signature.
Chapters 01-03 and 05 are here; chapter 04's are in ``layer_mistakes``, chapter 06's in
``unet_mistakes``, chapter 07's in ``checkerboard_mistakes``; ``exercises`` says which list belongs to which exercise.
"""

from __future__ import annotations

import numpy as np

from .arguments import pair
from .judge import Mistake

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
        "span d*k instead of d*(k - 1) + 1",
        "a kernel of k taps with dilation d has k - 1 gaps of d between its first and last tap, "
        "so it spans d*(k - 1) + 1 samples, not d*k (the two agree only when d = 1).",
        lambda i, k, s, p, d: (i + 2 * p - d * k) // s + 1,
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
        "span d*k instead of d*(k - 1) + 1",
        "a copy of a kernel of k taps with dilation d spans d*(k - 1) + 1 samples (k - 1 gaps of "
        "d, plus the last tap), not d*k; the two agree only when d = 1.",
        lambda i, k, s, p, d, op: (i - 1) * s - 2 * p + d * k + op,
    ),
    Mistake(
        "i * stride instead of (i - 1) * stride",
        "the last of the i inputs starts its copy at (i - 1) * stride, so the steps count i - 1.",
        lambda i, k, s, p, d, op: i * s - 2 * p + d * (k - 1) + op + 1,
    ),
]


# --- chapter 03: conv_transpose2d --------------------------------------------------------------

def _swap(value):
    return pair(value)[::-1]


def _full_2d(x, w, stride, combine="add"):
    """The uncropped scatter, with ``=`` instead of ``+=`` when ``combine`` says so."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    (s_h, s_w), (k_h, k_w) = pair(stride), w.shape
    out = np.zeros(((x.shape[0] - 1) * s_h + k_h, (x.shape[1] - 1) * s_w + k_w))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            window = out[i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w]
            if combine == "add":
                window += x[i, j] * w
            else:
                window[:] = x[i, j] * w
    return out


def _crop_2d(full, top, bottom, left, right):
    return full[top:full.shape[0] - bottom, left:full.shape[1] - right]


def _cropped(full, padding):
    (p_h, p_w) = pair(padding)
    return _crop_2d(full, p_h, p_h, p_w, p_w)


_FORGOT_CROP = (
    "`padding` in a transposed convolution CROPS the full scatter-add result: remove `padding` "
    "rows from the top and from the bottom and `padding` columns from the left and from the right "
    "(full[p_h:H_full - p_h, p_w:W_full - p_w]).")

def _crop_by_negative_end(full, padding):
    """``full[p_h:-p_h, p_w:-p_w]``: right for padding >= 1, empty for padding 0 (-0 is 0)."""
    (p_h, p_w) = pair(padding)
    return full[p_h:-p_h, p_w:-p_w]


CONV_TRANSPOSE2D = [
    Mistake(
        "crop ending at -padding, empty when padding is 0",
        "a slice's end -0 is 0, not the end of the array, so full[p:-p] keeps nothing when "
        "padding is 0 (and full[:, p_w:-p_w] nothing when p_w is 0). Write the end from the front: "
        "full[p_h:full.shape[0] - p_h, p_w:full.shape[1] - p_w].",
        lambda x, w, stride, padding: _crop_by_negative_end(_full_2d(x, w, stride), padding),
    ),
    Mistake(
        "forgetting the crop",
        "you returned the full (intermediate) output. " + _FORGOT_CROP,
        lambda x, w, stride, padding: _full_2d(x, w, stride),
    ),
    Mistake(
        "cropping one side only (padding from the start only)",
        "you removed `padding` rows/columns at the top and left only. " + _FORGOT_CROP,
        lambda x, w, stride, padding: _crop_2d(_full_2d(x, w, stride), *(
            (pair(padding)[0], 0, pair(padding)[1], 0))),
    ),
    Mistake(
        "cropping one side only (2*padding from the end)",
        "your output has the right shape but you kept the top-left corner of the full output, "
        "cutting all 2*padding rows/columns from the bottom and right. " + _FORGOT_CROP,
        lambda x, w, stride, padding: _crop_2d(_full_2d(x, w, stride), *(
            (0, 2 * pair(padding)[0], 0, 2 * pair(padding)[1]))),
    ),
    Mistake(
        "cropping one side only (2*padding from the start)",
        "your output has the right shape but you cut all 2*padding rows/columns from the top and "
        "left. " + _FORGOT_CROP,
        lambda x, w, stride, padding: _crop_2d(_full_2d(x, w, stride), *(
            (2 * pair(padding)[0], 0, 2 * pair(padding)[1], 0))),
    ),
    Mistake(
        "zero-padding the input instead of cropping",
        "you added `padding` zeros around the INPUT (as a direct convolution does) and scattered "
        "that. In a transposed convolution `padding` does the opposite: it crops the output. "
        + _FORGOT_CROP,
        lambda x, w, stride, padding: _full_2d(
            np.pad(np.asarray(x, dtype=np.float64), [(p, p) for p in pair(padding)]), w, stride),
    ),
    Mistake(
        "zero-padding the output instead of cropping",
        "you added `padding` zeros around the full output (the article's sentence 'padding "
        "controls how much space is added around the output' invites this reading). "
        + _FORGOT_CROP,
        lambda x, w, stride, padding: np.pad(_full_2d(x, w, stride),
                                             [(p, p) for p in pair(padding)]),
    ),
    Mistake(
        "flipped kernel",
        "a transposed convolution scatters the kernel as it is; you flipped it (w[::-1, ::-1]). "
        "Flipping belongs to the 'direct convolution' view of chapter 05, not to scatter-add.",
        lambda x, w, stride, padding: _cropped(
            _full_2d(x, np.asarray(w)[::-1, ::-1], stride), padding),
    ),
    Mistake(
        "overwriting instead of adding",
        "where two copies of the kernel overlap, the later copy must be ADDED to what is already "
        "there (out[rows, cols] += x[i, j] * w), not replace it (out[rows, cols] = ...).",
        lambda x, w, stride, padding: _cropped(_full_2d(x, w, stride, combine="overwrite"), padding),
    ),
    Mistake(
        "stride applied to the wrong axis",
        "stride = (stride_h, stride_w): input row i starts its copy at row i * stride[0] and input "
        "column j at column j * stride[1]; you used them the other way round.",
        lambda x, w, stride, padding: _cropped(_full_2d(x, w, _swap(stride)), padding),
    ),
    Mistake(
        "padding applied to the wrong axis",
        "padding = (padding_h, padding_w): crop padding[0] rows from the top and bottom and "
        "padding[1] columns from the left and right; you used them the other way round.",
        lambda x, w, stride, padding: _cropped(_full_2d(x, w, stride), _swap(padding)),
    ),
]


# --- chapter 05: conv1d_matrix and conv_transpose2d_by_zero_insertion -------------------------

def _matrix(n, w, stride):
    w = np.asarray(w, dtype=np.float64)
    rows = (n - len(w)) // stride + 1
    matrix = np.zeros((rows, n))
    for r in range(rows):
        matrix[r, r * stride:r * stride + len(w)] = w
    return matrix


CONV1D_MATRIX = [
    Mistake(
        "the transposed matrix",
        "you returned an (n, m) matrix. C maps an input of length n to an output of length m, so "
        "it has m rows and n columns: C @ x needs C.shape == (m, n).",
        lambda n, w, stride: _matrix(n, w, stride).T,
    ),
    Mistake(
        "stride ignored",
        "row r starts the kernel at column r * stride, and there are floor((n - K) / stride) + 1 "
        "rows.",
        lambda n, w, stride: _matrix(n, w, 1),
    ),
    Mistake(
        "flipped kernel",
        "PyTorch's conv1d is a cross-correlation: row r holds w as it is (w[0] first), not "
        "reversed.",
        lambda n, w, stride: _matrix(n, np.asarray(w)[::-1], stride),
    ),
]


def _by_zero_insertion(x, w, stride, padding, *, flip=(True, True), pad=None, negative_end=False):
    """Zero insertion, padding ``pad(k, p)`` per axis, cross-correlation with a flipped kernel."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    spread = np.zeros(((x.shape[0] - 1) * s_h + 1, (x.shape[1] - 1) * s_w + 1))
    spread[::s_h, ::s_w] = x
    pad = pad or (lambda k, p: k - 1 - p)
    a_h, a_w = pad(w.shape[0], p_h), pad(w.shape[1], p_w)
    padded = np.pad(spread, [(max(a_h, 0),) * 2, (max(a_w, 0),) * 2])  # a negative amount crops
    if negative_end:  # padded[c:-c]: empty when c is 0
        padded = padded[max(-a_h, 0):-max(-a_h, 0), max(-a_w, 0):-max(-a_w, 0)]
    else:
        padded = padded[max(-a_h, 0):padded.shape[0] - max(-a_h, 0),
                        max(-a_w, 0):padded.shape[1] - max(-a_w, 0)]
    kernel = w[::-1 if flip[0] else 1, ::-1 if flip[1] else 1]
    out = np.zeros((padded.shape[0] - w.shape[0] + 1, padded.shape[1] - w.shape[1] + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(padded[r:r + w.shape[0], c:c + w.shape[1]] * kernel)
    return out


CONV_TRANSPOSE2D_BY_ZERO_INSERTION = [
    Mistake(
        "kernel not flipped",
        "the direct-convolution route needs the kernel flipped on both axes (w[::-1, ::-1]) "
        "before it slides over the zero-inserted, padded input: out[o] = sum_i x[i] w[o - i*s], so "
        "a window reading the input forwards must read the kernel backwards.",
        lambda x, w, stride, padding: _by_zero_insertion(x, w, stride, padding, flip=(False, False)),
    ),
    Mistake(
        "kernel flipped on one axis only",
        "flip the kernel on BOTH axes: w[::-1, ::-1].",
        lambda x, w, stride, padding: _by_zero_insertion(x, w, stride, padding, flip=(True, False)),
    ),
    Mistake(
        "padding k - 1 without subtracting padding",
        "you zero-padded by k - 1, which gives the full (uncropped) output. The transposed "
        "convolution's padding crops, so the direct convolution pads by k - 1 - padding.",
        lambda x, w, stride, padding: _by_zero_insertion(x, w, stride, padding,
                                                         pad=lambda k, p: k - 1),
    ),
    Mistake(
        "padding by `padding` instead of k - 1 - padding",
        "the zero-inserted input must be padded by k - 1 - padding on each side (so that every "
        "copy of the kernel fits, minus the crop), not by `padding`.",
        lambda x, w, stride, padding: _by_zero_insertion(x, w, stride, padding,
                                                         pad=lambda k, p: p),
    ),
    Mistake(
        "crop ending at -c, empty when there is nothing to crop",
        "a slice's end -0 is 0, not the end of the array, so padded[c:-c] keeps nothing when there "
        "is nothing to crop (c = 0, the usual case). Write the end from the front: "
        "padded[c_h:padded.shape[0] - c_h, c_w:padded.shape[1] - c_w].",
        lambda x, w, stride, padding: _by_zero_insertion(x, w, stride, padding, negative_end=True),
    ),
] + [mistake for mistake in CONV_TRANSPOSE2D if mistake.name == "stride applied to the wrong axis"]
