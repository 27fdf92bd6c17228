"""Time chapter 06's two training runs (with and without skip connections) as the notebook does
them: one thread, the reference DecoderBlock, the notebook's settings. Prints seconds per run,
the held-out IoU, and the machine's load average before and after, so a quoted range says under
what load it was measured.

    .venv/bin/python autograder/benchmarks/bench_unet_training.py [repeats]
"""

from __future__ import annotations

import os
import sys

import torch

from tconv import unet, unet_reference


def main(repeats: int = 1) -> None:
    torch.set_num_threads(1)  # as the notebook does
    margin = (unet.input_size_for(unet.IMAGE_SIZE, unet.DEPTH) - unet.IMAGE_SIZE) // 2
    images, masks = unet.make_shapes(unet.TRAIN_IMAGES, seed=unet.TRAIN_SEED)
    test_images, test_masks = unet.make_shapes(unet.TEST_IMAGES, seed=unet.TEST_SEED)
    inputs, test_inputs = unet.mirror_pad(images, margin), unet.mirror_pad(test_images, margin)
    for _ in range(repeats):
        for skips in (True, False):
            load = os.getloadavg()[0]
            model = unet.build_model(unet_reference.DecoderBlock, seed=0, skips=skips)
            run = unet.train(model, inputs, masks, seed=0, on=torch.device("cpu"))
            score = unet.iou(unet.predict(model, test_inputs), test_masks)
            print(f"skips={skips!s:<5} {unet.STEPS} steps in {run.seconds:5.1f} s  IoU {score:.3f}  "
                  f"load average {load:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
                  flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
