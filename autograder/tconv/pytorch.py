"""The same operations computed by PyTorch, in float64, for the checks and the package's tests.

These wrap ``torch.nn.functional`` so that the reference implementations and a learner's answer
can both be held against what PyTorch computes. torch is imported on first use: it takes a few
seconds, and chapters that never need it should not pay for it.
"""

from __future__ import annotations

import numpy as np

from .arguments import require_pair


def _torch():
    import torch

    return torch


def conv_transpose1d(x, w, stride=1) -> np.ndarray:
    """``F.conv_transpose1d`` on one signal and one kernel: x (L,), w (K,) -> (L_out,)."""
    torch = _torch()
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(1, 1, -1)  # (N, C_in, L)
    w_t = torch.as_tensor(np.asarray(w, dtype=np.float64)).reshape(1, 1, -1)  # (C_in, C_out, K)
    return torch.nn.functional.conv_transpose1d(x_t, w_t, stride=stride)[0, 0].numpy()


def conv_output_size(i, k, stride=1, padding=0, dilation=1) -> int:
    """The length of ``F.conv1d``'s output on a length-``i`` input: measured, not computed."""
    torch = _torch()
    out = torch.nn.functional.conv1d(
        torch.zeros(1, 1, i), torch.zeros(1, 1, k),
        stride=stride, padding=padding, dilation=dilation,
    )
    return out.shape[-1]


def conv_transpose_output_size(i, k, stride=1, padding=0, dilation=1, output_padding=0) -> int:
    """The length of ``F.conv_transpose1d``'s output on a length-``i`` input: measured."""
    torch = _torch()
    out = torch.nn.functional.conv_transpose1d(
        torch.zeros(1, 1, i), torch.zeros(1, 1, k),
        stride=stride, padding=padding, dilation=dilation, output_padding=output_padding,
    )
    return out.shape[-1]


# --- chapter 03 --------------------------------------------------------------------------------

def conv_transpose2d(x, w, stride=1, padding=0) -> np.ndarray:
    """``F.conv_transpose2d`` on one map and one kernel: x (H, W), w (kH, kW) -> (H_out, W_out)."""
    torch = _torch()
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None]  # (N, C_in, H, W)
    w_t = torch.as_tensor(np.asarray(w, dtype=np.float64))[None, None]  # (C_in, C_out, kH, kW)
    return torch.nn.functional.conv_transpose2d(
        x_t, w_t, stride=require_pair("stride", stride, 1),
        padding=require_pair("padding", padding, 0))[0, 0].numpy()


# --- chapter 04 --------------------------------------------------------------------------------

def conv_transpose2d_nchw(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                          dilation=1) -> np.ndarray:
    """``F.conv_transpose2d`` itself, on float64 copies of the arguments."""
    torch = _torch()

    def tensor(a):
        return None if a is None else torch.as_tensor(np.asarray(a, dtype=np.float64))

    return torch.nn.functional.conv_transpose2d(
        tensor(x), tensor(weight), tensor(bias), stride=require_pair("stride", stride, 1),
        padding=require_pair("padding", padding, 0),
        output_padding=require_pair("output_padding", output_padding, 0), groups=groups,
        dilation=require_pair("dilation", dilation, 1)).numpy()


# --- chapter 05 --------------------------------------------------------------------------------

def conv_transpose2d_by_direct_convolution(x, weight, stride=1, padding=0, output_padding=0,
                                           dilation=1) -> np.ndarray:
    """``F.conv_transpose2d`` computed as a direct convolution, chapter 05's recipe in full.

    Insert ``stride - 1`` zeros between input values; zero-pad by ``dilation*(k - 1) - padding``
    on each side (a crop where that is negative) and by ``output_padding`` more at the bottom and
    right; then ``F.conv2d`` with the kernel flipped on both axes and dilated by ``dilation``.
    x: (N, C_in, H, W), weight: (C_in, C_out, kH, kW) -> (N, C_out, H_out, W_out), float64
    """
    torch = _torch()
    functional = torch.nn.functional
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    weight = torch.as_tensor(np.asarray(weight, dtype=np.float64))
    (s_h, s_w), (p_h, p_w) = require_pair("stride", stride, 1), require_pair("padding", padding, 0)
    (o_h, o_w) = require_pair("output_padding", output_padding, 0)
    (d_h, d_w) = require_pair("dilation", dilation, 1)
    n, channels, height, width = x.shape
    spread = x.new_zeros(n, channels, (height - 1) * s_h + 1, (width - 1) * s_w + 1)
    spread[:, :, ::s_h, ::s_w] = x
    a_h, a_w = d_h * (weight.shape[2] - 1) - p_h, d_w * (weight.shape[3] - 1) - p_w
    padded = functional.pad(spread, (a_w, a_w + o_w, a_h, a_h + o_h))  # negative amounts crop
    kernel = weight.flip(2, 3).transpose(0, 1)  # conv2d's layout: (C_out, C_in, kH, kW)
    return functional.conv2d(padded, kernel, dilation=(d_h, d_w)).numpy()


def conv1d_matrix(n, w, stride=1) -> np.ndarray:
    """The matrix of ``F.conv1d`` (no padding) on length-``n`` inputs, measured column by column:
    column ``j`` is the convolution of the ``j``-th unit vector."""
    torch = _torch()
    kernel = torch.as_tensor(np.asarray(w, dtype=np.float64)).reshape(1, 1, -1)
    units = torch.eye(n, dtype=torch.float64)[:, None, :]  # n signals (n, 1, n)
    return torch.nn.functional.conv1d(units, kernel, stride=stride)[:, 0, :].T.numpy()
