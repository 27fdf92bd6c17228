"""Chapter 07: the references against PyTorch, every number the chapter states, the checks against
right answers written several ways and against every known mistake, and the experiment."""

from __future__ import annotations

import ast
import math

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import checks_on_references as checks
from tconv import checkerboard_cases, checkerboard_experiment, checkerboard_mistakes
from tconv import checkerboard_reference as answers
from tconv import checks as learner_checks  # the guard as in a learner's notebook
from tconv import exercises, pytorch
from tconv.grader import course

FAST = settings(max_examples=60, deadline=None)
NOTEBOOK = course.SOLUTIONS / "07_checkerboard_subpixel" / "07_checkerboard_subpixel.ipynb"


def rng_from(seed):
    return np.random.default_rng(seed)


seeds = st.integers(0, 2**32 - 1)


# --- references vs. PyTorch ------------------------------------------------------------------

@FAST
@given(st.integers(1, 8), st.integers(1, 6), st.integers(1, 8))
def test_overlap_counts_are_pytorchs_ones_through_ones(k, s, n):
    counts = answers.overlap_counts_1d(k, s, n)
    assert counts.dtype.kind == "i"
    np.testing.assert_array_equal(counts, pytorch.overlap_counts_1d(k, s, n))
    # away from the borders (inputs on both sides reach), phase p holds ceil((k - p) / s) copies
    inner = counts[k - 1:(n - 1) * s + 1]
    for position, value in enumerate(inner, start=k - 1):
        assert value == answers.interior_counts(k, s)[position % s] == math.ceil((k - position % s) / s)


@FAST
@given(st.tuples(st.integers(1, 5), st.integers(1, 5)), st.tuples(st.integers(1, 4), st.integers(1, 4)),
       st.tuples(st.integers(1, 5), st.integers(1, 5)))
def test_2d_counts_are_rows_times_columns_as_pytorch_counts(k, s, n):
    ones = F.conv_transpose2d(torch.ones((1, 1) + n, dtype=torch.float64),
                              torch.ones((1, 1) + k, dtype=torch.float64), stride=s)[0, 0].numpy()
    np.testing.assert_array_equal(answers.overlap_counts_2d(k, s, n), ones)


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.one_of(st.integers(1, 4),
                                                       st.tuples(st.integers(1, 4), st.integers(1, 4))),
       seeds)
def test_phase_sums_are_the_inside_of_pytorchs_output_for_ones(k_h, k_w, s, seed):
    w = rng_from(seed).normal(size=(k_h, k_w))
    np.testing.assert_allclose(answers.phase_sums(w, s), pytorch.phase_sums(w, s), atol=1e-12)


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), seeds)
def test_constant_in_constant_out_iff_equal_phase_sums(k_h, k_w, s, seed):
    """The chapter's rule: inside, a map of c comes out as c times the phase sums, tiled."""
    rng = rng_from(seed)
    w = rng.normal(size=(k_h, k_w))
    if rng.random() < 0.5:  # make the phase sums equal: shift each phase's first tap
        sums = answers.phase_sums(w, s)
        for a in range(min(s, k_h)):
            for b in range(min(s, k_w)):
                w[a, b] += 1.0 - sums[a, b]
    c = 2.5
    m_h, m_w = math.ceil(k_h / s), math.ceil(k_w / s)
    n_h, n_w = 2 * m_h + 3, 2 * m_w + 3
    out = F.conv_transpose2d(torch.full((1, 1, n_h, n_w), c, dtype=torch.float64),
                             torch.as_tensor(w)[None, None], stride=s)[0, 0].numpy()
    inside = out[m_h * s:(n_h - m_h) * s, m_w * s:(n_w - m_w) * s]
    tiled = np.tile(c * answers.phase_sums(w, s), (inside.shape[0] // s, inside.shape[1] // s))
    np.testing.assert_allclose(inside, tiled, atol=1e-12)
    sums = answers.phase_sums(w, s)
    assert np.ptp(inside) < 1e-9 if np.ptp(sums) < 1e-12 else np.ptp(inside) > 1e-9


@FAST
@given(st.integers(1, 6), st.integers(1, 8), st.integers(1, 5), seeds)
def test_polyphase_1d_is_the_transposed_convolution(length, k, s, seed):
    rng = rng_from(seed)
    x, w = rng.normal(size=length), rng.normal(size=k)
    np.testing.assert_allclose(answers.conv_transpose1d_polyphase(x, w, s),
                               pytorch.conv_transpose1d(x, w, s), atol=1e-12)


@FAST
@given(st.tuples(st.integers(1, 5), st.integers(1, 5)), st.tuples(st.integers(1, 6), st.integers(1, 6)),
       st.tuples(st.integers(1, 4), st.integers(1, 4)), seeds)
def test_polyphase_2d_is_the_transposed_convolution(shape, kernel, s, seed):
    rng = rng_from(seed)
    x, w = rng.normal(size=shape), rng.normal(size=kernel)
    np.testing.assert_allclose(answers.conv_transpose2d_polyphase(x, w, s),
                               pytorch.conv_transpose2d(x, w, s), atol=1e-12)


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), seeds)
def test_pixel_shuffle_is_pytorchs(r, channels, height, width, seed):
    x = rng_from(seed).normal(size=(channels * r * r, height, width))
    np.testing.assert_array_equal(answers.pixel_shuffle(x, r), pytorch.pixel_shuffle(x, r))


def subpixel(x, w, s):
    """The notebook's route: conv2d with the stacked flipped phases, then nn.PixelShuffle."""
    weight = torch.as_tensor(checkerboard_cases.subpixel_weight(w, s))
    m = weight.shape[-1]
    return torch.nn.PixelShuffle(s)(F.conv2d(F.pad(torch.as_tensor(x)[None, None], (m - 1,) * 4),
                                             weight))[0, 0].numpy()


@FAST
@given(st.tuples(st.integers(1, 5), st.integers(1, 5)), st.tuples(st.integers(1, 7), st.integers(1, 7)),
       st.integers(1, 4), seeds)
def test_convolution_then_pixel_shuffle_is_the_transposed_convolution(shape, kernel, s, seed):
    rng = rng_from(seed)
    x, w = rng.normal(size=shape), rng.normal(size=kernel)
    expected = pytorch.conv_transpose2d(x, w, s)
    got = subpixel(x, w, s)
    np.testing.assert_allclose(got[:expected.shape[0], :expected.shape[1]], expected, atol=1e-12)
    assert not got[expected.shape[0]:].any() and not got[:, expected.shape[1]:].any()


def test_the_notebooks_subpixel_example_is_exact_to_rounding():
    torch.manual_seed(7)
    x = torch.randn(1, 1, 5, 6, dtype=torch.float64)
    w = torch.randn(4, 4, dtype=torch.float64)
    got = subpixel(x[0, 0].numpy(), w.numpy(), 2)
    assert got.shape == (12, 14) and checkerboard_cases.subpixel_weight(w.numpy(), 2).shape == (4, 1, 2, 2)
    assert np.abs(got - F.conv_transpose2d(x, w[None, None], stride=2)[0, 0].numpy()).max() < 1e-14


# --- every number the chapter states --------------------------------------------------------

def test_counts_in_the_prose():
    assert answers.overlap_counts_1d(3, 2, 4).tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    assert answers.interior_counts(3, 2).tolist() == [2, 1]
    inside = {(k, s): np.outer(answers.interior_counts(k, s), answers.interior_counts(k, s))
              for k, s in [(3, 2), (2, 2), (4, 2), (5, 3)]}
    assert inside[3, 2].ravel().tolist() == [4, 2, 2, 1]
    assert inside[2, 2].ravel().tolist() == [1] * 4
    assert inside[4, 2].ravel().tolist() == [4] * 4
    assert inside[5, 3].ravel().tolist() == [4, 4, 2, 4, 4, 2, 2, 2, 1]
    for k in range(1, 9):
        for s in range(1, 5):
            even = len(set(answers.interior_counts(k, s).tolist())) == 1
            assert even == (k % s == 0), (k, s)


def test_phase_sums_of_the_chapters_kernels():
    assert answers.phase_sums(checkerboard_cases.UNEVEN_2X2, 2).tolist() == [[0.9, 0.3], [0.2, 0.6]]
    assert checkerboard_cases.bilinear_kernel(3).tolist() == [[0.25, 0.5, 0.25], [0.5, 1, 0.5],
                                                        [0.25, 0.5, 0.25]]
    assert answers.phase_sums(checkerboard_cases.bilinear_kernel(3), 2).tolist() == [[1, 1], [1, 1]]
    assert answers.phase_sums(checkerboard_cases.AVERAGING_3X3, 2).tolist() == [[1, 0.5], [0.5, 0.25]]
    assert checkerboard_cases.bilinear_kernel(4)[0].tolist() == [0.0625, 0.1875, 0.1875, 0.0625]


@pytest.mark.parametrize("s", [1, 2, 3, 4, 5])
def test_the_bilinear_kernel_of_size_2s_has_phase_sums_one(s):
    np.testing.assert_allclose(answers.phase_sums(checkerboard_cases.bilinear_kernel(2 * s), s),
                               np.ones((s, s)), atol=1e-12)


@pytest.mark.parametrize("s", [2, 3, 4, 5])
def test_fcns_bilinear_kernel_is_interpolation_but_for_the_outer_rows_and_columns(s):
    """FCN's recipe: k = 2s - s mod 2 taps (2s for even s), padding s // 2: bilinear interpolation
    (align_corners=False) except in the outermost s // 2 rows and columns; its phase sums are all
    1."""
    k = 2 * s - s % 2
    kernel = checkerboard_cases.bilinear_kernel(k)
    np.testing.assert_allclose(answers.phase_sums(kernel, s), np.ones((s, s)), atol=1e-12)
    x = torch.as_tensor(rng_from(s).normal(size=(1, 1, 6, 7)))
    up = F.conv_transpose2d(x, torch.as_tensor(kernel)[None, None], stride=s, padding=s // 2)
    differs = ((up - F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)).abs()
               > 1e-12)[0, 0].numpy()
    width = s // 2
    ring = np.ones(differs.shape, dtype=bool)
    ring[width:-width, width:-width] = False
    assert (differs == ring).all()
    if s % 2:  # 2s taps for an odd stride match no padding: the output cannot have s times the size
        assert all((6 - 1) * s + 2 * s - 2 * p != 6 * s for p in range(2 * s))


def test_nearest_resize_then_a_3x3_conv_is_a_4x4_transposed_conv_with_equal_phase_sums():
    """Resize-then-convolve is itself a stride-2 transposed convolution: its 4x4 kernel is the 3x3
    one, flipped, spread over every 2x2 block, so each of its phases sums the whole 3x3 kernel."""
    rng = rng_from(11)
    k3 = torch.as_tensor(rng.normal(size=(3, 3)))
    x = torch.as_tensor(rng.normal(size=(1, 1, 5, 6)))
    resized = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), k3[None, None], padding=1)
    k4 = checkerboard_cases.nearest_resize_kernel(k3.numpy())
    assert k4.shape == (4, 4)
    transposed = F.conv_transpose2d(x, torch.as_tensor(k4)[None, None], stride=2, padding=1)
    assert (resized - transposed).abs().max().item() < 1e-12
    np.testing.assert_allclose(answers.phase_sums(k4, 2), np.full((2, 2), k3.sum().item()), atol=1e-12)


@FAST
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), seeds)
def test_the_rule_with_channels_sums_each_input_channels_phase_sums(c_in, c_out, k, s, seed):
    """Constant inputs c_i give output channel o the phase pattern sum_i c_i * phase_sums(W[i, o])
    plus its bias, tiled: constant iff that combination's phase sums are equal."""
    rng = rng_from(seed)
    weight, bias, c = rng.normal(size=(c_in, c_out, k, k)), rng.normal(size=c_out), rng.normal(size=c_in)
    m = math.ceil(k / s)
    n = 2 * m + 3
    x = torch.as_tensor(np.broadcast_to(c[None, :, None, None], (1, c_in, n, n)).copy())
    out = F.conv_transpose2d(x, torch.as_tensor(weight), torch.as_tensor(bias), stride=s)[0].numpy()
    for o in range(c_out):
        pattern = sum(c[i] * answers.phase_sums(weight[i, o], s) for i in range(c_in)) + bias[o]
        inside = out[o, m * s:(n - m) * s, m * s:(n - m) * s]
        np.testing.assert_allclose(inside, np.tile(pattern, (inside.shape[0] // s, inside.shape[1] // s)),
                                   atol=1e-12)


def test_a_subpixel_layer_with_a_bias_per_phase_makes_a_grid_no_transposed_conv_can():
    """Zero weights and biases [0, 1, 1, 0]: the sub-pixel layer turns a map of zeros into a grid;
    a transposed convolution turns it into its bias, everywhere."""
    layer = torch.nn.Conv2d(1, 4, 1)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor([0.0, 1.0, 1.0, 0.0]))
        grid = torch.nn.PixelShuffle(2)(layer(torch.zeros(1, 1, 3, 3)))[0, 0]
        transposed = torch.nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)
        flat = transposed(torch.zeros(1, 1, 3, 3))[0, 0]
    assert grid.tolist() == np.tile([[0.0, 1.0], [1.0, 0.0]], (3, 3)).tolist()
    assert (flat == transposed.bias).all()


@pytest.fixture(scope="module")
def seed_0():
    """The chapter's experiment as the notebook runs it: seed 0, every step, the three models."""
    torch.set_num_threads(1)
    return checkerboard_experiment.train_seed(0)


@pytest.fixture(scope="module")
def trained_upsamplers(seed_0):
    return seed_0.models


@pytest.fixture(scope="module")
def over_seeds(seed_0):
    """The experiment over the chapter's seeds, seed 0 trained once (for all the tests here)."""
    torch.set_num_threads(1)
    return [seed_0] + [checkerboard_experiment.train_seed(seed)
                       for seed in checkerboard_experiment.SEEDS if seed != 0]


@pytest.mark.slow
def test_the_trained_transposed_upsampler_hides_its_grid_it_does_not_remove_it(trained_upsamplers):
    """The experiment's conclusion, read from the trained layers: the first layer's per-channel
    phase sums stay unequal, the hidden channels carry a grid, and the output is nearly flat
    because the last convolution cancels the grids across channels."""
    found = checkerboard_experiment.hidden_grid(trained_upsamplers["transposed"])
    assert found.phase_sums.shape == (checkerboard_experiment.CHANNELS, 2, 2)
    assert (found.spread > 0.1).all(), found.spread
    alive = found.hidden[~np.isnan(found.hidden)]
    assert len(alive) >= checkerboard_experiment.CHANNELS // 2 and (alive > 0.1).all(), found.hidden
    assert np.nanmax(found.hidden) > 1, found.hidden
    assert found.output < 0.001 < 0.1 * alive.min()
    resize = trained_upsamplers["resize"]
    assert checkerboard_experiment.checkerboard_amplitude(
        checkerboard_experiment.constant_response(resize)) < 1e-6


def test_a_hidden_grid_is_read_from_the_layers_not_assumed():
    """The measure finds no grid where there is none: a first layer with equal phase sums (the 3x3
    bilinear kernel in every channel) and positive biases."""
    model = checkerboard_experiment.upsamplers(seed=0)["transposed"]
    with torch.no_grad():
        model[0].weight.copy_(torch.as_tensor(checkerboard_cases.bilinear_kernel(3)))
        model[0].bias.fill_(0.1)
    found = checkerboard_experiment.hidden_grid(model)
    assert np.allclose(found.spread, 0) and np.allclose(found.hidden, 0, atol=1e-6)
    assert found.output < 1e-6


def test_random_transposed_convs_make_a_grid_and_bilinear_and_resize_do_not():
    """The notebook's four responses to a map of ones (seed 0), two border pixels left out."""
    torch.manual_seed(0)
    ones = torch.ones(1, 1, 8, 8)
    with torch.no_grad():
        three = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)(ones)
        four = torch.nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)(ones)
        bilinear = F.conv_transpose2d(ones, torch.as_tensor(checkerboard_cases.bilinear_kernel(4))
                                      [None, None].float(), stride=2, padding=1)
        resized = torch.nn.Conv2d(1, 1, 3, padding=1)(F.interpolate(ones, scale_factor=2))
    amplitude = checkerboard_experiment.checkerboard_amplitude
    for grid in (three, four):
        assert amplitude(grid[0, 0, 2:-2, 2:-2].numpy()) > 0.1
    for flat in (bilinear, resized):
        inside = flat[0, 0, 2:-2, 2:-2]
        assert (inside.max() - inside.min()).item() < 1e-6


def test_the_gradient_of_a_strided_convolution_is_the_transposed_convolution():
    x = torch.randn(1, 1, 17, 17, requires_grad=True)
    kernel = torch.ones(1, 1, 3, 3)
    y = F.conv2d(x, kernel, stride=2)
    assert tuple(y.shape) == (1, 1, 8, 8)
    y.sum().backward()
    assert torch.equal(x.grad[0, 0], F.conv_transpose2d(torch.ones_like(y), kernel, stride=2)[0, 0])
    assert sorted(set(x.grad[0, 0, 2:-2, 2:-2].flatten().tolist())) == [1.0, 2.0, 4.0]
    x16 = torch.randn(1, 1, 16, 16, requires_grad=True)
    four = torch.autograd.grad(F.conv2d(x16, torch.ones(1, 1, 4, 4), stride=2).sum(), x16)[0][0, 0]
    assert set(four[2:-2, 2:-2].flatten().tolist()) == {4.0}


# --- the checkerboard measure and the experiment -----------------------------------------------

@FAST
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), seeds)
def test_checkerboard_amplitude_is_the_energy_at_the_periodic_frequencies(s, rows, cols, seed):
    y = 3.0 + rng_from(seed).normal(size=(rows * s, cols * s))
    spectrum = np.fft.fft2(y)
    periodic = np.zeros(y.shape, dtype=bool)
    periodic[::rows, ::cols] = True   # the frequencies that are multiples of 1/s
    periodic[0, 0] = False
    expected = math.sqrt((np.abs(spectrum[periodic]) ** 2).sum()) / abs(spectrum[0, 0])
    assert checkerboard_experiment.checkerboard_amplitude(y, s) == pytest.approx(expected, rel=1e-9)
    assert checkerboard_experiment.checkerboard_amplitude(np.full((4, 4), 2.0)) == 0


# --- the checks: right answers pass, whatever their form; every mistake is named ---------------

def counts_add_at(k, s, n):
    counts = np.zeros((n - 1) * s + k)
    np.add.at(counts, (np.arange(n)[:, None] * s + np.arange(k)[None, :]).ravel(), 1)
    return counts


def counts_gather(k, s, n):
    return [sum(1 for j in range(n) if 0 <= o - j * s < k) for o in range((n - 1) * s + k)]


def phase_sums_by_mask(w, s):
    w = np.asarray(w, dtype=np.float32)
    s_h, s_w = s if isinstance(s, tuple) else (s, s)
    rows, cols = np.indices(w.shape)
    return np.array([[w[(rows % s_h == a) & (cols % s_w == b)].sum() for b in range(s_w)]
                     for a in range(s_h)])


def polyphase_by_scatter(x, w, stride=1):
    out = np.zeros((len(x) - 1) * stride + len(w))
    for p in range(stride):
        phase = np.asarray(w, dtype=float)[p::stride]
        piece = np.zeros(len(x) + max(len(phase), 1) - 1)
        for j, value in enumerate(x):
            piece[j:j + len(phase)] += value * phase
        out[p::stride] = piece[:len(out[p::stride])]
    return out


def shuffle_by_loops(x, r):
    x = np.asarray(x)
    c = x.shape[0] // (r * r)
    out = np.zeros((c, x.shape[1] * r, x.shape[2] * r), dtype=np.float32)
    for channel in range(x.shape[0]):
        o, rest = divmod(channel, r * r)
        i, j = divmod(rest, r)
        out[o, i::r, j::r] = x[channel]
    return out.tolist()


def icnr_by_loops(w, s):
    w = np.asarray(w)
    out = np.zeros((w.shape[0] * s * s,) + w.shape[1:], dtype=np.float64)
    for channel in range(out.shape[0]):
        out[channel] = w[channel // (s * s)]
    return out


CHAPTER = [exercise for exercise in exercises.EXERCISES if exercise.chapter == "07"]
REFERENCES = {exercise.check: exercise.reference for exercise in CHAPTER}  # check -> reference
OTHER_WAYS = {  # right answers written otherwise than the reference
    "overlap_counts_1d": [counts_add_at, counts_gather],
    "phase_sums": [phase_sums_by_mask],
    "conv_transpose1d_polyphase": [polyphase_by_scatter],
    "pixel_shuffle": [shuffle_by_loops],
    "icnr": [icnr_by_loops],
}
# The chapter's exercises, from the registry (test_checks.py runs every exercise's reference and
# every known mistake through its check).
EXERCISES = {e.learner: (getattr(checks, e.check), e.reference, e.mistakes, OTHER_WAYS[e.learner],
                         e.test_cases) for e in CHAPTER}


@pytest.mark.parametrize("exercise", EXERCISES)
def test_checks_pass_the_reference_and_right_answers_written_otherwise(exercise, capsys):
    check, reference_answer, _, others, pool = EXERCISES[exercise]
    for answer in [reference_answer] + others:
        check(answer, pool(), picture=False)
        assert capsys.readouterr().out.startswith(f"✓ {exercise}:"), answer


def test_the_first_visible_case_names_the_polyphase_mistakes_apart():
    """The first example (K = 4, stride 2) tells each polyphase mistake from the others, but for
    the integer output, which its whole numbers cannot show: check 8's second case (an integer
    input, a fractional kernel) does, and names it."""
    case = checkerboard_cases.polyphase_example()[0]
    integer, *others = checkerboard_mistakes.CONV_TRANSPOSE1D_POLYPHASE
    assert integer.name == "output array of integers"
    np.testing.assert_array_equal(integer.compute(*case.args),
                                  answers.conv_transpose1d_polyphase(*case.args))
    produced = [tuple(np.round(m.compute(*case.args), 9)) for m in others]
    assert len(set(produced)) == len(produced)
    for mistake, shown in [(m, case) for m in others] + [
            (integer, checkerboard_cases.polyphase_edge()[1])]:
        with pytest.raises(checks.CheckFailed) as failure:
            checks.check_conv_transpose1d_polyphase(mistake.compute, [shown], picture=False)
        assert str(failure.value).count("known mistake") == 1 and mistake.name in str(failure.value)


def test_an_integer_output_passes_the_try_it_and_the_whole_number_cases_but_not_check_8():
    """The slip the issue found: out = np.zeros(..., dtype=int). The try-it's integer example
    prints [2 4 9 6 9]; check 8's visible cases reject it and name the mistake."""
    def into_integers(x, w, stride=1):
        out = np.zeros((len(x) - 1) * stride + len(w), dtype=int)
        for p in range(min(stride, len(w))):
            out[p::stride] = np.convolve(x, np.asarray(w)[p::stride])
        return out

    assert into_integers(np.array([2, 3]), np.array([1.0, 2.0, 3.0]), 2).tolist() == [2, 4, 9, 6, 9]
    checks.check_conv_transpose1d_polyphase(into_integers, checkerboard_cases.polyphase_example(),
                                            picture=False)
    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_conv_transpose1d_polyphase(into_integers, checkerboard_cases.polyphase_edge()[:2],
                                                picture=False)
    assert "known mistake, output array of integers:" in str(failure.value)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_an_answer_off_by_one_value_is_rejected_at_its_position(exercise):
    check, reference_answer, _, _, pool = EXERCISES[exercise]

    def off_by_one(*args):
        out = np.array(reference_answer(*args), dtype=float)
        out.flat[-1] += 1
        return out

    with pytest.raises(checks.CheckFailed) as failure:
        check(off_by_one, pool()[:1], picture=False)
    assert "wrong value at index" in str(failure.value)


def test_a_phase_with_no_taps_that_crashes_is_reported_with_the_call():
    def convolve_every_phase(x, w, stride=1):
        out = np.zeros((len(x) - 1) * stride + len(w))
        for p in range(stride):
            out[p::stride] = np.convolve(x, np.asarray(w, dtype=float)[p::stride])
        return out

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_conv_transpose1d_polyphase(convolve_every_phase, checkerboard_cases.polyphase_edge()[:1],
                                                picture=False)
    message = str(failure.value)
    assert "conv_transpose1d_polyphase(x=[1, -2, 3], w=[2, 5], stride=3)" in message
    assert "raised ValueError" in message


def test_the_stub_says_to_write_the_function():
    def stub(x, r):
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_pixel_shuffle(stub, checkerboard_cases.shuffle_example(), picture=False)
    assert "not written yet" in str(failure.value)


def test_calling_pytorchs_transposed_convolution_earns_nothing():
    def through_pytorch(x, w, stride=1):
        import torch.nn.functional as functional

        return functional.conv_transpose1d(torch.tensor(np.asarray(x, float))[None, None],
                                           torch.tensor(np.asarray(w, float))[None, None],
                                           stride=stride)[0, 0].numpy()

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_conv_transpose1d_polyphase(through_pytorch, checkerboard_cases.polyphase_example(),
                                                picture=False)
    assert "earns no credit" in str(failure.value)


def test_calling_pytorchs_pixel_shuffle_earns_nothing():
    def through_pytorch(x, r):
        return torch.nn.PixelShuffle(r)(torch.tensor(np.asarray(x, float))).numpy()

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_pixel_shuffle(through_pytorch, checkerboard_cases.shuffle_example(), picture=False)
    assert "earns no credit" in str(failure.value)


def test_calling_the_chapters_reference_earns_nothing():
    def through_the_answers(k, s, n):
        from tconv import checkerboard_reference

        return checkerboard_reference.overlap_counts_1d(k, s, n)

    with pytest.raises(checks.CheckFailed) as failure:
        learner_checks.check_overlap_counts_1d(through_the_answers,
                                               checkerboard_cases.counts_example(), picture=False)
    assert "earns no credit" in str(failure.value)


def test_calling_the_chapters_pytorch_twin_earns_nothing():
    def through_the_twin(x, r):
        return pytorch.pixel_shuffle(x, r)

    with pytest.raises(checks.CheckFailed) as failure:
        learner_checks.check_pixel_shuffle(through_the_twin, checkerboard_cases.shuffle_example(),
                                           picture=False)
    assert "earns no credit" in str(failure.value)


def test_try_it_prints_the_answer_or_the_error_and_never_raises(capsys):
    """The notebook's try-it cells use checks.try_it, as every chapter's do."""
    checks.try_it(answers.overlap_counts_1d, 3, 2, 4)
    assert capsys.readouterr().out.strip() == "[1 1 2 1 2 1 2 1 1]"

    def stub(k, s, n):
        raise NotImplementedError()

    checks.try_it(stub, 3, 2, 4)
    assert "stub stopped at `raise NotImplementedError()`" in capsys.readouterr().out
    checks.try_it(lambda k, s, n: np.zeros(2)[5], 3, 2, 4)
    assert "raised IndexError" in capsys.readouterr().out


@pytest.mark.parametrize("call, words", [
    (lambda: answers.overlap_counts_1d(0, 2, 3), "k=0 must be an int >= 1"),
    (lambda: answers.phase_sums(np.ones(3), 2), "w must be a 2-D array"),
    (lambda: answers.phase_sums(np.ones((2, 2)), (2, 0)), "s[1]=0"),
    (lambda: answers.pixel_shuffle(np.ones((3, 2, 2)), 2), "needs a multiple of r*r = 4"),
    (lambda: answers.conv_transpose1d_polyphase([1.0], [1.0], 0), "stride=0"),
])
def test_invalid_arguments_are_named(call, words):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert words in str(error.value)


# --- the notebook's test cells can be replayed by the grader's re-check ------------------------

def graded_cells():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_every_test_cell_is_a_sequence_of_replayable_check_calls():
    namespace = {"np": np, "checkerboard_cases": checkerboard_cases}
    seen = set()
    for cell in graded_cells():
        for statement in ast.parse(cell.source).body:
            call = statement.value
            assert (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.value.id == "checks" and isinstance(call.args[0], ast.Name)), (
                cell.metadata["nbgrader"]["grade_id"])
            name = call.func.attr
            assert name in REFERENCES and getattr(checks, name)
            arguments = [eval(compile(ast.Expression(a), "<cell>", "eval"), dict(namespace))
                         for a in call.args[1:]]
            # the reference with the learner function's signature passes the recorded calls
            getattr(checks, name)(REFERENCES[name], *arguments, picture=False)
            seen.add(name)
    assert seen == set(REFERENCES)


def test_every_exercise_has_a_hidden_test_and_a_visible_one():
    cells = graded_cells()
    assert sum(c.metadata["nbgrader"]["points"] for c in cells) == 15
    for name in REFERENCES:
        mine = [c for c in cells if f"checks.{name}(" in c.source]
        assert any("BEGIN HIDDEN TESTS" in c.source for c in mine), name
        assert any(c.source.split("### BEGIN HIDDEN TESTS")[0].strip() for c in mine), name


def _stated_conclusion() -> str:
    return next(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if "Its layers show how" in c.source)


@pytest.mark.slow
def test_the_stated_hidden_grid_and_its_fragility_are_seed_0s(trained_upsamplers):
    model = trained_upsamplers["transposed"]
    found = checkerboard_experiment.hidden_grid(model)
    dropped = checkerboard_experiment.amplitude_without_each_channel(model)
    stated = " ".join(_stated_conclusion().split())
    assert (f"std over mean from {found.spread.min():.2f} to {found.spread.max():.2g}" in stated)
    assert (f"grids of amplitude {np.nanmin(found.hidden):.2f} to {np.nanmax(found.hidden):.2g}"
            in stated)
    assert f"as much as {dropped.max():.1g}, eighty times" in stated
    assert 70 <= dropped.max() / found.output <= 90
    # leaving a channel out changes the output's amplitude: the measure is not blind to it
    assert checkerboard_experiment.checkerboard_amplitude(
        checkerboard_experiment.constant_response(model)) == pytest.approx(found.output)


def _cell_source(cell_id: str) -> str:
    """A cell of the chapter, its lines joined by spaces."""
    return " ".join(next(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
                         if c.get("id") == cell_id).split())


def _span(values) -> str:
    """'a to b' (2 significant digits), or 'a' when every value is a."""
    low, high = f"{min(values):.2g}", f"{max(values):.2g}"
    return low if min(values) == max(values) else f"{low} to {high}"


@pytest.mark.slow
def test_over_seeds_the_table_of_medians_and_ranges_is_the_stated_one(over_seeds):
    """Model and batch seeds 0-3, all three upsamplers: the over-seeds table, row by row."""
    stated = _cell_source("over-seeds")
    for name, label in (("transposed", "transposed"), ("resize", "resize"),
                        ("subpixel", "sub-pixel, ICNR")):
        start = [trained.run.amplitude[name][0] for trained in over_seeds]
        end = [trained.run.amplitude[name][-1] for trained in over_seeds]
        error = [trained.run.test_error[name] for trained in over_seeds]
        row = (f"| {label} | {_span(start)} | {np.median(end):.2g} ({min(end):.2g} to "
               f"{max(end):.2g}) | {np.median(error):.4f} ({min(error):.4f} to {max(error):.4f}) |")
        assert row in stated, (row, stated)


@pytest.mark.slow
def test_over_seeds_the_grid_is_hidden_and_icnr_flat_at_the_start_ends_like_the_transposed(over_seeds):
    """The sentences under the table: the transposed upsampler's hidden grids and flat output in
    every run; the sub-pixel one exactly flat at step 0, a peak within 100 steps, an end inside the
    transposed one's range (below it in three runs, above in seed 0), its phase sums unequal; the
    resize one at 0 at every step of every run."""
    stated = _cell_source("over-seeds")
    transposed = [trained.final["transposed"] for trained in over_seeds]
    assert min(np.nanmin(found.hidden) for found in transposed) > 0.1
    assert max(found.output for found in transposed) < 0.006
    assert "kept grids of amplitude above 0.1 while the output stayed below 0.006" in stated
    steps = over_seeds[0].run.steps
    subpixel = [trained.run.amplitude["subpixel"] for trained in over_seeds]
    assert all(curve[0] == 0 for curve in subpixel)
    assert all(trained.initial["subpixel"].output == 0 for trained in over_seeds)
    assert all((trained.initial["subpixel"].spread == 0).all() for trained in over_seeds)
    assert "was exactly 0 at step 0 in every run" in stated
    peaks = [max(curve) for curve in subpixel]
    assert all(steps[int(np.argmax(curve))] <= 100 for curve in subpixel)
    assert 0.01 <= min(peaks) and max(peaks) <= 0.02, peaks
    assert "peaked between 0.01 and 0.02 within the first 100 steps" in stated
    ends = {name: [trained.run.amplitude[name][-1] for trained in over_seeds]
            for name in checkerboard_experiment.NAMES}
    assert min(ends["transposed"]) < min(ends["subpixel"]) <= max(ends["subpixel"]) < max(
        ends["transposed"])
    below = [icnr < transposed for icnr, transposed in zip(ends["subpixel"], ends["transposed"])]
    assert below == [False, True, True, True], below
    assert ("ended inside the transposed upsampler's range: below it in three runs of four, "
            "above it in one (seed 0, the run above)") in stated
    assert "training brought back one of the transposed upsampler's size" in stated
    medians = {name: [np.median(trained.final[name].spread) for trained in over_seeds]
               for name in ("subpixel", "transposed")}
    assert min(medians["subpixel"]) > 0.1
    assert (f"from {min(medians['subpixel']):.2f} to {max(medians['subpixel']):.2f}; the "
            f"transposed upsampler's from {min(medians['transposed']):.2f} to "
            f"{max(medians['transposed']):.2g})") in stated, medians
    assert all(max(trained.run.amplitude["resize"]) == 0 for trained in over_seeds)
    assert "The resize upsampler's amplitude was 0 in every run" in stated


@pytest.mark.slow
def test_the_stated_icnr_run_is_seed_0s(seed_0):
    """The paragraph after the sub-pixel upsampler's layers: seed 0's curve, phase sums, hidden
    grids and the amplitude without one hidden channel."""
    stated = _cell_source("icnr-trained-after")
    curve, transposed_end = seed_0.run.amplitude["subpixel"], seed_0.run.amplitude["transposed"][-1]
    peak = int(np.argmax(curve))
    assert curve[0] == 0
    assert f"rose to {curve[peak]:.2g} by step {seed_0.run.steps[peak]}" in stated
    assert f"ended at {curve[-1]:.2g}, about three times the transposed" in stated
    assert 2.5 < curve[-1] / transposed_end < 3.5
    at_start, found = seed_0.initial["subpixel"], seed_0.final["subpixel"]
    assert (at_start.spread == 0).all() and np.ptp(at_start.phase_biases, axis=(1, 2)).max() == 0
    assert (np.ptp(found.phase_biases, axis=(1, 2)) > 0).all()
    assert f"std over mean from {found.spread.min():.1g} to {found.spread.max():.2g}" in stated
    assert f"grids of amplitude up to {np.nanmax(found.hidden):.2g}" in stated
    dropped = checkerboard_experiment.amplitude_without_each_channel(seed_0.models["subpixel"])
    assert f"rises to {dropped.max():.2g}" in stated and dropped.max() > 10 * found.output


def test_the_icnr_upsampler_starts_as_the_resize_models_convolution_then_nearest_resize(
        monkeypatch):
    """For seeds 0-3, untrained: the sub-pixel layer with ICNR is the resize model's first
    convolution at the input's resolution, then nearest resize; its phase sums and biases are
    equal in every channel; a map of ones gives exactly no grid; and its weight comes from the
    package's ``icnr`` (called, not copied)."""
    calls = []
    real = answers.icnr
    monkeypatch.setattr(answers, "icnr", lambda w, s: calls.append(s) or real(w, s))
    x = torch.randn(2, 1, 9, 11, generator=torch.Generator().manual_seed(3))
    for seed in checkerboard_experiment.SEEDS:
        models = checkerboard_experiment.upsamplers(seed=seed)
        subpixel, resize = models["subpixel"], models["resize"]
        assert calls[-1] == 2
        with torch.no_grad():
            hidden = subpixel[1](subpixel[0](x))
            expected = F.interpolate(resize[1](x), scale_factor=2, mode="nearest")
        assert torch.allclose(hidden, expected, atol=1e-6), (hidden - expected).abs().max()
        assert torch.equal(subpixel[3].weight, resize[3].weight)
        parameters = [sum(p.numel() for p in layer.parameters())
                      for layer in (subpixel[0], resize[1], models["transposed"][0])]
        assert parameters == [320, 80, 80]  # "four times the parameters (320 against 80)"
        found = checkerboard_experiment.hidden_grid(subpixel)
        assert (found.spread == 0).all() and np.ptp(found.phase_biases, axis=(1, 2)).max() == 0
        assert found.output == 0 and checkerboard_experiment.checkerboard_amplitude(
            checkerboard_experiment.constant_response(subpixel)) == 0
        assert checkerboard_experiment.checkerboard_amplitude(
            checkerboard_experiment.constant_response(models["transposed"])) > 0.1
    assert len(calls) == len(checkerboard_experiment.SEEDS)


def test_a_sub_pixel_layers_phase_sums_and_biases_are_what_pytorch_makes_of_ones():
    """Random (not ICNR) weights and biases: for each hidden channel, the phase sums plus the
    phase biases that ``hidden_grid`` reads are the values PyTorch's convolution and pixel
    shuffle give a map of ones at the four phases, away from the borders."""
    model = checkerboard_experiment.upsamplers(seed=5)["subpixel"]
    with torch.no_grad():
        for parameter in (model[0].weight, model[0].bias):
            parameter.copy_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(9)))
        maps = model[1](model[0](torch.ones(1, 1, 8, 8)))[0].double().numpy()
    found = checkerboard_experiment.hidden_grid(model)
    assert np.ptp(found.phase_biases, axis=(1, 2)).min() > 0 and found.spread.min() > 0
    assert np.allclose(found.phase_sums + found.phase_biases, maps[:, 4:6, 4:6], atol=1e-5)
    assert np.allclose(maps[:, 4:6, 4:6], maps[:, 6:8, 8:10], atol=1e-5)


def test_the_errors_of_chapter_07s_slips_come_with_a_hint_that_names_them():
    """A bool output array, np.convolve on a phase with no taps, a stride pair used whole, an int
    stride unpacked as a pair: each error message comes with the hint for it, and the bool one is
    not told its array holds integers."""
    def bool_output(x, w, stride=1):
        out = np.zeros((len(x) - 1) * stride + len(w), dtype=bool)
        for j in range(len(x)):
            out[j * stride:j * stride + len(w)] += x[j] * np.asarray(w, dtype=float)
        return out

    def every_phase(x, w, stride=1):
        out = np.zeros((len(x) - 1) * stride + len(w))
        for p in range(stride):
            out[p::stride] = np.convolve(x, np.asarray(w, dtype=float)[p::stride])
        return out

    def pair_used_whole(w, s):
        return np.array([[np.asarray(w)[a::s, b::s].sum() for b in range(2)] for a in range(2)])

    def int_unpacked(w, s):
        s_h, s_w = s
        return np.zeros((s_h, s_w))

    for check, answer, case_list, words in [
        (checks.check_conv_transpose1d_polyphase, bool_output, checkerboard_cases.polyphase_example(),
         "holds booleans"),
        (checks.check_conv_transpose1d_polyphase, every_phase, checkerboard_cases.polyphase_edge()[:1],
         "have no taps; skip them"),
        (checks.check_phase_sums, pair_used_whole, checkerboard_cases.phases_edge()[:1],
         "a stride given as an (s_h, s_w) pair used whole"),
        (checks.check_phase_sums, int_unpacked, checkerboard_cases.phases_chapter_kernels()[:1],
         "turn an int s into (s, s)"),
    ]:
        with pytest.raises(checks.CheckFailed) as failure:
            check(answer, case_list, picture=False)
        assert words in str(failure.value), str(failure.value)
        assert "holds integers" not in str(failure.value)


def test_a_wrong_icnr_value_is_placed_by_the_weights_axes():
    """ICNR's answer is a weight: the registry declares its axes (``Exercise.axes``), so the index
    of a wrong value reads (output channel, input channel, row, column), not a map's
    (batch, channel, row, column). Without the declaration, the message says the latter."""
    def one_tap_off(w, s):
        out = answers.icnr(w, s).copy()
        out[1, 0, 0, 0] += 1
        return out

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_icnr(one_tap_off, checkerboard_cases.icnr_example(), picture=False)
    assert ("wrong value at index (1, 0, 0, 0) (output channel, input channel, row, column)"
            in str(failure.value))
