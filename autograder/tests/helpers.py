"""Helpers shared by several test modules (a test module never imports another one)."""

from __future__ import annotations

from torch import nn

from tconv import unet_reference


class Padded(unet_reference.DecoderBlock):
    """Chapter 06's block with a padded first 3x3 convolution: the modern U-Net's layer where the
    paper's is unpadded. Its submodules are wrong, its output shapes too."""

    def __init__(self, in_channels, out_channels):
        super().__init__(in_channels, out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
