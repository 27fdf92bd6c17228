"""Chapter 06: the references behave as the paper says, the notebook's training reaches its IoU
target, and every check passes right answers and names each known mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tconv import checks, mistakes, unet, unet_cases, unet_plots, unet_reference

torch.set_num_threads(1)  # the machine's cores are shared; this model is too small to need more

CROP_CASES = unet_cases.crop_even_margins() + unet_cases.crop_odd_margins()
BLOCK_CASES = unet_cases.block_small() + unet_cases.block_odd_margins()


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(checks.CheckFailed) as raised:
        check(*args, **kwargs)
    return str(raised.value)


# --- the references and the paper ------------------------------------------------------------

def test_size_table_gives_the_papers_sizes():
    rows = unet.size_table(572, depth=4, base_channels=64, classes=2)
    assert (rows[0].size, rows[-1].size, rows[-1].channels) == (572, 388, 2)
    assert [row.size for row in rows if row.path == "bottom"] == [30, 28]
    assert max(row.channels for row in rows) == 1024
    crops = [row.note for row in rows if row.operation.startswith("crop")]
    assert crops == ["skip 64 -> 56: margin 8", "skip 136 -> 104: margin 32",
                     "skip 280 -> 200: margin 80", "skip 568 -> 392: margin 176"]


def test_input_size_for_inverts_the_size_table():
    assert unet.input_size_for(388, 4) == 572
    for output, depth in [(48, 2), (4, 1), (100, 3)]:
        assert unet.size_table(unet.input_size_for(output, depth), depth)[-1].size == output
    with pytest.raises(ValueError, match="output_size=47"):
        unet.input_size_for(47, 2)
    with pytest.raises(ValueError, match="odd size"):
        unet.size_table(570, depth=4)  # 570 -> 566 -> 283: an odd map meets a pooling


def test_reference_center_crop_leaves_an_odd_margin_at_the_bottom_and_right():
    x = np.arange(7 * 9).reshape(1, 1, 7, 9)
    window = unet_reference.center_crop(x, 4, 4)
    assert window[0, 0, 0].tolist() == [11, 12, 13, 14]  # row 1, columns 2..5
    assert window[0, 0, -1, -1] == 4 * 9 + 5  # row 4: two rows left below, three columns right
    tensor = unet_reference.center_crop(torch.as_tensor(x), 4, 4)
    assert isinstance(tensor, torch.Tensor) and tensor.tolist() == window.tolist()
    with pytest.raises(ValueError, match="height=8 must be at most the input's height H=7"):
        unet_reference.center_crop(x, 8, 4)
    with pytest.raises(ValueError, match="width=10"):
        unet_reference.center_crop(x, 4, 10)


def test_reference_unet_maps_its_input_tile_to_the_mask_size():
    model = unet.build_model(unet_reference.DecoderBlock)
    size = unet.input_size_for(unet.IMAGE_SIZE, unet.DEPTH)
    with torch.no_grad():
        out = model(torch.zeros(2, 1, size, size))
    assert out.shape == (2, 1, unet.IMAGE_SIZE, unet.IMAGE_SIZE)
    assert 5_000 <= unet.count_parameters(model) <= 300_000


def test_data_is_seeded_and_a_threshold_does_not_solve_it():
    images, masks = unet.make_shapes(50, seed=5)
    again, _ = unet.make_shapes(50, seed=5)
    assert np.array_equal(images, again) and set(np.unique(masks)) == {0.0, 1.0}
    assert max(unet.iou(images > t, masks) for t in (0.3, 0.5, 0.7)) < 0.6


def test_notebook_training_reaches_the_iou_target_on_held_out_images():
    margin = (unet.input_size_for(unet.IMAGE_SIZE, unet.DEPTH) - unet.IMAGE_SIZE) // 2
    images, masks = unet.make_shapes(unet.TRAIN_IMAGES, seed=unet.TRAIN_SEED)
    test_images, test_masks = unet.make_shapes(unet.TEST_IMAGES, seed=unet.TEST_SEED)
    model = unet.build_model(unet_reference.DecoderBlock, seed=0)
    run = unet.train(model, unet.mirror_pad(images, margin), masks, seed=0,
                     on=torch.device("cpu"))
    score = unet.iou(unet.predict(model, unet.mirror_pad(test_images, margin)), test_masks)
    print(f"training: {run.seconds:.1f} s, held-out IoU {score:.3f}")
    assert len(run.losses) == unet.STEPS and np.mean(run.losses[-25:]) < np.mean(run.losses[:25])
    assert score >= unet.IOU_TARGET


def test_upsampling_comparison_shows_uneven_overlap_only_for_the_3x3_kernel():
    assert set(np.unique(unet.overlap_count(4, 3)[1:-1, 1:-1])) == {1, 2, 4}
    assert set(np.unique(unet.overlap_count(4, 2))) == {1}
    doubled = unet.upsample_three_ways(np.ones((6, 6)))
    interior = {name: values[2:-2, 2:-2] for name, values in doubled.items()}
    assert np.ptp(interior["transposed conv, 3x3 kernel, stride 2"]) > 0.5  # a checkerboard
    assert np.allclose(interior["transposed conv, 2x2 kernel, stride 2"], 1)
    assert np.allclose(interior["bilinear, then 3x3 conv"], 1)
    block = unet_reference.DecoderBlock(4, 2)
    response = unet.up_response(block, size=3)
    assert np.allclose(response, np.tile(response[:2, :2], (3, 3)))  # period 2


def test_pictures_draw():
    import matplotlib.pyplot as plt

    images, masks = unet.make_shapes(3, seed=0)
    figures = [unet_plots.architecture(unet.size_table()), unet_plots.crop_window(7, 9, 4, 4),
               unet_plots.samples(unet.mirror_pad(images, 20).numpy(), masks, masks, margin=20),
               unet_plots.loss_curve(np.linspace(1, 0.1, 50)),
               unet_plots.upsampling_comparison(np.eye(6)),
               unet_plots.up_response(np.ones((4, 4)))]
    for figure in figures:
        assert isinstance(figure, plt.Figure)
        plt.close(figure)


# --- right answers pass --------------------------------------------------------------------------

def crop_by_narrow(x, height, width):
    if height > x.shape[2] or width > x.shape[3]:
        raise ValueError("window larger than the map")
    return x.narrow(2, (x.shape[2] - height) // 2, height).narrow(3, (x.shape[3] - width) // 2,
                                                                   width)


class BlockWrittenDifferently(nn.Module):
    """A right answer in another style: a ReLU module, functional calls, concatenation by index."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3)
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, (2, 2), stride=(2, 2))
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, skip):
        up = self.up(x)
        cropped = crop_by_narrow(skip, up.shape[-2], up.shape[-1])
        merged = torch.zeros(up.shape[0], 2 * up.shape[1], *up.shape[2:])
        merged[:, :up.shape[1]] = cropped
        merged[:, up.shape[1]:] = up
        return self.relu(self.conv2(F.relu(self.conv1(merged))))


def test_checks_pass_the_references_and_right_answers_written_differently(capsys):
    for crop in (unet_reference.center_crop, crop_by_narrow):
        checks.check_center_crop(crop, CROP_CASES + unet_cases.crop_edge_cases()
                                 + unet_cases.crop_random(30, 1))
        checks.check_center_crop_rejects_larger(crop, unet_cases.crop_too_large())
    for block in (unet_reference.DecoderBlock, BlockWrittenDifferently):
        checks.check_decoder_block_submodules(block)
        checks.check_decoder_block(block, BLOCK_CASES + unet_cases.block_random(10, 3),
                                   picture=False)
        checks.check_decoder_block_paper_sizes(block, unet_cases.block_paper_steps())
    assert capsys.readouterr().out.count("✓") == 10


# --- wrong answers fail, named -------------------------------------------------------------------

@pytest.mark.parametrize("mistake", mistakes.CENTER_CROP, ids=lambda m: m.name)
def test_center_crop_check_names_each_known_mistake(mistake):
    def wrong(x, height, width):
        return torch.as_tensor(np.ascontiguousarray(mistake.compute(x.numpy(), height, width)))

    message = failure(checks.check_center_crop, wrong, CROP_CASES)
    assert mistake.name in message


def test_center_crop_odd_margin_mistake_is_caught_by_the_odd_margin_cell_only():
    wrong = mistakes.CENTER_CROP[0]  # the extra row at the top

    def crop(x, height, width):
        return torch.as_tensor(np.ascontiguousarray(wrong.compute(x.numpy(), height, width)))

    checks.check_center_crop(crop, unet_cases.crop_even_margins())
    message = failure(checks.check_center_crop, crop, unet_cases.crop_odd_margins())
    assert "x[0, 0, 2, 2]" in message and "x[0, 0, 1, 1]" in message  # where it started


def test_center_crop_that_does_not_raise_or_raises_the_wrong_error_fails():
    def no_check(x, height, width):
        return x[:, :, :height, :width]

    def index_error(x, height, width):
        raise IndexError("out of range")

    assert "instead of raising ValueError" in failure(
        checks.check_center_crop_rejects_larger, no_check, unet_cases.crop_too_large())
    assert "not IndexError" in failure(
        checks.check_center_crop_rejects_larger, index_error, unet_cases.crop_too_large())


def test_center_crop_returning_numpy_for_a_tensor_fails_with_advice():
    message = failure(checks.check_center_crop, lambda x, h, w: unet_reference.center_crop(
        x.numpy(), h, w), CROP_CASES)
    assert "must return a torch tensor" in message


def block_with(mistake):
    class Wrong(unet_reference.DecoderBlock):
        def forward(self, x, skip):
            return mistake.compute(self, x, skip)
    return Wrong


@pytest.mark.parametrize("mistake", mistakes.DECODER_BLOCK, ids=lambda m: m.name)
def test_decoder_block_check_names_each_known_mistake(mistake):
    message = failure(checks.check_decoder_block, block_with(mistake), BLOCK_CASES, picture=False)
    assert mistake.name in message


def test_missing_crop_fails_the_paper_sizes_and_wrong_order_does_not():
    missing_crop, wrong_order = mistakes.DECODER_BLOCK[:2]
    assert missing_crop.name == "skip connection not cropped"
    assert wrong_order.name == "wrong concatenation order: upsampled map first"
    steps = unet_cases.block_paper_steps()
    assert missing_crop.name in failure(checks.check_decoder_block_paper_sizes,
                                        block_with(missing_crop), steps)
    checks.check_decoder_block_paper_sizes(block_with(wrong_order), steps)
    checks.check_decoder_block_submodules(block_with(missing_crop))


class Renamed(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.upconv = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.first = nn.Conv2d(in_channels, out_channels, 3)
        self.second = nn.Conv2d(out_channels, out_channels, 3)


class Padded(unet_reference.DecoderBlock):
    def __init__(self, in_channels, out_channels):
        super().__init__(in_channels, out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)


class NoBias(unet_reference.DecoderBlock):
    def __init__(self, in_channels, out_channels):
        super().__init__(in_channels, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, bias=False)


class Stub(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        raise NotImplementedError()


@pytest.mark.parametrize("block, words", [
    (Renamed, ["no submodule named up or conv1 or conv2", "self.up = nn.ConvTranspose2d",
               "self.conv1 = nn.Conv2d", "self.conv2 = nn.Conv2d", "upconv (ConvTranspose2d)"]),
    (Padded, ["self.conv1 has padding=(1, 1), expected (0, 0)", "unpadded"]),
    (NoBias, ["missing: ['conv2.bias']", "bias=True"]),
    (Stub, ["not written yet"]),
    (nn.Linear(2, 2), ["not a class"]),
], ids=["renamed", "padded", "no_bias", "stub", "instance"])
def test_decoder_block_structure_problems_are_explained(block, words):
    for check in (checks.check_decoder_block_submodules,
                  lambda b: checks.check_decoder_block(b, BLOCK_CASES, picture=False),
                  lambda b: checks.check_decoder_block_paper_sizes(b, unet_cases.block_paper_steps())):
        message = failure(check, block)
        for word in words:
            assert word in message


@pytest.mark.guarded
def test_calling_the_courses_answer_earns_no_credit():
    message = failure(checks.check_center_crop, unet_reference.center_crop, CROP_CASES)
    assert "tconv.unet_reference.center_crop" in message

    class Borrowed(unet_reference.DecoderBlock):
        pass

    assert "the course's answer" in failure(checks.check_decoder_block, Borrowed, BLOCK_CASES,
                                            picture=False)


# --- the optional autograd.Function exercise ---------------------------------------------------

def scatter_add_function(grad_x=None, grad_weight=True, forward=None):
    """A Function built like the notebook's answer; the arguments swap in known mistakes."""
    from tconv import reference

    class Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, stride):
            ctx.save_for_backward(x, weight)
            ctx.stride = stride
            if forward is not None:
                return forward(x, weight, stride)
            return torch.as_tensor(reference.conv_transpose2d_nchw(
                x.detach().numpy(), weight.detach().numpy(), stride=stride))

        @staticmethod
        def backward(ctx, grad_output):
            x, weight = ctx.saved_tensors
            s = ctx.stride
            gx = (grad_x or (lambda g, w, s: F.conv2d(g, w, stride=s)))(grad_output, weight, s)
            gw = torch.zeros_like(weight)
            for a in range(weight.shape[2]):
                for b in range(weight.shape[3]):
                    reached = grad_output[:, :, a:a + (x.shape[2] - 1) * s + 1:s,
                                          b:b + (x.shape[3] - 1) * s + 1:s]
                    gw[:, :, a, b] = torch.einsum("ncij,noij->co", x, reached)
            return gx, (gw if grad_weight else None), None
    return Function


def test_scatter_add_function_check_passes_a_right_answer_and_explains_wrong_ones():
    checks.check_scatter_add_function(scatter_add_function())
    assert "calls PyTorch's conv_transpose2d in the forward pass" in failure(
        checks.check_scatter_add_function,
        scatter_add_function(forward=lambda x, w, s: F.conv_transpose2d(x.detach(), w.detach(),
                                                                         stride=s)))
    flipped = scatter_add_function(grad_x=lambda g, w, s: F.conv2d(g, w.flip(2, 3), stride=s))
    assert "the gradient for x differs from PyTorch's" in failure(
        checks.check_scatter_add_function, flipped)
    assert "backward returned None for weight's gradient" in failure(
        checks.check_scatter_add_function, scatter_add_function(grad_weight=False))
