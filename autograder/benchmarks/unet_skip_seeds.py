"""Chapter 06's skip ablation over seeds: for model and batch seeds 0-5 (the same images), the
held-out IoU of the course's U-Net trained with and without its skip connections, as the chapter
trains it (unet.STEPS steps, one thread), whether the network without skips predicts background
everywhere (no probability above 0.5), and the spread of its probabilities (max - min). About two to four minutes on one core. Chapter 06's paragraph "Over seeds"
quotes this table; autograder/tests/test_unet.py trains the first collapsing seed again.

    .venv/bin/python autograder/benchmarks/unet_skip_seeds.py
"""

from __future__ import annotations

import torch

from tconv import unet
from tconv.unet_reference import DecoderBlock

SEEDS = range(6)


def main() -> None:
    torch.set_num_threads(1)
    margin = (unet.input_size_for(unet.IMAGE_SIZE, unet.DEPTH) - unet.IMAGE_SIZE) // 2
    images, masks = unet.make_shapes(unet.TRAIN_IMAGES, seed=unet.TRAIN_SEED)
    test_images, test_masks = unet.make_shapes(unet.TEST_IMAGES, seed=unet.TEST_SEED)
    inputs, test_inputs = unet.mirror_pad(images, margin), unet.mirror_pad(test_images, margin)
    print("seed  IoU with skips  IoU without  without: all background, probability spread")
    for seed in SEEDS:
        scores = []
        for skips in (True, False):
            model = unet.build_model(DecoderBlock, seed=seed, skips=skips)
            unet.train(model, inputs, masks, seed=seed)
            predicted = unet.predict(model, test_inputs)
            scores.append((unet.iou(predicted, test_masks), not (predicted > 0.5).any(),
                           float(predicted.max() - predicted.min())))
        print(f"{seed:4d}  {scores[0][0]:14.3f}  {scores[1][0]:11.3f}  {scores[1][1]}, "
              f"{scores[1][2]:.3f}", flush=True)


if __name__ == "__main__":
    main()
