"""Chapter 06's experiment, the data and the training: ``make_shapes`` (a synthetic
segmentation task made from a seed), ``mirror_pad``, ``train`` (a seeded loop), ``predict`` and
the measures (``iou``, ``edge_pixels``, ``accuracy_on``). Its settings are ``unet_settings``'s;
``unet`` (the network) hands these out as ``unet.<name>``, the way the notebook calls them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .unet_settings import BATCH_SIZE, IMAGE_SIZE, LEARNING_RATE, NOISE, STEPS, device


# --- the data ------------------------------------------------------------------------------------

def make_shapes(count: int, size=IMAGE_SIZE, seed=0, noise=NOISE):
    """``count`` grey images of bright disks, rectangles and triangles, and their masks.

    The shapes are 0.6 to 1.0 brighter than the background, which is lit unevenly (a random
    slope of up to +-0.6 across the image) and covered in Gaussian noise of standard deviation
    ``noise``, so no single threshold separates them: the network has to look at neighbourhoods.
    Returns float32 arrays images (count, 1, size, size) and masks (count, 1, size, size) of 0/1.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = np.empty((count, 1, size, size), np.float32)
    masks = np.zeros((count, 1, size, size), np.float32)
    for n in range(count):
        mask = np.zeros((size, size), bool)
        for _ in range(int(rng.integers(1, 4))):
            kind = rng.integers(3)
            cy, cx = rng.uniform(0.15 * size, 0.85 * size, 2)
            r = rng.uniform(0.08 * size, 0.2 * size)
            if kind == 0:
                shape = (rows - cy) ** 2 + (cols - cx) ** 2 <= r ** 2
            elif kind == 1:
                half_h, half_w = r * rng.uniform(0.5, 1.2, 2)
                shape = (abs(rows - cy) <= half_h) & (abs(cols - cx) <= half_w)
            else:  # a triangle pointing up: below its apex, inside both slanted edges
                shape = (rows >= cy - r) & (rows <= cy + r) & (abs(cols - cx) <= (rows - cy + r) / 2)
            mask |= shape
        slope = rng.uniform(-0.6, 0.6, 2) / size
        light = slope[0] * (rows - size / 2) + slope[1] * (cols - size / 2)
        brightness = rng.uniform(0.6, 1.0)
        images[n, 0] = light + brightness * mask + rng.normal(0, noise, (size, size))
        masks[n, 0] = mask
    return images, masks


def mirror_pad(images, margin: int) -> torch.Tensor:
    """Extend every image by ``margin`` pixels on each side by mirroring it at its border.

    The paper's overlap-tile strategy: the unpadded convolutions need context beyond the part of
    the image whose mask is predicted, and mirroring supplies it at the image's border.
    images: (N, C, H, W) -> (N, C, H + 2*margin, W + 2*margin) float32 tensor.
    """
    return F.pad(torch.as_tensor(images, dtype=torch.float32), (margin,) * 4, mode="reflect")


# --- training and measuring ----------------------------------------------------------------------

@dataclass
class TrainingRun:
    losses: list        # the training loss at every step
    seconds: float
    device: str


def train(model: nn.Module, images, masks, steps=STEPS, batch_size=BATCH_SIZE,
          learning_rate=LEARNING_RATE, seed=0, on=None) -> TrainingRun:
    """Train ``model`` in place with Adam on binary cross-entropy; quiet, seeded.

    images: (N, 1, S, S) mirror-padded inputs, masks: (N, 1, s, s) with s the model's output
    size. Each step draws ``batch_size`` images at random (from a generator seeded with ``seed``).
    """
    on = device() if on is None else on
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(on).train()
    inputs = torch.as_tensor(images, dtype=torch.float32).to(on)
    targets = torch.as_tensor(masks, dtype=torch.float32).to(on)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        batch = torch.randint(len(inputs), (batch_size,), generator=generator).to(on)
        loss = F.binary_cross_entropy_with_logits(model(inputs[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return TrainingRun(losses, time.perf_counter() - start, str(on))


@torch.no_grad()
def predict(model: nn.Module, images, batch_size=32) -> np.ndarray:
    """The model's probability of "shape" at every pixel: (N, 1, s, s) float32 numpy array."""
    on = next(model.parameters()).device
    model.eval()
    inputs = torch.as_tensor(images, dtype=torch.float32)
    chunks = [torch.sigmoid(model(inputs[i:i + batch_size].to(on))).cpu()
              for i in range(0, len(inputs), batch_size)]
    return torch.cat(chunks).numpy()


def edge_pixels(masks) -> np.ndarray:
    """The pixels on a shape's edge: those whose 3x3 neighbourhood holds both shape and background.
    masks (N, 1, s, s) of 0/1 -> bool array of the same shape."""
    m = torch.as_tensor(np.asarray(masks) > 0.5, dtype=torch.float32)
    padded = F.pad(m, (1, 1, 1, 1), mode="replicate")
    highest = F.max_pool2d(padded, 3, stride=1)
    lowest = -F.max_pool2d(-padded, 3, stride=1)
    return (highest != lowest).numpy()


def accuracy_on(predicted, true, where) -> float:
    """The share of the pixels ``where`` (a bool array) that ``predicted`` labels as ``true``."""
    predicted, true = np.asarray(predicted) > 0.5, np.asarray(true) > 0.5
    return float(np.mean(predicted[where] == true[where]))


def iou(predicted, true) -> float:
    """Intersection over union of two sets of 0/1 masks, pooled over every image and pixel."""
    predicted, true = np.asarray(predicted) > 0.5, np.asarray(true) > 0.5
    union = np.logical_or(predicted, true).sum()
    return float(np.logical_and(predicted, true).sum() / union) if union else 1.0
