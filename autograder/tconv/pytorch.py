"""The same operations computed by PyTorch, in float64, for the checks and the package's tests.

These wrap ``torch.nn.functional`` so that the reference implementations and a learner's answer
can both be held against what PyTorch computes. torch is imported on first use: it takes a few
seconds, and chapters that never need it should not pay for it.
"""

from __future__ import annotations

import numpy as np


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
