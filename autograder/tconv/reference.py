"""Reference implementations: the course's answers, written once.

Every chapter's graded exercise has its reference here. The notebooks import them to draw
pictures and the checks compare a learner's answer with them (and with PyTorch). They are
written for clarity, as scatter-add loops, not for speed.

Arguments are validated: a bad argument raises ``ValueError`` (or ``TypeError``) naming the
argument and the range it must lie in.
"""

from __future__ import annotations


import numpy as np

from .arguments import require_array as _require_array
from .arguments import require_int as _require_int
from .arguments import require_pair as _require_pair

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "inverting_output_padding",
    "conv_transpose1d",
    "conv_transpose1d_contributions",
    "conv_transpose2d",
    "conv_transpose2d_contributions",
    "conv_transpose2d_full",
    "conv_transpose2d_nchw",
    "conv1d_matrix",
    "conv_transpose2d_by_zero_insertion",
]


# --- argument checks -------------------------------------------------------------------------


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


def inverting_output_padding(i, k, stride=1, padding=0, dilation=1) -> int:
    """The ``output_padding`` with which a transposed convolution (same ``k``, ``stride``,
    ``padding``, ``dilation``) gives back the length ``i`` that a convolution took in.

    ``(i + 2*padding - dilation*(k - 1) - 1) mod stride``: the samples of the padded input (length
    ``i + 2*padding``) after the convolution's last window; without padding, input samples no
    window reads. ``nn.ConvTranspose1d/2d(...)(y, output_size=...)`` chooses the same value.
    """
    conv_output_size(i, k, stride, padding, dilation)  # validates: the kernel must fit
    return (i + 2 * padding - dilation * (k - 1) - 1) % stride


# --- chapter 01: transposed convolution in 1D ----------------------------------------------

def conv_transpose1d_contributions(x, w, stride=1) -> np.ndarray:
    """Each input value's scaled, shifted copy of the kernel, one row per input value.

    Row ``j`` is ``x[j] * w`` written at positions ``j*stride ... j*stride + K - 1`` of an
    otherwise zero output. The transposed convolution is the sum of the rows; the pictures of
    chapter 01 draw them one by one.

    x: (L,), w: (K,) -> (L, (L - 1)*stride + K), float64
    """
    x = _require_array("x", x, 1, "(L,)")
    w = _require_array("w", w, 1, "(K,)")
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


# --- chapter 03: transposed convolution in 2D, padding as a crop ---------------------------

def _crop(full_length: int, padding: int, name: str) -> slice:
    """The part of a full output that survives cropping ``padding`` from each end."""
    if full_length - 2 * padding < 1:
        raise ValueError(
            f"{name}={padding} crops 2*{name} = {2 * padding} from a full output of "
            f"{full_length}, leaving nothing: {name} must be at most {(full_length - 1) // 2}")
    return slice(padding, full_length - padding)


def conv_transpose2d_contributions(x, w, stride=1) -> np.ndarray:
    """Each input value's scaled, shifted copy of the kernel in an otherwise zero full output.

    Entry ``[i, j]`` is the ``(H_full, W_full)`` array holding ``x[i, j] * w`` with its top-left
    corner at ``(i*stride_h, j*stride_w)``. Their sum is the full (uncropped) output; chapter 03's
    pictures draw them one at a time.

    x: (H, W), w: (kH, kW) -> (H, W, (H - 1)*stride_h + kH, (W - 1)*stride_w + kW), float64
    """
    x = _require_array("x", x, 2, "(H, W)")
    w = _require_array("w", w, 2, "(kH, kW)")
    stride_h, stride_w = _require_pair("stride", stride, 1)
    (height, width), (k_h, k_w) = x.shape, w.shape
    full = np.zeros((height, width, (height - 1) * stride_h + k_h, (width - 1) * stride_w + k_w))
    for i in range(height):
        for j in range(width):
            top, left = i * stride_h, j * stride_w
            full[i, j, top:top + k_h, left:left + k_w] = x[i, j] * w
    return full


def conv_transpose2d_full(x, w, stride=1) -> np.ndarray:
    """The intermediate, uncropped output: the sum of every scattered copy of the kernel.

    x: (H, W), w: (kH, kW) -> ((H - 1)*stride_h + kH, (W - 1)*stride_w + kW), float64
    """
    return conv_transpose2d_contributions(x, w, stride).sum(axis=(0, 1))


def conv_transpose2d(x, w, stride=1, padding=0) -> np.ndarray:
    """2-D transposed convolution of one channel: scatter-add, then crop ``padding`` per side.

    ``stride`` and ``padding`` are each an int or an ``(h, w)`` pair. ``padding`` removes that
    many rows from the top AND the bottom (columns from the left and the right) of the full output.

    x: (H, W), w: (kH, kW) ->
    ((H - 1)*stride_h + kH - 2*padding_h, (W - 1)*stride_w + kW - 2*padding_w), float64
    """
    full = conv_transpose2d_full(x, w, stride)
    padding_h, padding_w = _require_pair("padding", padding, 0)
    return full[_crop(full.shape[0], padding_h, "padding[0]"),
                _crop(full.shape[1], padding_w, "padding[1]")]


# --- chapter 04: the whole layer, as torch.nn.functional.conv_transpose2d --------------------

def conv_transpose2d_nchw(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                          dilation=1) -> np.ndarray:
    """``torch.nn.functional.conv_transpose2d`` in numpy, by scatter-add.

    Input channel ``c`` of group ``g`` scatters ``x[n, c, i, j] * weight[c, o]`` into output
    channel ``g*(C_out // groups) + o`` with the kernel's taps ``dilation`` apart and its corner at
    ``(i*stride_h, j*stride_w)``. Then the full output gets ``output_padding`` extra zero rows and
    columns at the END (bottom, right), ``padding`` is cropped from every side, and ``bias`` is
    added per output channel. Every argument after ``bias`` is an int or an ``(h, w)`` pair.

    x: (N, C_in, H, W); weight: (C_in, C_out // groups, kH, kW); bias: (C_out,) or None
    -> (N, C_out, H_out, W_out), float64, with
    H_out = (H - 1)*stride_h - 2*padding_h + dilation_h*(kH - 1) + output_padding_h + 1.
    """
    x = _require_array("x", x, 4, "(N, C_in, H, W)")
    weight = _require_array("weight", weight, 4, "(C_in, C_out // groups, kH, kW)")
    stride = _require_pair("stride", stride, 1)
    padding = _require_pair("padding", padding, 0)
    output_padding = _require_pair("output_padding", output_padding, 0)
    dilation = _require_pair("dilation", dilation, 1)
    groups = _require_int("groups", groups, 1)
    batch, channels_in, height, width = x.shape
    if weight.shape[0] != channels_in:
        raise ValueError(f"weight has shape {weight.shape}: its first axis must be C_in = "
                         f"{channels_in} (the input's channels); the layout is "
                         f"(C_in, C_out // groups, kH, kW), not Conv2d's (C_out, C_in // groups, ...)")
    if channels_in % groups:
        raise ValueError(f"groups={groups} must divide the input's C_in={channels_in}")
    per_group_in, per_group_out = channels_in // groups, weight.shape[1]
    channels_out = per_group_out * groups
    if bias is not None:
        bias = _require_array("bias", bias, 1, "(C_out,)")
        if bias.shape != (channels_out,):
            raise ValueError(f"bias must have shape (C_out,) = ({channels_out},), got {bias.shape}")
    for axis in (0, 1):
        if output_padding[axis] >= max(stride[axis], dilation[axis]):
            raise ValueError(
                f"output_padding[{axis}]={output_padding[axis]} must be smaller than "
                f"max(stride[{axis}], dilation[{axis}])={max(stride[axis], dilation[axis])}")
    k_h, k_w = weight.shape[2:]
    span_h, span_w = dilation[0] * (k_h - 1) + 1, dilation[1] * (k_w - 1) + 1
    full_h = (height - 1) * stride[0] + span_h
    full_w = (width - 1) * stride[1] + span_w
    # The full output with output_padding's extra rows/columns already at the bottom/right.
    full = np.zeros((batch, channels_out, full_h + output_padding[0], full_w + output_padding[1]))
    for c in range(channels_in):
        group = c // per_group_in
        outputs = slice(group * per_group_out, (group + 1) * per_group_out)
        for i in range(height):
            for j in range(width):
                top, left = i * stride[0], j * stride[1]
                rows = slice(top, top + span_h, dilation[0])
                cols = slice(left, left + span_w, dilation[1])
                # (N, 1, 1, 1) * (1, C_out // groups, kH, kW): every image of the batch at once
                full[:, outputs, rows, cols] += x[:, c, i, j, None, None, None] * weight[c][None]
    out_h = full_h + output_padding[0] - 2 * padding[0]
    out_w = full_w + output_padding[1] - 2 * padding[1]
    if out_h < 1 or out_w < 1:
        raise ValueError(
            f"padding={padding} crops 2*padding from a full output of {full_h}x{full_w} "
            f"(plus output_padding={output_padding}), leaving nothing: use less padding")
    out = full[:, :, padding[0]:padding[0] + out_h, padding[1]:padding[1] + out_w]
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out


# --- chapter 05: the same operation seen three ways ------------------------------------------

def conv1d_matrix(n, w, stride=1) -> np.ndarray:
    """The matrix ``C`` of a direct 1-D convolution (cross-correlation, no padding).

    Row ``r`` holds the kernel at columns ``r*stride ... r*stride + K - 1``, so ``C @ x`` slides
    ``w`` over ``x`` and ``C.T @ y`` is the transposed convolution of ``y``.

    n: int (the input length), w: (K,) -> (m, n) float64 with m = floor((n - K) / stride) + 1
    """
    n = _require_int("n", n, 1)
    w = _require_array("w", w, 1, "(K,)")
    stride = _require_int("stride", stride, 1)
    rows = conv_output_size(n, len(w), stride)
    matrix = np.zeros((rows, n))
    for r in range(rows):
        matrix[r, r * stride:r * stride + len(w)] = w
    return matrix


def zero_insert_2d(x, stride=1) -> np.ndarray:
    """``x`` with ``stride - 1`` zeros between neighbouring values along each axis.

    x: (H, W) -> ((H - 1)*stride_h + 1, (W - 1)*stride_w + 1), float64
    """
    x = _require_array("x", x, 2, "(H, W)")
    stride_h, stride_w = _require_pair("stride", stride, 1)
    spread = np.zeros(((x.shape[0] - 1) * stride_h + 1, (x.shape[1] - 1) * stride_w + 1))
    spread[::stride_h, ::stride_w] = x
    return spread


def pad_or_crop_2d(x, amount) -> np.ndarray:
    """Zero-pad ``amount`` on every side (per axis, an int or an ``(h, w)`` pair); a negative
    amount crops instead. x: (H, W) -> (H + 2*amount_h, W + 2*amount_w)."""
    x = np.asarray(x, dtype=np.float64)
    out = x
    for axis, a in enumerate(_require_pair("amount", amount, None)):
        if a >= 0:
            widths = [(0, 0), (0, 0)]
            widths[axis] = (a, a)
            out = np.pad(out, widths)
        else:
            out = out[(slice(-a, a),) if axis == 0 else (slice(None), slice(-a, a))]
    return out


def correlate2d_valid(x, w) -> np.ndarray:
    """Direct 2-D cross-correlation, no padding, stride 1: the kernel slides over the input.

    x: (H, W), w: (kH, kW) -> (H - kH + 1, W - kW + 1), float64
    """
    x = _require_array("x", x, 2, "(H, W)")
    w = _require_array("w", w, 2, "(kH, kW)")
    out = np.zeros((x.shape[0] - w.shape[0] + 1, x.shape[1] - w.shape[1] + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(x[r:r + w.shape[0], c:c + w.shape[1]] * w)
    return out


def conv_transpose2d_by_zero_insertion(x, w, stride=1, padding=0) -> np.ndarray:
    """Chapter 03's ``conv_transpose2d`` computed as a direct convolution.

    Insert ``stride - 1`` zeros between input values, zero-pad by ``k - 1 - padding`` on each side
    (crop when that is negative), and cross-correlate with the kernel flipped on both axes.

    x: (H, W), w: (kH, kW) -> the same array as ``conv_transpose2d(x, w, stride, padding)``
    """
    w = _require_array("w", w, 2, "(kH, kW)")
    padding_h, padding_w = _require_pair("padding", padding, 0)
    spread = zero_insert_2d(x, stride)
    padded = pad_or_crop_2d(spread, (w.shape[0] - 1 - padding_h, w.shape[1] - 1 - padding_w))
    if padded.shape[0] < w.shape[0] or padded.shape[1] < w.shape[1]:
        raise ValueError(f"padding={padding} crops the whole output")
    return correlate2d_valid(padded, w[::-1, ::-1])
