"""Chapter 06's known mistakes (center_crop and DecoderBlock), each written out as the wrong code
would compute it; see ``mistakes`` for how the checks use them."""

from __future__ import annotations

import numpy as np

from .judge import Mistake


# A center_crop mistake takes (x, height, width) with x a numpy (N, C, H, W) array. A DecoderBlock
# mistake takes (block, x, skip): a reference block holding the weights the learner's block was
# given, and the two input tensors; it returns what the wrong forward pass computes (or raises
# what it raises: the checks compare the error too).

def _window(x, top, left, height, width):
    return np.asarray(x)[:, :, top:top + height, left:left + width]


def _margins_rounded_up(x, height, width):
    full_height, full_width = np.asarray(x).shape[-2:]
    return _window(x, (full_height - height + 1) // 2, (full_width - width + 1) // 2, height, width)


CENTER_CROP = [
    Mistake(
        "odd margin's extra row or column on the wrong side",
        "when the margin H - height is odd, the extra row must stay at the BOTTOM (and an extra "
        "column at the RIGHT): top = (H - height) // 2, rounded down, not up.",
        _margins_rounded_up,
    ),
    Mistake(
        "window taken from the top-left corner",
        "the window must be centered: start it at top = (H - height) // 2 and left = "
        "(W - width) // 2, not at row 0 and column 0.",
        lambda x, height, width: _window(x, 0, 0, height, width),
    ),
    Mistake(
        "whole margin cut from the top and the left",
        "half of the margin goes on each side: top = (H - height) // 2, not H - height.",
        lambda x, height, width: _window(x, np.asarray(x).shape[-2] - height,
                                         np.asarray(x).shape[-1] - width, height, width),
    ),
    Mistake(
        "height and width swapped",
        "height counts rows (axis 2, H) and width counts columns (axis 3, W): "
        "x[:, :, top:top + height, left:left + width].",
        lambda x, height, width: _window(x, (np.asarray(x).shape[-2] - width) // 2,
                                         (np.asarray(x).shape[-1] - height) // 2, width, height),
    ),
]


def _decoder_forward(block, x, skip, *, order="skip first", crop=None, relu_after_up=False,
                     relu1=True, relu2=True):
    import torch

    up = block.up(x)
    if relu_after_up:
        up = torch.relu(up)
    if crop is not None:
        skip = torch.as_tensor(crop(skip.numpy(), up.shape[2], up.shape[3]).copy())
    pieces = [skip, up] if order == "skip first" else [up, skip]
    out = block.conv1(torch.cat(pieces, dim=1))
    out = block.conv2(torch.relu(out) if relu1 else out)
    return torch.relu(out) if relu2 else out


def _center(x, height, width):
    full_height, full_width = np.asarray(x).shape[-2:]
    return _window(x, (full_height - height) // 2, (full_width - width) // 2, height, width)


DECODER_BLOCK = [
    Mistake(
        "skip connection not cropped",
        "the skip map from the contracting path is larger than the upsampled map (the unpadded "
        "convolutions shrank everything after it was saved), so torch.cat cannot put them side "
        "by side. Look at what forward does with the skip map before torch.cat: it must be "
        "cropped to the upsampled map's height and width first (your center_crop does that).",
        lambda block, x, skip: _decoder_forward(block, x, skip),
    ),
    Mistake(
        "wrong concatenation order, upsampled map first",
        "concatenate the cropped skip map FIRST and the upsampled map second: "
        "torch.cat([skip, up], dim=1). conv1's weights expect the skip map's channels in the "
        "first half of its input channels.",
        lambda block, x, skip: _decoder_forward(block, x, skip, order="up first", crop=_center),
    ),
    Mistake(
        "odd margin cropped on the wrong side",
        "your center_crop leaves the extra row (or column) of an odd margin at the top (left); "
        "it belongs at the bottom (right): top = (H - height) // 2.",
        lambda block, x, skip: _decoder_forward(block, x, skip, crop=_margins_rounded_up),
    ),
    Mistake(
        "skip map cropped from its top-left corner",
        "take the CENTERED window of the skip map (center_crop), not skip[:, :, :h, :w].",
        lambda block, x, skip: _decoder_forward(
            block, x, skip, crop=lambda s, h, w: _window(s, 0, 0, h, w)),
    ),
    Mistake(
        "no ReLU after the second convolution",
        "each of the two 3x3 convolutions is followed by a ReLU, the second one too.",
        lambda block, x, skip: _decoder_forward(block, x, skip, crop=_center, relu2=False),
    ),
    Mistake(
        "no ReLU after the first convolution",
        "each of the two 3x3 convolutions is followed by a ReLU, the first one too.",
        lambda block, x, skip: _decoder_forward(block, x, skip, crop=_center, relu1=False),
    ),
    Mistake(
        "ReLU after the up-convolution",
        "in U-Net the up-convolution's output goes into the concatenation as it is; only the two "
        "3x3 convolutions are followed by a ReLU.",
        lambda block, x, skip: _decoder_forward(block, x, skip, crop=_center, relu_after_up=True),
    ),
]


# At the paper's sizes a shape shows only this one: the others give the right shapes, wrong values.
DECODER_BLOCK_SHAPES = [m for m in DECODER_BLOCK if m.name == "skip connection not cropped"]


def as_block(compute):
    """A ``DecoderBlock`` class whose forward pass makes ``compute``'s mistake: a known mistake as
    a learner's class is handed to the checks (built and given weights as theirs would be)."""
    from .unet_reference import DecoderBlock

    class MistakenBlock(DecoderBlock):
        def forward(self, x, skip):
            return compute(self, x, skip)

    return MistakenBlock
