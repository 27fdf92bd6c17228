"""Chapter 06's workbench: a small U-Net around the learner's decoder block, its data and training.

Nothing here is an exercise's answer: the network takes the decoder block class as an argument
(the notebook passes the learner's ``DecoderBlock``; the package's tests pass the reference one).

- ``size_table``: every feature map's size in U-Net, computed with chapter 02's size functions
  (572 -> 388 for the paper's network).
- ``input_size_for``: the input tile a network of some depth needs for a given output size.
- ``UNet``: contracting path, bottleneck, expanding path of ``decoder_block``s, 1x1 head;
  ``block_ready``: whether the learner's block can be trained (else the cells using it skip).
- ``make_shapes``: a synthetic segmentation task (bright shapes on a noisy, unevenly lit
  background, with their masks), generated from a seed, no download.
- ``train``, ``predict``, ``iou``, ``edge_pixels``, ``accuracy_on``: a seeded training loop and
  the measures of the result (overall, and on the shapes' edges, for the ablation without skips).
  These and ``make_shapes`` live in ``unet_training``, handed out here as ``unet.<name>``; the
  experiment's settings (``IMAGE_SIZE``, ``STEPS``, ...) and ``device`` in ``unet_settings``.
- ``PaddedDecoderBlock``, ``pad_to``, ``padded_size_table``: the modern U-Net's padded variant.
- ``UPSAMPLING_KERNELS``, ``upsample_four_ways``, ``up_response``: when upsampling makes a
  checkerboard (their phase sums: ``checkerboard_reference.phase_sums``, chapter 07's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import reference
from .unet_settings import (  # noqa: F401 - the notebook's and the tests' unet.<name>
    BASE_CHANNELS, BATCH_SIZE, DEPTH, IMAGE_SIZE, IOU_TARGET, LEARNING_RATE, NOISE, SKIP_GAIN,
    STEPS, TEST_IMAGES, TEST_SEED, TRAIN_IMAGES, TRAIN_SEED, device)
from .unet_training import (  # noqa: F401 - the data and the training, as unet.<name>
    TrainingRun, accuracy_on, edge_pixels, iou, make_shapes, mirror_pad, predict, train)


# --- sizes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SizeRow:
    path: str        # "contracting", "bottom" or "expanding"
    operation: str   # what produced this map
    channels: int
    size: int        # height = width
    note: str = ""


def size_table(input_size=572, depth=4, base_channels=64, classes=2) -> list[SizeRow]:
    """Every feature map of a U-Net with unpadded 3x3 convolutions, in order.

    Each size comes from ``reference.conv_output_size`` (3x3 convolutions, and 2x2 max pooling
    with stride 2, which moves its window like a convolution) or from
    ``reference.conv_transpose_output_size`` (the 2x2 up-convolutions with stride 2).
    Raises ``ValueError`` if a max pooling would meet an odd size (the paper chooses the input
    tile so that it never does).
    """
    rows = [SizeRow("contracting", "input", 1, input_size)]
    size, skips = input_size, []
    for level in range(depth):
        channels = base_channels * 2 ** level
        for n in (1, 2):
            size = reference.conv_output_size(size, 3)
            rows.append(SizeRow("contracting", f"3x3 conv + ReLU ({n}/2)", channels, size))
        skips.append((channels, size))
        if size % 2:
            raise ValueError(f"input_size={input_size}: the max pooling after level {level + 1} "
                             f"meets an odd size {size}; choose an input size where every pooled "
                             f"map is even (see input_size_for)")
        size = reference.conv_output_size(size, 2, stride=2)
        rows.append(SizeRow("contracting", "2x2 max pool, stride 2", channels, size))
    channels = base_channels * 2 ** depth
    for n in (1, 2):
        size = reference.conv_output_size(size, 3)
        rows.append(SizeRow("bottom", f"3x3 conv + ReLU ({n}/2)", channels, size))
    for skip_channels, skip_size in reversed(skips):
        size = reference.conv_transpose_output_size(size, 2, stride=2)
        rows.append(SizeRow("expanding", "2x2 up-conv, stride 2", channels // 2, size))
        rows.append(SizeRow("expanding", "crop the skip map, concatenate", channels, size,
                            f"skip {skip_size} -> {size}: margin {skip_size - size}"))
        channels //= 2
        for n in (1, 2):
            size = reference.conv_output_size(size, 3)
            rows.append(SizeRow("expanding", f"3x3 conv + ReLU ({n}/2)", channels, size))
    rows.append(SizeRow("expanding", "1x1 conv (classes)", classes, size))
    return rows


def format_size_table(rows: list[SizeRow]) -> str:
    """The table as aligned text, one feature map per line."""
    lines = [f"{'path':<12} {'operation':<32} {'channels':>8} {'size':>9}  note"]
    for row in rows:
        lines.append(f"{row.path:<12} {row.operation:<32} {row.channels:>8} "
                     f"{f'{row.size}x{row.size}':>9}  {row.note}")
    return "\n".join(lines)


def input_size_for(output_size: int, depth: int) -> int:
    """The input tile that gives an ``output_size`` map, every pooling meeting an even size.

    Walks the network backwards: each pair of 3x3 convolutions loses 4, each up-convolution
    doubles, each max pooling halves.
    """
    size = output_size
    for _ in range(depth):
        size += 4
        if size % 2:
            raise ValueError(f"output_size={output_size}: no input tile of a depth-{depth} U-Net "
                             f"gives it (an up-convolution's output is always even); try "
                             f"{output_size + 1}")
        size //= 2
    size += 4  # the bottom's two convolutions
    for _ in range(depth):
        size = size * 2 + 4
    return size


# --- the network ---------------------------------------------------------------------------------

def double_conv(in_channels: int, out_channels: int, padding: int = 0) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by ReLU. Unpadded (the paper's): (N, C, H, W) ->
    (N, C', H-4, W-4); with ``padding=1`` (the modern U-Net's) the size stays."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=padding), nn.ReLU(),
                         nn.Conv2d(out_channels, out_channels, 3, padding=padding), nn.ReLU())


class UNet(nn.Module):
    """A U-Net whose expanding path is made of ``decoder_block(in_channels, out_channels)``s.

    Level ``l`` of the contracting path has ``base_channels * 2**l`` channels; the bottom has
    ``base_channels * 2**depth``. x: (N, in_channels, S, S) with S = input_size_for(s, depth)
    -> (N, classes, s, s), one logit per class and pixel.
    ``skips=False`` is the ablation: every decoder block gets a skip map of zeros (same shapes,
    same parameters, but nothing carried across from the contracting path).
    ``padding=1`` with ``PaddedDecoderBlock`` is the modern U-Net: output size = input size.
    """

    def __init__(self, decoder_block, in_channels=1, classes=1, base_channels=BASE_CHANNELS,
                 depth=DEPTH, skips=True, padding=0):
        super().__init__()
        widths = [base_channels * 2 ** level for level in range(depth + 1)]
        self.skips = skips
        self.encoders = nn.ModuleList(
            double_conv(c_in, c_out, padding)
            for c_in, c_out in zip([in_channels] + widths, widths[:-1]))
        self.bottom = double_conv(widths[-2], widths[-1], padding)
        self.decoders = nn.ModuleList(
            decoder_block(widths[level + 1], widths[level]) for level in reversed(range(depth)))
        self.head = nn.Conv2d(base_channels, classes, 1)

    def forward(self, x):
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for decoder, skip in zip(self.decoders, reversed(skips)):
            x = decoder(x, skip if self.skips else torch.zeros_like(skip))
        return self.head(x)


def build_model(decoder_block, seed=0, skips=True) -> UNet:
    """The chapter's U-Net (``BASE_CHANNELS``, ``DEPTH``) with weights drawn from ``seed``;
    ``skips=False``: the same network with its skip connections cut (fed zeros)."""
    torch.manual_seed(seed)
    return UNet(decoder_block, base_channels=BASE_CHANNELS, depth=DEPTH, skips=skips)


SKIPPED = "skipped: this cell uses your DecoderBlock, which is not ready yet (see above)."


def block_ready(decoder_block) -> bool:
    """Whether the chapter's U-Net can be built of ``decoder_block`` and maps an input tile to a
    mask of the right size (``IMAGE_SIZE``). If not, prints why, and that the cells using it are
    skipped (each prints ``SKIPPED``), so that *Run All* still reaches the end of the chapter.
    Whether its numbers are right is for the checks to say, not for this."""
    size = input_size_for(IMAGE_SIZE, DEPTH)
    try:
        with torch.no_grad():
            shape = tuple(UNet(decoder_block)(torch.zeros(1, 1, size, size)).shape)
    except NotImplementedError:
        reason = "it stops at `raise NotImplementedError()` (exercise 2 is not written yet)"
    except Exception as error:  # noqa: BLE001 - the learner's bug, shown here, explained by the checks
        reason = f"building or running the U-Net made of it raised {type(error).__name__}: {error}"
    else:
        if shape == (1, 1, IMAGE_SIZE, IMAGE_SIZE):
            return True
        reason = (f"the U-Net made of it turns a {size}x{size} input into shape {shape}, not "
                  f"(1, 1, {IMAGE_SIZE}, {IMAGE_SIZE})")
    print(f"Your DecoderBlock cannot be trained yet: {reason}.\nThe cells of this section that "
          f"use it are skipped (they say so); checks 5 to 7 above say what to fix. When they "
          f"pass, run this section again.")
    return False


# --- the modern U-Net: padded convolutions, no crop ---------------------------------------------

class PaddedDecoderBlock(nn.Module):
    """A decoder step of the U-Net as most code writes it today, laid out as the popular
    milesial/Pytorch-UNet does: an up-convolution, then (convolution => batch norm => ReLU) * 2
    in one ``nn.Sequential``, the convolutions padded so that they keep the size and the skip map
    is never cropped. Where a max pooling floored an odd size, the up-convolution's 2h is one short
    of the skip map; ``output_size=`` makes it choose ``output_padding`` 1 there.
    x (N, C, h, w), skip (N, C // 2, H, W), H in {2h, 2h + 1} -> (N, out_channels, H, W)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.convolutions = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x, skip):
        return self.convolutions(torch.cat([skip, self.up(x, output_size=skip.shape[-2:])], dim=1))


def pad_to(up, skip):
    """The other common fix (e.g. milesial/Pytorch-UNet): zero-pad the upsampled map to the skip
    map's size, half the difference before (rounded down), the rest after."""
    dy, dx = skip.shape[-2] - up.shape[-2], skip.shape[-1] - up.shape[-1]
    return F.pad(up, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])


def padded_size_table(input_size=101, depth=4, base_channels=64, classes=2) -> list[SizeRow]:
    """Every feature map of a U-Net with padded 3x3 convolutions, in order, from chapter 02's size
    functions. Max pooling floors odd sizes; each up-convolution then takes the
    ``output_padding`` that gives its skip map's size back (``reference.inverting_output_padding``,
    what ``output_size=`` chooses)."""
    rows = [SizeRow("contracting", "input", 1, input_size)]
    size, skips = input_size, []
    for level in range(depth):
        channels = base_channels * 2 ** level
        size = reference.conv_output_size(reference.conv_output_size(size, 3, padding=1), 3,
                                          padding=1)
        rows.append(SizeRow("contracting", "2 x (3x3 conv, padding 1)", channels, size))
        skips.append((channels, size))
        size = reference.conv_output_size(size, 2, stride=2)
        rows.append(SizeRow("contracting", "2x2 max pool, stride 2", channels, size))
    channels = base_channels * 2 ** depth
    rows.append(SizeRow("bottom", "2 x (3x3 conv, padding 1)", channels, size))
    for skip_channels, skip_size in reversed(skips):
        op = reference.inverting_output_padding(skip_size, 2, stride=2)
        plain = reference.conv_transpose_output_size(size, 2, stride=2)
        size = reference.conv_transpose_output_size(size, 2, stride=2, output_padding=op)
        rows.append(SizeRow("expanding", f"2x2 up-conv, output_padding {op}", channels // 2, size,
                            f"skip {skip_size}: without output_padding {plain}"))
        channels //= 2
        rows.append(SizeRow("expanding", "concatenate, 2 x (3x3 conv, pad 1)", channels, size))
    rows.append(SizeRow("expanding", "1x1 conv (classes)", classes, size))
    return rows


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- upsampling compared ---------------------------------------------------------------------------

UPSAMPLING_KERNELS = {  # name: (kernel, padding, output_padding), all with stride 2
    "3x3 equal weights": (np.full((3, 3), 1 / 4), 1, 1),
    "3x3 bilinear weights": (np.outer([0.5, 1, 0.5], [0.5, 1, 0.5]), 1, 1),
    "2x2 equal weights": (np.ones((2, 2)), 0, 0),
}


def upsample_four_ways(image) -> dict:
    """Double a 2-D map four ways, with fixed weights (no training involved).

    Three transposed convolutions with stride 2 (``UPSAMPLING_KERNELS``; the 3x3 ones with
    padding 1 and output_padding 1, which makes the output exactly twice as large), and bilinear
    upsampling followed by a 3x3 averaging convolution (padding 1, replicated border).
    image: (H, W) -> {name: (2H, 2W) numpy array}
    """
    x = torch.as_tensor(np.asarray(image, dtype=np.float64))[None, None]
    doubled = {}
    for name, (kernel, padding, output_padding) in UPSAMPLING_KERNELS.items():
        doubled[f"transposed conv, {name}"] = F.conv_transpose2d(
            x, torch.as_tensor(kernel)[None, None], stride=2, padding=padding,
            output_padding=output_padding)[0, 0].numpy()
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    doubled["bilinear, then 3x3 conv"] = F.conv2d(
        F.pad(bilinear, (1, 1, 1, 1), mode="replicate"),
        torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64))[0, 0].numpy()
    return doubled


@torch.no_grad()
def up_response(block: nn.Module, size: int = 6) -> np.ndarray:
    """What a trained block's ``up`` makes of a map that is 1 everywhere, summed over channels.

    With a 2x2 kernel and stride 2 each output pixel gets exactly one kernel tap, chosen by its
    position in its 2x2 cell: the response repeats the kernel's four phase sums (summed over the
    channels, plus the bias) with period 2; it is constant only if those four are equal.
    -> (2*size, 2*size) numpy array.
    """
    up = block.up
    ones = torch.ones(1, up.in_channels, size, size, device=up.weight.device)
    return up(ones)[0].sum(0).cpu().numpy()
