"""Chapter 06's experiment: one set of settings for the notebook, ``unet_training`` and the
package's tests, and the device it trains on. ``unet`` hands them out as ``unet.<name>``, the way
the notebook calls them.
"""

from __future__ import annotations

import torch

IMAGE_SIZE = 32       # the masks the network predicts are IMAGE_SIZE x IMAGE_SIZE (input 72x72)
DEPTH = 2             # two poolings, two decoder blocks
BASE_CHANNELS = 4     # 4 -> 8 -> 16 channels down, 16 -> 8 -> 4 up: about 7,400 parameters
NOISE = 0.4           # the background noise's standard deviation (shapes are 0.6 to 1.0 brighter)
TRAIN_IMAGES, TEST_IMAGES = 400, 100
TRAIN_SEED, TEST_SEED = 1, 2  # different seeds: the held-out images are never trained on
# 200 steps took 7 to 18 s on one core of a shared 2-core machine at load averages 2.5 to 6
# (autograder/benchmarks/bench_unet_training.py)
STEPS, BATCH_SIZE, LEARNING_RATE = 200, 8, 1e-2
IOU_TARGET = 0.78     # the run with skip connections reaches 0.82 (autograder/tests/test_notebooks.py)
SKIP_GAIN = 0.04      # ... and the run without them at least this much less


def device() -> torch.device:
    """The GPU if there is one, the CPU otherwise."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
