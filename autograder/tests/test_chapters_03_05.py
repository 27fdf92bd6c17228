"""Chapters 03-05: references against PyTorch, and the checks against the known mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import checks_on_references as checks
from tconv import cases, pytorch, reference
from tconv.arguments import pair

FAST = settings(max_examples=60, deadline=None)


# --- references vs. PyTorch ------------------------------------------------------------------

def pairs(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


@st.composite
def layer_2d(draw):
    """(x, w, stride, padding) for chapter 03, with padding that leaves an output."""
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(pairs(1, 4))
    full = [(i - 1) * s + k for i, s, k in zip(shape, pair(stride), kernel)]
    padding = draw(st.tuples(*[st.integers(0, (f - 1) // 2) for f in full]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape), rng.normal(size=kernel), stride, padding


@st.composite
def layer_nchw(draw):
    """Every argument of F.conv_transpose2d, valid, pairs that may differ."""
    groups = draw(st.integers(1, 3))
    channels_in, channels_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, dilation = pair(draw(pairs(1, 3))), pair(draw(pairs(1, 3)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    full = [(i - 1) * s + d * (k - 1) + 1 + o
            for i, s, d, k, o in zip(shape, stride, dilation, kernel, output_padding)]
    padding = tuple(draw(st.integers(0, (f - 1) // 2)) for f in full)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(draw(st.integers(1, 3)), channels_in) + shape)
    weight = rng.normal(size=(channels_in, channels_out // groups) + kernel)
    bias = rng.normal(size=channels_out) if draw(st.booleans()) else None
    return x, weight, bias, stride, padding, output_padding, groups, dilation


@FAST
@given(layer_2d())
def test_conv_transpose2d_matches_pytorch(args):
    np.testing.assert_allclose(reference.conv_transpose2d(*args), pytorch.conv_transpose2d(*args),
                               atol=1e-12)


@FAST
@given(layer_2d())
def test_zero_insertion_route_matches_scatter_add(args):
    np.testing.assert_allclose(reference.conv_transpose2d_by_zero_insertion(*args),
                               reference.conv_transpose2d(*args), atol=1e-12)


@FAST
@given(layer_nchw())
def test_conv_transpose2d_nchw_matches_pytorch(args):
    np.testing.assert_allclose(reference.conv_transpose2d_nchw(*args),
                               pytorch.conv_transpose2d_nchw(*args), atol=1e-12)


@FAST
@given(st.integers(1, 4), st.integers(0, 8), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_conv1d_matrix_matches_pytorch_and_transposes(kernel, extra, stride, seed):
    rng = np.random.default_rng(seed)
    n, w = kernel + extra, rng.normal(size=kernel)
    matrix = reference.conv1d_matrix(n, w, stride)
    np.testing.assert_allclose(matrix, pytorch.conv1d_matrix(n, w, stride), atol=1e-12)
    # C.T @ y is the transposed convolution of y; when the stride skipped the input's last
    # samples, those stay zero (what output_padding adds).
    y = rng.normal(size=matrix.shape[0])
    transposed = reference.conv_transpose1d(y, w, stride)
    np.testing.assert_allclose(matrix.T @ y, np.pad(transposed, (0, n - len(transposed))),
                               atol=1e-12)


def test_seed_example_numbers():
    x, w = cases.SEED_X_2D, cases.SEED_W_2D
    assert reference.conv_transpose2d_full(x, w, 2).tolist() == [
        [1, 1, 3, 2, 2], [0, 0, 0, 0, 0], [2, 2, 4, 2, 2], [0, 0, 0, 0, 0], [-3, -3, -7, -4, -4]]
    assert reference.conv_transpose2d(x, w, 2, 1).tolist() == [[0, 0, 0], [2, 4, 2], [0, 0, 0]]


@pytest.mark.parametrize("call, words", [
    (lambda: reference.conv_transpose2d([[1.0]], [[1.0, 2.0]], 1, 1), "padding[0]=1"),
    (lambda: reference.conv_transpose2d([[1.0]], [[1.0]], (1, 0)), "stride[1]=0"),
    (lambda: reference.conv_transpose2d([1.0], [[1.0]]), "x must be a 2-D array"),
    (lambda: reference.conv_transpose2d_nchw(np.ones((1, 2, 2, 2)), np.ones((3, 1, 2, 2))),
     "first axis must be C_in = 2"),
    (lambda: reference.conv_transpose2d_nchw(np.ones((1, 3, 2, 2)), np.ones((3, 1, 2, 2)),
                                             groups=2), "groups=2 must divide"),
    (lambda: reference.conv_transpose2d_nchw(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)),
                                             stride=2, output_padding=2),
     "output_padding[0]=2 must be smaller than max(stride[0], dilation[0])=2"),
    (lambda: reference.conv_transpose2d_nchw(np.ones((1, 1, 2, 2)), np.ones((1, 2, 2, 2)),
                                             bias=np.ones(3)), "bias must have shape (C_out,) = (2,)"),
])
def test_invalid_arguments_are_named(call, words):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert words in str(error.value)


# --- the checks: test_checks.py runs every exercise of the registry (reference passes, each
# known mistake is rejected and named, a wrong answer is rejected); here, what is particular ---

def test_a_wrong_nchw_answer_shows_the_failing_map():
    """A value error in a 4-D answer prints the (H, W) map where it is, with its index."""
    case = cases.edge_nchw_channels()[5]  # batch of 2, 3 output channels, bias

    def off_by_one_in_last_map(*args):
        out = reference.conv_transpose2d_nchw(*args).copy()
        out[1, 2, 0, 1] += 1.0
        return out

    with pytest.raises(checks.CheckFailed) as failure:
        checks.check_conv_transpose2d_nchw(off_by_one_in_last_map, [case], picture=False)
    message = str(failure.value)
    assert "index (1, 2, 0, 1) (batch, channel, row, column)" in message
    assert "expected[1, 2]:" in message and "yours[1, 2]:" in message


def test_an_index_error_into_the_weight_is_told_so():
    """Looping over output channels and indexing weight[o, c] runs past the weight's first axis
    (C_in), not past the output: the message says which array."""
    small = cases.case_nchw(np.ones((1, 2, 2, 2)), np.ones((2, 3, 2, 2)), note="C_in 2, C_out 3")

    def weight_indexed_as_conv2d(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                                 groups=1, dilation=1):
        x, weight = np.asarray(x, float), np.asarray(weight, float)
        n, c_in, h, w = x.shape
        c_out, k_h, k_w = weight.shape[1], weight.shape[2], weight.shape[3]
        out = np.zeros((n, c_out, (h - 1) * stride + k_h, (w - 1) * stride + k_w))
        for o in range(c_out):
            for c in range(c_in):
                for i in range(h):
                    for j in range(w):
                        out[:, o, i * stride:i * stride + k_h, j * stride:j * stride + k_w] += (
                            x[:, c, i, j, None, None] * weight[o, c])
        return out

    message = str(pytest.raises(checks.CheckFailed, checks.check_conv_transpose2d_nchw,
                                weight_indexed_as_conv2d, [small], picture=False).value)
    assert "raised IndexError: index 2 is out of bounds for axis 0 with size 2" in message
    assert "An index ran past the end of weight (axis 0 has 2 entries)" in message
    assert "the output" not in message


# --- chapter 05's sentences, checked against PyTorch ---------------------------------------------

@FAST
@given(layer_nchw())
def test_direct_convolution_recipe_with_dilation_and_output_padding_matches_pytorch(args):
    """Zero insertion, padding d(k - 1) - p (plus output_padding at the end), and a flipped,
    DILATED kernel give F.conv_transpose2d (groups 1)."""
    x, weight, _, stride, padding, output_padding, groups, dilation = args
    x = x[:, :weight.shape[0] // groups] if groups > 1 else x
    weight = weight[:x.shape[1]]
    np.testing.assert_allclose(
        pytorch.conv_transpose2d_by_direct_convolution(x, weight, stride, padding, output_padding,
                                                       dilation),
        pytorch.conv_transpose2d_nchw(x, weight, None, stride, padding, output_padding, 1,
                                      dilation), atol=1e-12)


def test_the_recipe_needs_the_dilated_kernel_and_the_extra_output_padding_row():
    import torch

    rng = np.random.default_rng(5)
    x, weight = rng.normal(size=(1, 1, 3, 3)), rng.normal(size=(1, 1, 3, 3))
    right = pytorch.conv_transpose2d_nchw(x, weight, None, 2, 1, 1, 1, 2)
    # the same recipe with an undilated kernel, padded by d(k - 1) - p all the same: wrong
    spread = np.zeros((1, 1, 5, 5))
    spread[:, :, ::2, ::2] = x
    undilated = torch.nn.functional.conv2d(
        torch.nn.functional.pad(torch.as_tensor(spread), (3, 4, 3, 4)),
        torch.as_tensor(weight).flip(2, 3)).numpy()
    assert undilated.shape != right.shape or not np.allclose(undilated, right)
    without_extra_row = pytorch.conv_transpose2d_by_direct_convolution(x, weight, 2, 1, 0, 2)
    assert right.shape[-2:] == (without_extra_row.shape[-2] + 1, without_extra_row.shape[-1] + 1)
    np.testing.assert_allclose(right[..., :-1, :-1], without_extra_row, atol=1e-12)


@FAST
@given(st.integers(1, 30), st.integers(1, 5), st.integers(1, 4), st.integers(0, 3),
       st.integers(1, 3))
def test_inverting_output_padding_restores_the_size_and_is_what_output_size_picks(i, k, s, p, d):
    import torch

    if d * (k - 1) + 1 > i + 2 * p:
        return  # no convolution: the kernel does not fit
    o = pytorch.conv_output_size(i, k, s, p, d)
    op = reference.inverting_output_padding(i, k, s, p, d)
    assert op < s
    if 2 * p >= (o - 1) * s + d * (k - 1) + 1 + op:
        return  # padding crops everything: no transposed convolution of this o exists
    assert pytorch.conv_transpose_output_size(o, k, s, p, d, op) == i
    layer = torch.nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, dilation=d)
    # output_size=[i] gives i, i.e. the output_padding i - (its length at output_padding 0) = op
    assert layer(torch.zeros(1, 1, o), output_size=[i]).shape[-1] == i


def test_the_gradient_needs_output_padding_when_the_floor_dropped_samples():
    """6x6, stride 2, padding 1: conv2d gives 3x3 as for 5x5; the gradient is 6x6, and
    conv_transpose2d needs output_padding (6 + 2 - 2 - 1) mod 2 = 1 to be it."""
    import torch
    import torch.nn.functional as F

    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(x, weight, stride=2, padding=1)
    g = torch.randn_like(y)
    (gradient,) = torch.autograd.grad(y, x, grad_outputs=g)
    assert tuple(y.shape[-2:]) == (3, 3) and tuple(gradient.shape[-2:]) == (6, 6)
    assert tuple(F.conv_transpose2d(g, weight, stride=2, padding=1).shape[-2:]) == (5, 5)
    op = reference.inverting_output_padding(6, 3, stride=2, padding=1)
    assert op == 1
    assert torch.allclose(gradient, F.conv_transpose2d(g, weight, stride=2, padding=1,
                                                       output_padding=op))
    # the floor dropped a row of padding, not of the input: the gradient's last row and column,
    # which output_padding adds, are not zero
    assert (gradient[..., -1, :] != 0).any() and (gradient[..., :, -1] != 0).any()


def _unreached(i, k, s, p, d):
    """(padded samples after the last window, input samples after the last one a window reads)
    of a conv1d."""
    o = reference.conv_output_size(i, k, s, p, d)
    last = (o - 1) * s + d * (k - 1)                 # the last window's last tap, padded index
    reads = {r * s + t * d - p for r in range(o) for t in range(k)}
    return i + 2 * p - 1 - last, i - 1 - max(n for n in reads if n < i)


def test_output_padding_counts_the_padded_samples_after_the_last_window():
    """(i + 2p - d(k - 1) - 1) mod s is what the last window leaves of the PADDED input. Without
    padding those are input samples no window reads, the zero columns at the end of C; with
    padding, not always (chapter 05 says so): in 943 of the configurations here they differ."""
    differ = 0
    for i in range(1, 25):
        for k in range(1, 6):
            for s in range(1, 5):
                for d in range(1, 3):
                    for p in range(0, 3):
                        if d * (k - 1) + 1 > i + 2 * p:
                            continue
                        after_last, unread = _unreached(i, k, s, p, d)
                        assert after_last == reference.inverting_output_padding(i, k, s, p, d)
                        if p == 0:
                            assert unread == after_last
                            if d == 1:
                                columns = pytorch.conv1d_matrix(i, np.ones(k), s)
                                used = [n for n in range(i) if columns[:, n].any()]
                                assert i - 1 - max(used) == after_last  # trailing zero columns
                        differ += unread != after_last
    assert differ == 943


def test_the_chapters_matrix_is_not_inverted_by_its_transpose():
    C = pytorch.conv1d_matrix(5, [1.0, 2.0, 3.0], 2)
    assert C.shape == (2, 5) and np.linalg.matrix_rank(C) == 2
    assert not np.allclose(C.T @ C, np.eye(5))
    assert (C.T @ C).tolist() == [[1, 2, 3, 0, 0], [2, 4, 6, 0, 0], [3, 6, 10, 2, 3],
                                  [0, 0, 2, 4, 6], [0, 0, 3, 6, 9]]
