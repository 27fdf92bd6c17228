"""The reference implementations agree with PyTorch and with the article's worked examples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv import exercises, pytorch, reference

FAST = settings(max_examples=200, deadline=None)


def test_the_articles_1d_example():
    assert reference.conv_transpose1d([2, 3], [1, 2, 3], stride=2).tolist() == [2, 4, 9, 6, 9]


def test_contributions_are_the_scatter_steps():
    rows = reference.conv_transpose1d_contributions([2, 3], [1, 2, 3], stride=2)
    assert rows.tolist() == [[2, 4, 6, 0, 0], [0, 0, 3, 6, 9]]


@FAST
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=12),
       st.lists(st.floats(-10, 10), min_size=1, max_size=8),
       st.integers(1, 7))
def test_conv_transpose1d_matches_pytorch(x, w, stride):
    expected = pytorch.conv_transpose1d(x, w, stride)
    np.testing.assert_allclose(reference.conv_transpose1d(x, w, stride), expected,
                               rtol=1e-12, atol=1e-12)


def _torch_accepts(function, *args):
    try:
        return function(*args)
    except RuntimeError:
        return None


@FAST
@given(st.integers(1, 40), st.integers(1, 8), st.integers(1, 6), st.integers(0, 6),
       st.integers(1, 4))
def test_conv_output_size_matches_pytorch(i, k, stride, padding, dilation):
    args = (i, k, stride, padding, dilation)
    if dilation * (k - 1) + 1 > i + 2 * padding:
        with pytest.raises(ValueError, match="kernel spans"):
            reference.conv_output_size(*args)
        assert _torch_accepts(pytorch.conv_output_size, *args) is None
    else:
        assert reference.conv_output_size(*args) == pytorch.conv_output_size(*args)


@FAST
@given(st.integers(1, 40), st.integers(1, 8), st.integers(1, 6), st.integers(0, 6),
       st.integers(1, 4), st.integers(0, 5))
def test_conv_transpose_output_size_matches_pytorch(i, k, stride, padding, dilation, output_padding):
    args = (i, k, stride, padding, dilation, output_padding)
    torch_size = _torch_accepts(pytorch.conv_transpose_output_size, *args)
    try:
        size = reference.conv_transpose_output_size(*args)
    except ValueError:
        assert torch_size is None or torch_size < 1
    else:
        assert size == torch_size


@pytest.mark.parametrize("call, message", [
    (lambda: reference.conv_transpose_output_size(4, 3, stride=2, output_padding=2),
     "output_padding=2 must be smaller than max(stride, dilation)=2"),
    (lambda: reference.conv_transpose_output_size(2, 3, padding=3),
     "padding=3 crops"),
    (lambda: reference.conv_output_size(4, 3, stride=0), "stride=0 must be an int >= 1"),
    (lambda: reference.conv_output_size(2, 5), "the kernel spans"),
    (lambda: reference.conv_transpose1d([[1, 2]], [1]), "x must be a 1-D array"),
    (lambda: reference.conv_transpose1d([1, 2], []), "w must not be empty"),
])
def test_bad_arguments_name_the_argument_and_the_range(call, message):
    with pytest.raises(ValueError) as raised:
        call()
    assert message in str(raised.value)


def test_non_integer_sizes_are_a_type_error():
    with pytest.raises(TypeError, match="stride=2.0 must be an int"):
        reference.conv_output_size(4, 3, stride=2.0)


@pytest.fixture
def float32_default():
    """PyTorch's default dtype set to float32 (a learner's session), restored afterwards."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


THIRDS = np.arange(1, 13).reshape(1, 2, 2, 3) / 3  # (N, C_in, H, W): not exact in float32
SEVENTHS = np.arange(1, 9).reshape(2, 1, 2, 2) / 7  # (C_in, C_out, kH, kW)


@pytest.mark.parametrize("twin, answer", [
    (lambda: pytorch.conv_transpose1d(THIRDS[0, 0, 0], SEVENTHS[0, 0, 0], 2),
     lambda: reference.conv_transpose1d(THIRDS[0, 0, 0], SEVENTHS[0, 0, 0], 2)),
    (lambda: pytorch.conv_transpose2d(THIRDS[0, 0], SEVENTHS[0, 0], 2, 1),
     lambda: reference.conv_transpose2d(THIRDS[0, 0], SEVENTHS[0, 0], 2, 1)),
    (lambda: pytorch.conv_transpose2d_nchw(THIRDS, SEVENTHS, None, (2, 3), 1, (1, 2)),
     lambda: reference.conv_transpose2d_nchw(THIRDS, SEVENTHS, None, (2, 3), 1, (1, 2))),
    (lambda: pytorch.conv_transpose2d_by_direct_convolution(THIRDS, SEVENTHS, 2, 1, 1),
     lambda: reference.conv_transpose2d_nchw(THIRDS, SEVENTHS, None, 2, 1, 1)),
    (lambda: pytorch.conv1d_matrix(5, THIRDS[0, 0, 0], 2),
     lambda: reference.conv1d_matrix(5, THIRDS[0, 0, 0], 2)),
], ids=["conv_transpose1d", "conv_transpose2d", "conv_transpose2d_nchw",
        "conv_transpose2d_by_direct_convolution", "conv1d_matrix"])
def test_pytorch_twins_compute_in_float64_whatever_the_default(float32_default, twin, answer):
    """Under float32 (PyTorch's default) the twins still agree with the float64 reference to
    1e-14; a twin computing in float32 would be off by about 1e-7."""
    out = twin()
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, answer(), rtol=0, atol=1e-14)


def test_every_pytorch_twin_takes_its_references_parameters():
    """The learners' copy, which has no reference, calls the exercise's twin in its place, with
    the reference's arguments by name (``lookup.call``)."""
    twinned = [e for e in exercises.EXERCISES if e.pytorch_twin is not None]
    assert {e.chapter for e in twinned} == {e.chapter for e in exercises.EXERCISES}
    for exercise in twinned:
        assert exercises.accepts(exercise.pytorch_twin, exercise.answer()), exercise.check
    for helper, twin in exercises.HELPER_TWINS.items():
        assert exercises.accepts(twin, helper), helper.__name__
    assert not exercises.accepts(pytorch.conv1d_matrix, reference.conv_transpose1d)  # n, not x
    assert not exercises.accepts(pytorch.conv_transpose2d, reference.pad_or_crop_2d)  # amount, not w


@pytest.mark.parametrize("helper", sorted(exercises.HELPER_TWINS, key=lambda f: f.__name__),
                         ids=lambda f: f.__name__)
def test_the_pictures_helpers_twins_compute_what_the_reference_does(helper):
    x2, w2 = THIRDS[0, 0], SEVENTHS[0, 0]
    x, w = (x2[0], w2[0]) if "1d" in helper.__name__ else (x2, w2)
    np.testing.assert_allclose(exercises.HELPER_TWINS[helper](x, w, 2), helper(x, w, 2),
                               rtol=0, atol=1e-14)


def test_the_center_crop_twin_is_the_reference_crop_and_refuses_what_it_refuses():
    from tconv import unet_cases, unet_reference

    crops = (unet_cases.crop_random(200, 6) + unet_cases.crop_edge_cases()
             + unet_cases.crop_odd_margins() + unet_cases.crop_even_margins())
    for case in crops:
        x = case.input()
        np.testing.assert_array_equal(pytorch.center_crop(x, case.height, case.width),
                                      unet_reference.center_crop(x, case.height, case.width))
        crop = pytorch.center_crop(torch.from_numpy(x), case.height, case.width)
        assert isinstance(crop, torch.Tensor) and crop.shape[-2:] == (case.height, case.width)
    for case in unet_cases.crop_too_large():
        with pytest.raises(ValueError, match="does not fit"):
            pytorch.center_crop(case.input(), case.height, case.width)


# --- chapter 02's sentences, checked against PyTorch -----------------------------------------

def test_stride_explains_output_padding_below_stride_and_dilation_is_pytorchs_rule():
    """Up to `s` input lengths share a convolution output, and output_padding 0..s-1 reaches
    each of them; with s = 1, d = 2 PyTorch accepts output_padding=1, whose length (9) no
    convolution with k = 3, d = 2 maps back to 4 (it maps only 8 to 4)."""
    for i in range(6, 30):
        o = pytorch.conv_output_size(i, 3, stride=3, padding=1)
        sharing = [j for j in range(1, 40) if pytorch.conv_output_size(j, 3, 3, 1) == o]
        assert len(sharing) <= 3
        reached = {pytorch.conv_transpose_output_size(o, 3, 3, 1, 1, op) for op in range(3)}
        assert set(sharing) <= reached
    longer = pytorch.conv_transpose_output_size(4, 3, stride=1, dilation=2, output_padding=1)
    assert longer == 9 and pytorch.conv_output_size(9, 3, dilation=2) == 5
    assert [i for i in range(5, 40) if pytorch.conv_output_size(i, 3, dilation=2) == 4] == [8]


def test_pytorchs_1d_output_padding_error_speaks_of_an_added_height_axis():
    with pytest.raises(RuntimeError) as raised:
        torch.nn.functional.conv_transpose1d(torch.zeros(1, 1, 4), torch.zeros(1, 1, 3), stride=2,
                                             output_padding=2)
    first = str(raised.value).splitlines()[0]
    assert "output_padding_height: 0 output_padding_width: 2" in first
    assert "stride_height: 1 stride_width: 2 dilation_height: 1 dilation_width: 1" in first
