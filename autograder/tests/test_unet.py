"""Chapter 06: the references behave as the paper says, the notebook's training reaches its IoU
target, and every check passes right answers and names each known mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import checks_on_references as checks
from helpers import Padded  # the course's block with a padded first 3x3 convolution
from tconv import checks as learner_checks  # the guard as in a learner's notebook
from tconv import (checkerboard_reference, exercises, plots, unet, unet_cases, unet_mistakes,
                   unet_plots, unet_reference)


CROP_CASES = unet_cases.crop_even_margins() + unet_cases.crop_odd_margins()
BLOCK_CASES = unet_cases.block_small()  # enough where the check stops before any forward pass


def registered(check: str) -> list:
    """The cases the registry gives ``check``'s tests (tconv/exercises.py)."""
    return exercises.BY_CHECK[check].test_cases()


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


# The notebook's training (and its ablation without skip connections) is run once, by
# test_notebooks.py, which executes chapter 06 and checks the numbers the notebook states.

def test_the_chapters_kernels_have_the_phase_sums_it_states():
    """The rule itself (a constant map stays constant iff the phase sums are equal, tested
    against F.conv_transpose2d) is chapter 07's: test_checkerboard.py."""
    sums = {name: checkerboard_reference.phase_sums(kernel, 2).tolist()
            for name, (kernel, _, _) in unet.UPSAMPLING_KERNELS.items()}
    assert sums == {"3x3 equal weights": [[1, 0.5], [0.5, 0.25]],
                    "3x3 bilinear weights": [[1, 1], [1, 1]],
                    "2x2 equal weights": [[1, 1], [1, 1]]}


def test_the_upsampling_comparison_shows_what_the_chapter_says():
    doubled = unet.upsample_four_ways(np.ones((6, 6)))
    inside = {name: values[2:-2, 2:-2] for name, values in doubled.items()}
    assert np.ptp(inside["transposed conv, 3x3 equal weights"]) > 0.5  # a checkerboard
    for name in ("transposed conv, 3x3 bilinear weights", "transposed conv, 2x2 equal weights",
                 "bilinear, then 3x3 conv"):
        assert np.allclose(inside[name], 1), name
    assert all(values.shape == (12, 12) for values in doubled.values())
    block = unet_reference.DecoderBlock(4, 2)
    response = unet.up_response(block, size=3)
    assert np.allclose(response, np.tile(response[:2, :2], (3, 3)))  # period 2
    taps = block.up.weight.detach().sum(dim=(0, 1)).numpy() + block.up.bias.detach().sum().item()
    assert np.allclose(response[:2, :2], taps, atol=1e-6)  # the four (summed) taps, repeated


def test_bilinear_upsampling_is_a_transposed_convolution_with_equal_phase_sums():
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    resized = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    line = torch.tensor([0.25, 0.75, 0.75, 0.25], dtype=torch.float64)
    kernel = torch.outer(line, line)
    transposed = F.conv_transpose2d(x, kernel[None, None], stride=2, padding=1)
    assert torch.allclose(resized[..., 1:-1, 1:-1], transposed[..., 1:-1, 1:-1])  # inside
    assert np.allclose(checkerboard_reference.phase_sums(kernel.numpy(), 2), 1)


def test_the_padded_unet_matches_sizes_with_output_size_and_the_table_says_so():
    rows = unet.padded_size_table(101, depth=4)
    assert rows[-1].size == 101
    assert [row.note for row in rows if row.note] == [
        "skip 12: without output_padding 12", "skip 25: without output_padding 24",
        "skip 50: without output_padding 50", "skip 101: without output_padding 100"]
    network = unet.UNet(unet.PaddedDecoderBlock, base_channels=2, depth=4, padding=1)
    for size in (101, 64, 37):
        with torch.no_grad():
            assert network(torch.zeros(1, 1, size, size)).shape[-2:] == (size, size)
        assert unet.padded_size_table(size, depth=4)[-1].size == size

    class WithoutOutputSize(unet.PaddedDecoderBlock):
        def forward(self, x, skip):
            return self.convolutions(torch.cat([skip, self.up(x)], dim=1))  # 2h: no output_size=

    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        unet.UNet(WithoutOutputSize, base_channels=2, depth=4, padding=1)(
            torch.zeros(1, 1, 101, 101))


def test_output_size_and_padding_differ_only_in_the_added_row_bias_against_zeros():
    torch.manual_seed(0)
    up = nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)
    x, skip = torch.randn(1, 4, 12, 12), torch.randn(1, 2, 25, 25)
    with torch.no_grad():
        chosen, padded = up(x, output_size=skip.shape[-2:]), unet.pad_to(up(x), skip)
    assert chosen.shape == padded.shape == (1, 2, 25, 25)
    assert torch.equal(chosen[..., :24, :24], padded[..., :24, :24])
    bias = up.bias.detach()[None, :, None]
    assert torch.allclose(chosen[..., 24, :], bias.expand(1, 2, 25))
    assert torch.allclose(chosen[..., :, 24], bias.expand(1, 2, 25))
    assert torch.count_nonzero(padded[..., 24, :]) == 0 and torch.count_nonzero(padded[..., 24]) == 0


def test_edge_pixels_are_the_pixels_with_both_classes_around_them():
    masks = np.zeros((1, 1, 6, 6))
    masks[0, 0, 2:4, 2:4] = 1
    edges = unet.edge_pixels(masks)[0, 0]
    assert edges.sum() == 16 and edges[1:5, 1:5].all() and not edges[0].any()
    predicted = masks.copy()
    predicted[0, 0, 1, 1] = 1
    assert unet.accuracy_on(predicted, masks, unet.edge_pixels(masks)) == 15 / 16
    assert unet.accuracy_on(predicted, masks, ~unet.edge_pixels(masks)) == 1.0


def test_the_ablation_cuts_only_the_skip_connections():
    with_skips = unet.build_model(unet_reference.DecoderBlock, seed=0)
    without = unet.build_model(unet_reference.DecoderBlock, seed=0, skips=False)
    assert unet.count_parameters(with_skips) == unet.count_parameters(without)
    for a, b in zip(with_skips.parameters(), without.parameters()):
        assert torch.equal(a, b)
    size = unet.input_size_for(unet.IMAGE_SIZE, unet.DEPTH)
    x = torch.randn(2, 1, size, size)
    seen = []
    hook = without.decoders[0].register_forward_pre_hook(lambda module, args: seen.append(args[1]))
    with torch.no_grad():
        assert not torch.allclose(with_skips(x), without(x))
    hook.remove()
    assert torch.count_nonzero(seen[0]) == 0


# --- the pictures show what they are given ----------------------------------------------------

@pytest.fixture
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def grid_texts(ax, rows: int, cols: int) -> list[list[str]]:
    """The labels ``plots.draw_grid`` wrote, row by row (each sits at the centre of its box)."""
    grid = [[None] * cols for _ in range(rows)]
    for text in ax.texts:
        x, y = text.get_position()
        grid[int(y)][int(x)] = text.get_text()
    return grid


def test_crop_window_frames_the_centered_window(close_figures):
    (ax,) = unet_plots.crop_window(7, 9, 4, 4).axes
    assert ax.get_title() == "7x9 -> 4x4: top 1, bottom 2, left 2, right 3"
    labels = grid_texts(ax, 7, 9)
    assert [row[2:6] for row in labels[1:5]] == [[f"{r},{c}" for c in range(4)] for r in range(4)]
    assert sum(label != "" for row in labels for label in row) == 16  # the margins unlabelled
    (frame,) = [p for p in ax.patches if not p.get_fill()]
    assert (frame.get_xy(), frame.get_width(), frame.get_height()) == ((2, 1), 4, 4)


def test_architecture_labels_the_papers_sizes_and_crops(close_figures):
    (ax,) = unet_plots.architecture(unet.size_table()).axes
    shown = texts(ax)
    for crop in ("crop 64 → 56", "crop 136 → 104", "crop 280 → 200", "crop 568 → 392"):
        assert crop in shown
    assert {"572", "388", "1024"} <= set(shown)


def test_samples_show_the_images_masks_and_each_prediction(close_figures):
    images, masks = unet.make_shapes(3, seed=0)
    padded = unet.mirror_pad(images, 20).numpy()
    fig = unet_plots.samples(padded, masks, masks, margin=20)
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["input", "true mask", "predicted\nprobability"]
    for k in range(3):
        np.testing.assert_array_equal(axes[0, k].images[0].get_array(), padded[k, 0])
        np.testing.assert_array_equal(axes[1, k].images[0].get_array(), masks[k, 0])
        (inner,) = axes[0, k].patches  # the mirrored border's inner edge
        assert inner.get_xy() == (19.5, 19.5) and inner.get_width() == padded.shape[-1] - 40
    fig = unet_plots.samples(images, masks, {"a": masks, "b": 1 - masks})
    axes = np.array(fig.axes).reshape(4, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["input", "true mask", "a", "b"]
    for k in range(3):
        np.testing.assert_array_equal(axes[3, k].images[0].get_array(), 1 - masks[k, 0])


def test_loss_curve_plots_every_step_and_the_running_mean(close_figures):
    losses = np.linspace(1, 0.1, 50)
    (ax,) = unet_plots.loss_curve(losses).axes
    every, mean = ax.lines
    np.testing.assert_array_equal(every.get_ydata(), losses)
    np.testing.assert_allclose(mean.get_ydata(), [losses[n:n + 25].mean() for n in range(26)])
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(24, 50))
    assert ax.get_yscale() == "log" and ax.get_title() == "training loss"


def test_upsampling_comparison_shows_each_method_on_the_image_and_on_ones(close_figures):
    image = np.eye(6)
    axes = np.array(unet_plots.upsampling_comparison(image, size=4).axes).reshape(2, 5)
    np.testing.assert_array_equal(axes[0, 0].images[0].get_array(), image)
    doubled, ones = unet.upsample_four_ways(image), unet.upsample_four_ways(np.ones((4, 4)))
    for ax, (name, values) in zip(axes[0, 1:], doubled.items()):
        np.testing.assert_array_equal(ax.images[0].get_array(), values)
        assert ax.get_title() == name.replace(", ", ",\n", 1)
    for ax, values in zip(axes[1, 1:], ones.values()):
        assert grid_texts(ax, 8, 8) == [[plots.number_label(v) for v in row]
                                        for row in np.round(values, 2)]


def test_up_response_shows_the_response(close_figures):
    response = np.arange(16.0).reshape(4, 4)
    ax = unet_plots.up_response(response).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), response)
    assert ax.get_title().startswith("the trained up-convolution on a constant map")


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
        checks.check_center_crop(crop, registered("check_center_crop"))
        checks.check_center_crop_rejects_larger(crop, registered("check_center_crop_rejects_larger"))
    for block in (unet_reference.DecoderBlock, BlockWrittenDifferently):
        checks.check_decoder_block_submodules(block, registered("check_decoder_block_submodules"))
        checks.check_decoder_block(block, registered("check_decoder_block"), picture=False)
        checks.check_decoder_block_paper_sizes(block, registered("check_decoder_block_paper_sizes"))
    assert capsys.readouterr().out.count("✓") == 10


# --- wrong answers fail, named -------------------------------------------------------------------

# (each center_crop mistake named alone: test_checks.test_every_known_mistake_is_rejected_and_named)

def test_center_crop_odd_margin_mistake_loses_the_odd_margin_cells_only():
    """The notebook's graded center_crop cells, hidden tests included, run on the mistake of
    rounding half an odd margin up: the cells of odd margins (and the edge cases, one of which has
    an odd margin) fail it; the even-margins cell and the larger-window cell pass it."""
    import contextlib
    import io

    import nbformat

    from tconv.grader import course

    wrong = unet_mistakes.CENTER_CROP[0]  # the extra row at the top

    def crop(x, height, width):
        if height > x.shape[-2] or width > x.shape[-1]:
            raise ValueError("the window is larger than the map")
        return torch.as_tensor(np.ascontiguousarray(wrong.compute(x.numpy(), height, width)))

    notebook = nbformat.read(course.SOLUTIONS / "06_unet_decoder" / "06_unet_decoder.ipynb", 4)
    passed, messages = {}, {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.startswith("center_crop") and cell.metadata["nbgrader"].get("grade"):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(cell.source,
                         {"checks": checks, "unet_cases": unet_cases, "center_crop": crop})
                passed[grade_id] = True
            except checks.CheckFailed as failed:
                passed[grade_id], messages[grade_id] = False, str(failed)
    assert passed == {"center_crop_even_margins": True, "center_crop_odd_margins": False,
                      "center_crop_edge_cases": False, "center_crop_rejects_larger_window": True}
    where = messages["center_crop_odd_margins"]
    assert "x[0, 0, 2, 2]" in where and "x[0, 0, 1, 1]" in where  # where it started, and should
    assert wrong.name in where and wrong.name in messages["center_crop_edge_cases"]


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


# (each DecoderBlock mistake named alone by check_decoder_block, and the missing crop by
# check_decoder_block_paper_sizes: test_checks.test_every_known_mistake_is_rejected_and_named)

def test_the_paper_sizes_show_only_the_missing_crop_and_the_submodules_none():
    """The other mistakes give the paper's shapes: its check passes them, so the registry names
    only the missing crop for it (unet_mistakes.DECODER_BLOCK_SHAPES)."""
    steps = registered("check_decoder_block_paper_sizes")
    for mistake in unet_mistakes.DECODER_BLOCK:
        block = unet_mistakes.as_block(mistake.compute)
        checks.check_decoder_block_submodules(block, registered("check_decoder_block_submodules"))
        if mistake in unet_mistakes.DECODER_BLOCK_SHAPES:
            assert mistake.name in failure(checks.check_decoder_block_paper_sizes, block, steps)
        else:
            checks.check_decoder_block_paper_sizes(block, steps)
    assert [m.name for m in unet_mistakes.DECODER_BLOCK_SHAPES] == ["skip connection not cropped"]


class Renamed(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.upconv = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.first = nn.Conv2d(in_channels, out_channels, 3)
        self.second = nn.Conv2d(out_channels, out_channels, 3)


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


def test_calling_the_courses_answer_earns_no_credit():
    message = failure(learner_checks.check_center_crop, unet_reference.center_crop, CROP_CASES)
    assert "tconv.unet_reference.center_crop" in message

    class Borrowed(unet_reference.DecoderBlock):
        pass

    assert "the course's answer" in failure(learner_checks.check_decoder_block, Borrowed,
                                            BLOCK_CASES, picture=False)


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


@pytest.mark.slow
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


def test_scatter_add_functions_gradcheck_runs_the_learners_code_like_every_call():
    """A backward that fails only under torch.autograd.gradcheck (its first call, the check's own
    gradient comparison, is right) is reported as the learner's crash, with the call, as any
    other call of learner code is (judge.call_learner), not as an error of the check."""
    calls = []

    def right_once(g, w, s):
        calls.append(1)
        if len(calls) > 1:
            raise ValueError("fails from the second backward on")
        return F.conv2d(g, w, stride=s)

    with pytest.raises(checks.CheckFailed) as failed:
        checks.check_scatter_add_function(scatter_add_function(grad_x=right_once), strides=(1,))
    verdict = failed.value.verdict
    assert verdict.finding == "crash" and verdict.actual == "ValueError"
    assert "torch.autograd.gradcheck" in verdict.call and "second backward" in verdict.detail


def test_the_shipped_padded_block_earns_no_visible_decoder_block_check():
    """unet.PaddedDecoderBlock ships with the learners' copy: neither it nor its obvious edit into
    an unpadded block (convolutions without padding, a crop where output_size= was) passes any of
    chapter 06's visible DecoderBlock checks."""
    import nbformat

    from tconv.grader import course, recheck
    from tconv.grader.publish import tables

    class Unpadded(unet.PaddedDecoderBlock):
        def __init__(self, in_channels, out_channels):
            super().__init__(in_channels, out_channels)
            for n, layer in enumerate(self.convolutions):
                if isinstance(layer, nn.Conv2d):
                    self.convolutions[n] = nn.Conv2d(layer.in_channels, layer.out_channels, 3,
                                                     bias=False)

        def forward(self, x, skip):
            up = self.up(x)
            skip = unet_reference.center_crop(skip, up.shape[2], up.shape[3])
            return self.convolutions(torch.cat([skip, up], dim=1))

    released = nbformat.read(course.COURSE / "06_unet_decoder" / "06_unet_decoder.ipynb",
                             as_version=4)
    visible = [call for source in tables.visible_test_sources(released)
               for call in recheck.test_cell_calls(source) or [] if call.function == "DecoderBlock"]
    assert {call.check for call in visible} == {
        "check_decoder_block_submodules", "check_decoder_block", "check_decoder_block_paper_sizes"}
    for block in (unet.PaddedDecoderBlock, Unpadded):
        for call in visible:
            kwargs = dict(call.kwargs)
            if call.check == "check_decoder_block":
                kwargs["picture"] = False
            with pytest.raises(checks.CheckFailed):
                getattr(checks, call.check)(block, *call.args, **kwargs)
    # the checks pass the graded block: they can tell the two apart
    for call in visible:
        getattr(checks, call.check)(unet_reference.DecoderBlock, *call.args, **call.kwargs)


@pytest.mark.slow
def test_without_skips_seed_1_collapses_to_background_as_the_chapter_says():
    """Chapter 06's "Over seeds" paragraph (measured by autograder/benchmarks/unet_skip_seeds.py):
    with model and batch seed 1, the network without skip connections predicts background at every
    pixel (in this seed its output is nearly the same everywhere), while the one with them
    segments."""
    from tconv.grader import course
    from tconv.unet_reference import DecoderBlock
    import nbformat

    torch.set_num_threads(1)
    margin = (unet.input_size_for(unet.IMAGE_SIZE, unet.DEPTH) - unet.IMAGE_SIZE) // 2
    images, masks = unet.make_shapes(unet.TRAIN_IMAGES, seed=unet.TRAIN_SEED)
    test_images, test_masks = unet.make_shapes(unet.TEST_IMAGES, seed=unet.TEST_SEED)
    scores = {}
    for skips in (True, False):
        model = unet.build_model(DecoderBlock, seed=1, skips=skips)
        unet.train(model, unet.mirror_pad(images, margin), masks, seed=1)
        predicted = unet.predict(model, unet.mirror_pad(test_images, margin))
        scores[skips] = (unet.iou(predicted, test_masks), predicted)
    assert scores[True][0] >= 0.75
    collapsed = scores[False][1]
    assert scores[False][0] == 0 and not (collapsed > 0.5).any()
    assert collapsed.max() - collapsed.min() < 0.01
    notebook = nbformat.read(course.SOLUTIONS / "06_unet_decoder" / "06_unet_decoder.ipynb", 4)
    stated = " ".join(next(c.source for c in notebook.cells if "**Over seeds.**" in c.source).split())
    assert "in the other three it collapsed: it predicted background everywhere" in stated
