"""Reference implementations: the course's answers, written once.

Every chapter's graded exercise has its reference here. The notebooks import them to draw
pictures and the checks compare a learner's answer with them (and with PyTorch). They are
written for clarity, as scatter-add loops, not for speed.

Arguments are validated: a bad argument raises ``ValueError`` (or ``TypeError``) naming the
argument and the range it must lie in.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "conv_transpose1d",
    "conv_transpose1d_contributions",
]


# --- argument checks -------------------------------------------------------------------------

def _require_int(name: str, value, minimum: int) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an int >= {minimum}, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}={value} must be an int >= {minimum}")
    return int(value)


def _require_vector(name: str, value) -> np.ndarray:
    """Return ``value`` as a 1-D float64 array with at least one element."""
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shape (length,), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must have at least one element, got an empty array")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


# --- chapter 02: output sizes ----------------------------------------------------------------

def conv_output_size(i, k, stride=1, padding=0, dilation=1) -> int:
    """Length of a direct convolution's output along one axis.

    ``floor((i + 2*padding - dilation*(k - 1) - 1) / stride) + 1``: the number of positions at
    which a kernel that spans ``dilation*(k - 1) + 1`` samples fits in the zero-padded input,
    stepping by ``stride``.
    """
    i = _require_int("i", i, 1)
    k = _require_int("k", k, 1)
    stride = _require_int("stride", stride, 1)
    padding = _require_int("padding", padding, 0)
    dilation = _require_int("dilation", dilation, 1)
    span = dilation * (k - 1) + 1
    if span > i + 2 * padding:
        raise ValueError(
            f"the kernel spans dilation*(k - 1) + 1 = {span} samples but the padded input has only "
            f"i + 2*padding = {i + 2 * padding}: use a smaller kernel or dilation, or more padding"
        )
    return (i + 2 * padding - span) // stride + 1


def conv_transpose_output_size(i, k, stride=1, padding=0, dilation=1, output_padding=0) -> int:
    """Length of a transposed convolution's output along one axis (PyTorch's convention).

    ``(i - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``: the full scatter-add
    result is ``(i - 1)*stride + dilation*(k - 1) + 1`` long; ``padding`` crops that many samples
    from each end and ``output_padding`` adds samples back at the end only.
    """
    i = _require_int("i", i, 1)
    k = _require_int("k", k, 1)
    stride = _require_int("stride", stride, 1)
    padding = _require_int("padding", padding, 0)
    dilation = _require_int("dilation", dilation, 1)
    output_padding = _require_int("output_padding", output_padding, 0)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding={output_padding} must be smaller than "
            f"max(stride, dilation)={max(stride, dilation)}"
        )
    full = (i - 1) * stride + dilation * (k - 1) + 1
    size = full - 2 * padding + output_padding
    if size < 1:
        raise ValueError(
            f"padding={padding} crops 2*padding = {2 * padding} samples from a full output of "
            f"(i - 1)*stride + dilation*(k - 1) + 1 = {full}, leaving nothing: padding must be at "
            f"most {(full + output_padding - 1) // 2}"
        )
    return size


# --- chapter 01: transposed convolution in 1D ----------------------------------------------

def conv_transpose1d_contributions(x, w, stride=1) -> np.ndarray:
    """Each input value's scaled, shifted copy of the kernel, one row per input value.

    Row ``j`` is ``x[j] * w`` written at positions ``j*stride ... j*stride + K - 1`` of an
    otherwise zero output. The transposed convolution is the sum of the rows; the pictures of
    chapter 01 draw them one by one.

    x: (L,), w: (K,) -> (L, (L - 1)*stride + K), float64
    """
    x = _require_vector("x", x)
    w = _require_vector("w", w)
    stride = _require_int("stride", stride, 1)
    length = (len(x) - 1) * stride + len(w)
    rows = np.zeros((len(x), length))
    for j, value in enumerate(x):
        start = j * stride
        rows[j, start:start + len(w)] = value * w
    return rows


def conv_transpose1d(x, w, stride=1) -> np.ndarray:
    """Transposed convolution of a 1-D signal by scatter-add (no padding, one channel).

    Each ``x[j]`` adds ``x[j] * w`` into the output starting at ``j*stride``; overlapping copies
    add up.

    x: (L,), w: (K,) -> ((L - 1)*stride + K,), float64
    """
    return conv_transpose1d_contributions(x, w, stride).sum(axis=0)
