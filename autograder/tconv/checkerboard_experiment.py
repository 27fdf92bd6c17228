"""Chapter 07's experiment: three learned 2x upsamplers, trained on the same images, and a measure
of the checkerboard each makes.

- ``transposed``: a 3x3, stride-2 transposed convolution (padding 1, output_padding 1) to
  ``CHANNELS`` maps, ReLU, then a 3x3 convolution back to one map;
- ``resize``: nearest-neighbour resize by 2 (Odena, Dumoulin and Olah's *resize-convolution*), a
  3x3 convolution to ``CHANNELS`` maps, ReLU, then the same 3x3 convolution back to one map;
- ``subpixel``: a 3x3 convolution to ``4 * CHANNELS`` maps and ``nn.PixelShuffle(2)`` (Shi et
  al.'s sub-pixel layer), initialised with ICNR (Aitken et al., 2017; the package's
  ``checkerboard_reference.icnr``, exercise 5): at initialisation, the 3x3 convolution of the
  ``resize`` model applied at the input's resolution, then nearest resize; ReLU, then the same
  3x3 convolution back to one map.

All three learn to turn a 16x16 image (the 2x2 average of a 32x32 one) back into the 32x32 image, on
smooth random images generated from a seed. The checkerboard is measured on what each makes of a
map of ones: ``checkerboard_amplitude`` is the energy of the output at the stride-periodic
frequencies, relative to its mean (0 for a constant output).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 32        # high-resolution images, 32x32; the inputs are 16x16
TRAIN_IMAGES = 512
TEST_IMAGES = 64
TRAIN_SEED, TEST_SEED = 0, 1
CHANNELS = 8
STEPS = 400
BATCH = 16
LEARNING_RATE = 3e-3
EVERY = 25             # measure the checkerboard every EVERY steps
MARGIN = 4             # pixels left out at each border: zero padding changes them
NAMES = {"transposed": "3x3 transposed conv, stride 2", "resize": "nearest resize, then 3x3 conv",
         "subpixel": "sub-pixel 3x3 conv, ICNR"}
SEEDS = range(4)       # the model and batch seeds the chapter reports over (the images stay the same)


def smooth_images(count: int, size: int = IMAGE_SIZE, seed: int = 0) -> torch.Tensor:
    """``count`` smooth random images (N, 1, size, size): white noise blurred by a Gaussian
    (sigma 2.5 pixels, wrapping around the edges), scaled to standard deviation 0.3 around 1."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, 1, size, size, generator=generator)
    offsets = torch.arange(-6, 7, dtype=torch.float32)
    bell = torch.exp(-offsets ** 2 / (2 * 2.5 ** 2))
    bell = bell / bell.sum()
    blurred = F.conv2d(F.pad(noise, (6, 6, 6, 6), mode="circular"), bell.view(1, 1, 1, -1))
    blurred = F.conv2d(blurred, bell.view(1, 1, -1, 1))
    return 1 + 0.3 * blurred / blurred.std(dim=(2, 3), keepdim=True)


def downsample(images: torch.Tensor) -> torch.Tensor:
    """The low-resolution inputs: each 2x2 block averaged. (N, 1, 2h, 2w) -> (N, 1, h, w)"""
    return F.avg_pool2d(images, 2)


def upsamplers(channels: int = CHANNELS, seed: int = 0) -> dict[str, nn.Module]:
    """The three models, each initialised from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    transposed = nn.Sequential(
        nn.ConvTranspose2d(1, channels, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.Conv2d(channels, 1, 3, padding=1))
    torch.manual_seed(seed)
    resize = nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(), nn.Conv2d(channels, 1, 3, padding=1))
    return {"transposed": transposed, "resize": resize, "subpixel": icnr_subpixel(channels, seed)}


def icnr_subpixel(channels: int = CHANNELS, seed: int = 0, s: int = 2) -> nn.Sequential:
    """``Conv2d(1, channels * s * s, 3)``, ``PixelShuffle(s)``, ReLU, ``Conv2d(channels, 1, 3)``,
    initialised from ``torch.manual_seed(seed)`` with ICNR: the first layer's weight is
    ``checkerboard_reference.icnr`` of a ``Conv2d(1, channels, 3)``'s, its bias that layer's bias
    repeated likewise (a bias per phase, all ``s * s`` of a channel equal). Drawn in the ``resize``
    model's order, so both start from the same two 3x3 convolutions."""
    from .checkerboard_reference import icnr

    torch.manual_seed(seed)
    low = nn.Conv2d(1, channels, 3, padding=1)     # the kernel every phase starts from
    mix = nn.Conv2d(channels, 1, 3, padding=1)
    up = nn.Conv2d(1, channels * s * s, 3, padding=1)
    with torch.no_grad():
        up.weight.copy_(torch.as_tensor(icnr(low.weight.numpy(), s)))
        up.bias.copy_(low.bias.repeat_interleave(s * s))
    return nn.Sequential(up, nn.PixelShuffle(s), nn.ReLU(), mix)


def phase_means(y, s: int = 2) -> np.ndarray:
    """The mean of each of the ``s x s`` phases of a 2-D map: ``means[a, b] = y[a::s, b::s].mean()``."""
    y = np.asarray(y, dtype=np.float64)
    return np.array([[y[a::s, b::s].mean() for b in range(s)] for a in range(s)])


def checkerboard_amplitude(y, s: int = 2) -> float:
    """How strong the stride-periodic pattern of a 2-D map is, relative to its mean.

    The ``s``-periodic part of ``y`` is its phase means, tiled; its standard deviation divided by
    the map's mean is ``sqrt(E) / |Y[0, 0]|``, where ``Y`` is the map's 2-D DFT and ``E`` the energy
    at the frequencies that are multiples of ``1/s`` except 0 (for a map whose sides are multiples
    of ``s``). 0 for a constant map.
    """
    means = phase_means(y, s)
    return float(means.std() / abs(means.mean()))


@torch.no_grad()
def constant_response(model: nn.Module, size: int = 16, margin: int = MARGIN) -> np.ndarray:
    """What ``model`` makes of a ``size x size`` map of ones, without ``margin`` pixels at each
    border (what zero padding changes). -> (2*size - 2*margin, 2*size - 2*margin)"""
    out = model(torch.ones(1, 1, size, size))[0, 0]
    return out[margin:out.shape[0] - margin, margin:out.shape[1] - margin].numpy().astype(np.float64)


@dataclass
class HiddenGrid:
    """What an upsampler's layers make of a map of ones (``hidden_grid``)."""
    phase_sums: np.ndarray     # (channels, 2, 2): the first layer's phase sums, per output channel
    spread: np.ndarray         # (channels,): each channel's phase sums, std / |mean|
    hidden: np.ndarray         # (channels,): checkerboard amplitude of each hidden map after ReLU
    #                            (nan for a channel that ReLU zeroes everywhere)
    output: float              # the output's checkerboard amplitude
    phase_biases: np.ndarray   # (channels, 2, 2): the bias each phase adds (a transposed
    #                            convolution's is one per channel, the same for its four phases)


@torch.no_grad()
def hidden_grid(model: nn.Sequential, size: int = 16, margin: int = MARGIN) -> HiddenGrid:
    """Read the layers of the transposed upsampler (``upsamplers()["transposed"]``) or of the
    sub-pixel one (``upsamplers()["subpixel"]``), trained or not: the first layer's per-channel
    phase sums and phase biases, the grid each hidden channel carries on a map of ones, and the
    output's.

    A sub-pixel layer's phase ``(a, b)`` of hidden channel ``o`` is its convolution's channel
    ``o*s*s + a*s + b``, whose taps are that phase's taps of the equivalent transposed kernel
    (flipped): their sum is the phase sum."""
    from .checkerboard_reference import phase_sums

    if isinstance(model[1], nn.PixelShuffle):
        conv, shuffle, relu, _ = model
        s = shuffle.upscale_factor
        sums = conv.weight.detach().double().sum(dim=(1, 2, 3)).numpy().reshape(-1, s, s)
        biases = conv.bias.detach().double().numpy().reshape(-1, s, s)
        hidden_maps = relu(shuffle(conv(torch.ones(1, 1, size, size))))
    else:
        up, relu, _ = model
        weight = up.weight.detach().double().numpy()          # (1, channels, 3, 3)
        sums = np.stack([phase_sums(weight[0, o], up.stride[0]) for o in range(weight.shape[1])])
        biases = np.broadcast_to(up.bias.detach().double().numpy()[:, None, None], sums.shape)
        hidden_maps = relu(up(torch.ones(1, 1, size, size)))
    flat = sums.reshape(len(sums), -1)
    spread = flat.std(axis=1) / np.abs(flat.mean(axis=1))
    maps = hidden_maps[0, :, margin:-margin, margin:-margin]
    hidden = np.array([checkerboard_amplitude(m.numpy()) if m.abs().max() > 0 else np.nan
                       for m in maps])
    return HiddenGrid(sums, spread, hidden, checkerboard_amplitude(constant_response(model)),
                      np.array(biases))


@torch.no_grad()
def amplitude_without_each_channel(model: nn.Sequential) -> np.ndarray:
    """An upsampler's output amplitude on a map of ones with hidden channel ``o``
    left out of its last layer (its weights there set to 0), for each ``o``: how much of the
    output's flatness rests on the channels' grids cancelling."""
    amplitudes = []
    mix = model[-1]
    for channel in range(mix.in_channels):
        weight = mix.weight.clone()
        mix.weight[:, channel] = 0
        amplitudes.append(checkerboard_amplitude(constant_response(model)))
        mix.weight.copy_(weight)
    return np.array(amplitudes)


@dataclass
class Run:
    steps: list = field(default_factory=list)        # the steps at which the measure was taken
    amplitude: dict = field(default_factory=dict)    # name -> checkerboard amplitude per measure
    loss: dict = field(default_factory=dict)         # name -> training loss per step
    test_error: dict = field(default_factory=dict)   # name -> mean squared error, held-out images
    seconds: float = 0.0


def train(models: dict, steps: int = STEPS, seed: int = 0, every: int = EVERY) -> Run:
    """Train every model with Adam on mean squared error, on the same batches of the same images
    (drawn from ``seed``); measure each model's checkerboard every ``every`` steps."""
    started = time.perf_counter()
    images = smooth_images(TRAIN_IMAGES, seed=TRAIN_SEED)
    inputs = downsample(images)
    test_images = smooth_images(TEST_IMAGES, seed=TEST_SEED)
    run = Run(steps=list(range(0, steps + 1, every)) + ([steps] if steps % every else []))
    for name, model in models.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        generator = torch.Generator().manual_seed(seed)
        run.amplitude[name], run.loss[name] = [], []
        for step in range(steps + 1):
            if step in run.steps:
                run.amplitude[name].append(checkerboard_amplitude(constant_response(model)))
            if step == steps:
                break
            batch = torch.randint(0, TRAIN_IMAGES, (BATCH,), generator=generator)
            loss = F.mse_loss(model(inputs[batch]), images[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.loss[name].append(loss.item())
        with torch.no_grad():
            run.test_error[name] = F.mse_loss(model(downsample(test_images)), test_images).item()
    run.seconds = time.perf_counter() - started
    return run


@dataclass
class Trained:
    """One seed of the experiment (``train_seed``): the trained models, their run, and the layers
    of the transposed and sub-pixel ones read at initialisation and after training."""
    seed: int
    models: dict
    run: Run
    initial: dict      # name -> HiddenGrid before training
    final: dict        # name -> HiddenGrid after training


def train_seed(seed: int, steps: int = STEPS) -> Trained:
    """Build the three upsamplers from ``seed`` and train them on batches drawn from ``seed``
    (the images are always the same), reading their layers before and after."""
    models = upsamplers(seed=seed)
    layered = ("transposed", "subpixel")
    initial = {name: hidden_grid(models[name]) for name in layered}
    run = train(models, steps=steps, seed=seed)
    return Trained(seed, models, run, initial, {name: hidden_grid(models[name]) for name in layered})
