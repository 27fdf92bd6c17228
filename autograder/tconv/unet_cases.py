"""Test cases for chapter 06: ``center_crop`` windows and ``DecoderBlock`` inputs.

Crop inputs are numbered, ``x.flat[k] = k`` (float32), so a wrong window can be located from its
first value. Decoder inputs are drawn from a seeded
generator; the block's weights come from a reference block seeded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import unet


@dataclass(frozen=True)
class CropCase:
    shape: tuple          # (N, C, H, W) of the input
    height: int
    width: int
    note: str = ""

    def input(self) -> np.ndarray:
        return np.arange(np.prod(self.shape), dtype=np.float32).reshape(self.shape)

    @property
    def args(self):  # what a known mistake is computed from
        return self.input(), self.height, self.width

    def describe(self) -> str:
        text = f"center_crop(x of shape {self.shape}, height={self.height}, width={self.width})"
        return f"{text}  [{self.note}]" if self.note else text


def crop_even_margins() -> list[CropCase]:
    return [CropCase((1, 1, 8, 8), 4, 4, "margin 4 on both axes: 2 on each side"),
            CropCase((2, 3, 10, 12), 6, 8, "a batch of 2 with 3 channels, non-square")]


def crop_odd_margins() -> list[CropCase]:
    return [CropCase((1, 1, 7, 7), 4, 4, "margin 3: 1 row at the top, 2 at the bottom"),
            CropCase((1, 2, 6, 9), 3, 4, "margins 3 and 5, non-square")]


def crop_edge_cases() -> list[CropCase]:
    return [CropCase((1, 1, 5, 6), 5, 6, "target = input: nothing to crop"),
            CropCase((2, 1, 5, 5), 1, 1, "a 1x1 window: the center pixel"),
            CropCase((1, 1, 4, 4), 1, 1, "a 1x1 window of an even map: margins 1 and 2"),
            CropCase((1, 1, 9, 4), 9, 1, "crop the width only"),
            CropCase((1, 1, 64, 64), 56, 56, "U-Net's first skip connection: 64 -> 56")]


def crop_random(count: int, seed: int, margins: str = "any") -> list[CropCase]:
    """``count`` random crops. ``margins="even"``: H - height and W - width both even (the window
    has one center), so that the even-margins cell grades nothing of the odd-margin rule."""
    if margins not in ("any", "even"):
        raise ValueError(f'margins={margins!r}: use "any" or "even"')
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        n, c = (int(v) for v in rng.integers(1, 4, 2))
        h, w = (int(v) for v in rng.integers(1, 20, 2))
        if margins == "even":  # a margin of 2 * k, k up to half the size
            height, width = (size - 2 * int(rng.integers(0, (size - 1) // 2 + 1)) for size in (h, w))
        else:
            height, width = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        cases.append(CropCase((n, c, h, w), height, width,
                              f"random, seed {seed}" + (", even margins" if margins == "even" else "")))
    return cases


def crop_too_large() -> list[CropCase]:
    return [CropCase((1, 1, 4, 4), 5, 4, "height larger than H"),
            CropCase((1, 2, 6, 3), 2, 7, "width larger than W")]


@dataclass(frozen=True)
class BlockCase:
    in_channels: int
    out_channels: int
    x_shape: tuple        # (N, in_channels, h, w)
    skip_shape: tuple     # (N, in_channels // 2, H, W)
    seed: int = 0
    note: str = ""

    def inputs(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed)
        return (torch.randn(self.x_shape, generator=generator),
                torch.randn(self.skip_shape, generator=generator))

    def reference_block(self):
        """A reference block with weights drawn from ``seed``: the learner's block gets them too."""
        import torch

        from .unet_reference import DecoderBlock

        torch.manual_seed(self.seed)
        return DecoderBlock(self.in_channels, self.out_channels).eval()

    def describe(self) -> str:
        text = (f"DecoderBlock({self.in_channels}, {self.out_channels}) on x of shape "
                f"{self.x_shape} and skip of shape {self.skip_shape}")
        return f"{text}  [{self.note}]" if self.note else text


def block_case(in_channels, out_channels, batch, x_size, skip_size, seed=0, note="") -> BlockCase:
    return BlockCase(in_channels, out_channels, (batch, in_channels) + tuple(x_size),
                     (batch, in_channels // 2) + tuple(skip_size), seed, note)


def block_small() -> list[BlockCase]:
    return [block_case(8, 4, 2, (6, 6), (16, 16), seed=1,
                       note="6x6 up to 12x12; skip 16x16 cropped by 2 on each side")]


def block_odd_margins() -> list[BlockCase]:
    return [block_case(4, 3, 1, (5, 4), (13, 11), seed=2,
                       note="skip margins 3 and 3: the extra row/column at the bottom/right"),
            block_case(6, 2, 2, (3, 5), (7, 12), seed=3, note="margins 1 and 2")]


def block_random(count: int, seed: int) -> list[BlockCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(count):
        in_channels = 2 * int(rng.integers(1, 5))
        h, w = (int(v) for v in rng.integers(3, 8, 2))  # 2h - 4 >= 2
        margin_h, margin_w = (int(v) for v in rng.integers(0, 6, 2))
        cases.append(block_case(in_channels, int(rng.integers(1, 6)), int(rng.integers(1, 3)),
                                (h, w), (2 * h + margin_h, 2 * w + margin_w), seed=seed + k,
                                note=f"random, seed {seed}"))
    return cases


def block_paper_steps(first_in_channels=16) -> list[tuple[BlockCase, tuple]]:
    """The paper's four expanding steps at their sizes (fewer channels, to stay quick).

    Each item is a case and the output shape the paper's size table gives for it.
    """
    rows = unet.size_table()
    skips = [row.size for row in rows if row.path == "contracting" and "(2/2)" in row.operation]
    inputs = [row.size for row in rows if row.path == "bottom"][-1:] + \
        [row.size for row in rows if row.path == "expanding" and "(2/2)" in row.operation]
    steps, channels = [], first_in_channels
    for x_size, skip_size, out_size in zip(inputs, reversed(skips), inputs[1:]):
        case = block_case(channels, channels // 2, 1, (x_size, x_size), (skip_size, skip_size),
                          seed=channels, note=f"the paper's step from {x_size}x{x_size} to "
                                              f"{out_size}x{out_size}")
        steps.append((case, (1, channels // 2, out_size, out_size)))
        channels //= 2
    return steps
