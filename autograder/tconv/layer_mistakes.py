"""Chapter 04's known mistakes (``conv_transpose2d_nchw``, the whole layer: channels, groups,
bias, output padding, dilation), each written out as the wrong code would compute it, like
``mistakes`` (chapters 01-03 and 05); ``exercises`` says which list belongs to which exercise.
"""

from __future__ import annotations

import numpy as np

from .arguments import pair
from .judge import Mistake


def _layer(x, weight, bias, stride, padding, output_padding, groups, dilation, *,
           combine="add", output_padding_side="end"):
    """A conv_transpose2d written with one deliberate deviation from PyTorch's."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    (o_h, o_w), (d_h, d_w) = pair(output_padding), pair(dilation)
    batch, channels_in, height, width = x.shape
    per_in, per_out, k_h, k_w = channels_in // groups, weight.shape[1], *weight.shape[2:]
    span_h, span_w = d_h * (k_h - 1) + 1, d_w * (k_w - 1) + 1
    full = np.zeros((batch, per_out * groups, (height - 1) * s_h + span_h,
                     (width - 1) * s_w + span_w))
    for n in range(batch):
        for c in range(channels_in):
            group = c // per_in
            for i in range(height):
                for j in range(width):
                    window = full[n, group * per_out:(group + 1) * per_out,
                                  i * s_h:i * s_h + span_h:d_h, j * s_w:j * s_w + span_w:d_w]
                    if combine == "add":
                        window += x[n, c, i, j] * weight[c]
                    else:
                        window[:] = x[n, c, i, j] * weight[c]
    before = {"end": (0, 0), "start": (o_h, o_w), "both": (o_h, o_w)}[output_padding_side]
    after = {"end": (o_h, o_w), "start": (0, 0), "both": (o_h, o_w)}[output_padding_side]
    full = np.pad(full, [(0, 0), (0, 0), (before[0], after[0]), (before[1], after[1])])
    out = full[:, :, p_h:full.shape[2] - p_h, p_w:full.shape[3] - p_w]
    return out if bias is None else out + np.asarray(bias, dtype=np.float64)[None, :, None, None]


def _conv2d_layout(weight, groups):
    """Read a transposed-conv weight (C_in, C_out // g, kH, kW) as if it were Conv2d's
    (C_out, C_in // g, kH, kW): what a learner computes who indexes weight[c_out, c_in]."""
    weight = np.asarray(weight, dtype=np.float64)
    channels_out, per_in = weight.shape[0], weight.shape[1]  # the misreading
    channels_in = per_in * groups
    per_out = channels_out // groups
    relaid = np.zeros((channels_in, per_out) + weight.shape[2:])
    for o in range(channels_out):
        group = o // per_out
        for c_local in range(per_in):
            relaid[group * per_in + c_local, o - group * per_out] = weight[o, c_local]
    return relaid


def _with(args, **changes):
    names = ("x", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
    values = dict(zip(names, args))
    values.update(changes)
    return _layer(**values)


CONV_TRANSPOSE2D_NCHW = [
    Mistake(
        "forgetting the crop",
        "you returned the full output. `padding` crops `padding` rows from the top and the bottom "
        "of every output map (columns from the left and the right).",
        lambda *a: _with(a, padding=0),
    ),
    Mistake(
        "Conv2d's weight layout",
        "a transposed convolution's weight has the shape (C_in, C_out // groups, kH, kW): "
        "weight[c_in, c_out] is the kernel that input channel c_in scatters into output channel "
        "c_out (within its group). You indexed it as Conv2d's (C_out, C_in // groups, kH, kW), "
        "i.e. weight[c_out, c_in].",
        lambda *a: _with(a, weight=_conv2d_layout(a[1], a[6])),
    ),
    Mistake(
        "output_padding added on both sides",
        "output_padding adds rows/columns at the END only (bottom and right): the output is cropped "
        "by `padding` at the top/left but only by `padding - output_padding` at the bottom/right.",
        lambda *a: _with(a, output_padding_side="both"),
    ),
    Mistake(
        "output_padding added at the start",
        "output_padding adds rows/columns at the END (bottom and right), not at the top and left.",
        lambda *a: _with(a, output_padding_side="start"),
    ),
    Mistake(
        "output_padding ignored",
        "output_padding makes the output that many rows/columns longer, at the bottom/right: "
        "H_out = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1.",
        lambda *a: _with(a, output_padding=0),
    ),
    Mistake(
        "dilation ignored",
        "with dilation d the kernel's taps land d apart: tap (a, b) of the copy from input (i, j) "
        "goes to (i*stride + a*d, j*stride + b*d), and a copy spans d*(k - 1) + 1 positions.",
        lambda *a: _with(a, dilation=1),
    ),
    Mistake(
        "bias ignored",
        "add bias[c_out] to every value of output channel c_out (after the crop).",
        lambda *a: _with(a, bias=None),
    ),
    Mistake(
        "flipped kernel",
        "a transposed convolution scatters each kernel as it is; you flipped it "
        "(weight[..., ::-1, ::-1]).",
        lambda *a: _with(a, weight=np.asarray(a[1])[..., ::-1, ::-1]),
    ),
    Mistake(
        "overwriting instead of adding",
        "where copies overlap (neighbouring input positions, or several input channels feeding one "
        "output channel), they must be ADDED (+=), not replace each other (=).",
        lambda *a: _with(a, combine="overwrite"),
    ),
    Mistake(
        "stride applied to the wrong axis",
        "stride = (stride_h, stride_w): rows step by stride[0], columns by stride[1].",
        lambda *a: _with(a, stride=pair(a[3])[::-1]),
    ),
]
