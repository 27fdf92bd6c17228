"""The same operations computed by PyTorch, in float64, for the checks and the package's tests.

These wrap ``torch.nn.functional`` so that the reference implementations and a learner's answer
can both be held against what PyTorch computes: the registry (``exercises``) names each exercise's
twin here, and the learners' copy, which has no reference, asks it for a case it has no recorded
value for (so a twin takes its reference's arguments, by the same names: ``exercises.accepts``).
torch is imported on first use: it takes a few seconds, and chapters that never need it should
not pay for it.
"""

from __future__ import annotations

import math

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


def conv_transpose1d_contributions(x, w, stride=1) -> np.ndarray:
    """Row ``j``: ``F.conv_transpose1d`` of ``x`` with every entry but ``x[j]`` set to 0 (the
    copies chapter 01's pictures draw). x (L,), w (K,) -> (L, L_out)."""
    x = np.asarray(x, dtype=np.float64)
    return np.stack([conv_transpose1d(np.where(np.arange(len(x)) == j, x, 0.0), w, stride)
                     for j in range(len(x))])


# --- chapter 03 --------------------------------------------------------------------------------

def conv_transpose2d(x, w, stride=1, padding=0) -> np.ndarray:
    """``F.conv_transpose2d`` on one map and one kernel: x (H, W), w (kH, kW) -> (H_out, W_out)."""
    torch = _torch()
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None]  # (N, C_in, H, W)
    w_t = torch.as_tensor(np.asarray(w, dtype=np.float64))[None, None]  # (C_in, C_out, kH, kW)
    return torch.nn.functional.conv_transpose2d(
        x_t, w_t, stride=require_pair("stride", stride, 1),
        padding=require_pair("padding", padding, 0))[0, 0].numpy()


def conv_transpose2d_contributions(x, w, stride=1) -> np.ndarray:
    """Entry ``[i, j]``: the uncropped ``F.conv_transpose2d`` of ``x`` with only ``x[i, j]`` kept
    (the copies chapter 03's pictures draw). x (H, W), w (kH, kW) -> (H, W, H_full, W_full)."""
    x = np.asarray(x, dtype=np.float64)
    rows = []
    for i in range(x.shape[0]):
        row = []
        for j in range(x.shape[1]):
            one = np.zeros_like(x)
            one[i, j] = x[i, j]
            row.append(conv_transpose2d(one, w, stride, 0))
        rows.append(np.stack(row))
    return np.stack(rows)


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


# --- chapter 06 --------------------------------------------------------------------------------

def center_crop(x, height, width):
    """The centered ``height x width`` window of every map, cut by ``F.pad`` with negative
    amounts (which crop); the odd sample of an odd margin stays at the bottom and right.
    x: (N, C, H, W), a torch tensor or a numpy array -> the same type."""
    torch = _torch()
    maps = torch.as_tensor(x)
    full_height, full_width = maps.shape[-2:]
    if not (0 < height <= full_height and 0 < width <= full_width):
        raise ValueError(f"a {height}x{width} window does not fit in {full_height}x{full_width}")
    rows, columns = full_height - height, full_width - width
    out = torch.nn.functional.pad(maps, (-(columns // 2), columns // 2 - columns,
                                         -(rows // 2), rows // 2 - rows))
    return out if isinstance(x, torch.Tensor) else out.numpy()


# --- chapter 07 --------------------------------------------------------------------------------

def overlap_counts_1d(k, s, n) -> np.ndarray:
    """The counts as ``F.conv_transpose1d`` computes them: ones through a kernel of ones."""
    torch = _torch()
    ones = torch.ones(1, 1, n, dtype=torch.float64)
    return torch.nn.functional.conv_transpose1d(ones, torch.ones(1, 1, k, dtype=torch.float64),
                                                stride=s)[0, 0].numpy()


def phase_sums(w, s) -> np.ndarray:
    """The phase sums read off ``F.conv_transpose2d`` of a map of ones, away from the borders:
    the ``s_h x s_w`` block at row ``m_h*s_h``, column ``m_w*s_w`` with ``m = ceil(k / s)``, where
    every tap of every phase lands on every pixel."""
    torch = _torch()
    w = np.asarray(w, dtype=np.float64)
    s_h, s_w = require_pair("s", s, 1)
    m_h, m_w = math.ceil(w.shape[0] / s_h), math.ceil(w.shape[1] / s_w)
    ones = torch.ones(1, 1, 2 * m_h + 1, 2 * m_w + 1, dtype=torch.float64)
    out = torch.nn.functional.conv_transpose2d(ones, torch.as_tensor(w)[None, None],
                                               stride=(s_h, s_w))[0, 0].numpy()
    return out[m_h * s_h:(m_h + 1) * s_h, m_w * s_w:(m_w + 1) * s_w]


def pixel_shuffle(x, r) -> np.ndarray:
    """``torch.nn.PixelShuffle(r)`` on a float64 copy of ``x`` (C*r*r, H, W)."""
    torch = _torch()
    return torch.nn.PixelShuffle(r)(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()


def icnr(w, s) -> np.ndarray:
    """The ICNR weight as the layer sees it: the sub-pixel weight whose ``nn.PixelShuffle(s)``
    of each output channel's ``s*s`` phases gives back ``w``'s convolution, nearest-resized.
    Built with ``torch.Tensor.repeat_interleave`` over the output channels."""
    torch = _torch()
    return torch.as_tensor(np.asarray(w, dtype=np.float64)).repeat_interleave(s * s, dim=0).numpy()
