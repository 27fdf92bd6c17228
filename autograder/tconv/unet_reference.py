"""Chapter 06's answers: the center crop and the U-Net decoder block of Ronneberger et al. (2015).

Like ``tconv.reference``, this module holds the solutions: the checks compare a learner's answer
with it and the package's tests train a reference U-Net with it. The notebook never imports it.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn


def crop_offsets(size: int, target: int) -> tuple[int, int]:
    """Where a centered window of ``target`` samples starts and stops in ``size`` samples.

    The margin ``size - target`` is split with the smaller half first: when it is odd, the extra
    sample is left at the end (the bottom row or the right column).
    """
    start = (size - target) // 2
    return start, start + target


def center_crop(x, height, width):
    """The centered ``height x width`` window of every map of ``x``.

    x: (N, C, H, W), a torch tensor or a numpy array -> (N, C, height, width), the same type.
    The top offset is ``(H - height) // 2`` and the left offset ``(W - width) // 2``.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int >= 1")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got shape {tuple(x.shape)}")
    full_height, full_width = x.shape[-2], x.shape[-1]
    if height > full_height:
        raise ValueError(f"height={height} must be at most the input's height H={full_height}")
    if width > full_width:
        raise ValueError(f"width={width} must be at most the input's width W={full_width}")
    top, bottom = crop_offsets(full_height, height)
    left, right = crop_offsets(full_width, width)
    return x[:, :, top:bottom, left:right]


class DecoderBlock(nn.Module):
    """One step of U-Net's expanding path.

    ``forward(x, skip)``: x (N, in_channels, h, w), skip (N, in_channels // 2, H, W) with
    H >= 2h, W >= 2w -> (N, out_channels, 2h - 4, 2w - 4).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3)

    def forward(self, x, skip):
        up = self.up(x)
        skip = center_crop(skip, up.shape[2], up.shape[3])
        merged = torch.cat([skip, up], dim=1)
        return torch.relu(self.conv2(torch.relu(self.conv1(merged))))
