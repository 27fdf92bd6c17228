"""Chapter 04's cases (``conv_transpose2d_nchw``, the whole layer): the article's example with
channels, edge cases of channels, groups and geometry, seeded random layers; and the formula of
the right shape that the feedback shows. ``cases`` holds the other chapters' cases and hands
these out as ``cases.<name>``, the way the notebooks and the registry call them; the record
(``Case``) and the article's example are ``case``'s.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .arguments import pair
from .case import SEED_W_2D, SEED_X_2D, Case, draw_pair


# --- chapter 04: conv_transpose2d_nchw(x, weight, bias, stride, padding, output_padding, groups,
#     dilation) -------------------------------------------------------------------------------

_NAMES_NCHW = ("x", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")


def case_nchw(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
              note="") -> Case:
    bias = None if bias is None else np.asarray(bias)
    return Case((np.asarray(x), np.asarray(weight), bias, stride, padding, output_padding, groups,
                 dilation), _NAMES_NCHW, note)


def seed_example_nchw() -> list[Case]:
    """The article's 2D example as PyTorch sees it: (1, 1, 2, 2) input, (1, 1, 3, 3) weight."""
    x = np.asarray(SEED_X_2D).reshape(1, 1, 2, 2)
    weight = np.asarray(SEED_W_2D).reshape(1, 1, 3, 3)
    return [case_nchw(x, weight, None, 2, 1, note="the article's example")]


def _nchw(rng, batch, channels_in, channels_out, groups, size, kernel, integers=False):
    """Random x (N, C_in, H, W) and weight (C_in, C_out // groups, kH, kW)."""
    draw = (lambda shape: rng.integers(-3, 4, shape).astype(np.float64)) if integers else \
        (lambda shape: rng.normal(size=shape))
    return (draw((batch, channels_in) + tuple(size)),
            draw((channels_in, channels_out // groups) + tuple(kernel)))


def random_nchw(count: int, seed: int, pairs=True, integers=False) -> list[Case]:
    """Random layers: every argument drawn, (h, w) pairs that may differ, bias or not."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        groups = int(rng.integers(1, 3))
        channels_in = groups * int(rng.integers(1, 3))
        channels_out = groups * int(rng.integers(1, 3))
        size = rng.integers(1, 5, 2)
        kernel = rng.integers(1, 4, 2)
        x, weight = _nchw(rng, int(rng.integers(1, 3)), channels_in, channels_out, groups, size,
                          kernel, integers)
        bias = rng.normal(size=channels_out) if rng.random() < 0.5 else None
        stride, dilation = draw_pair(rng, 1, 3, pairs), draw_pair(rng, 1, 2, pairs)
        padding = draw_pair(rng, 0, 2, pairs)
        limit = np.maximum(stride, dilation)  # output_padding < max(stride, dilation), per axis
        output_padding = (tuple(int(rng.integers(0, v)) for v in limit) if pairs
                          else int(rng.integers(0, int(limit))))
        case = case_nchw(x, weight, bias, stride, padding, output_padding, groups, dilation,
                         f"random, seed {seed}")
        try:
            reference.conv_transpose2d_nchw(*case.args)
        except ValueError:
            continue
        cases.append(case)
    return cases


def edge_nchw_channels(seed: int = 404) -> list[Case]:
    """Batch, channels, bias and groups, each alone and then together (numbers from ``seed``)."""
    rng = np.random.default_rng(seed)
    x22, w22 = _nchw(rng, 1, 2, 2, 1, (2, 3), (2, 2), integers=True)
    return [
        case_nchw(x22, w22, note="C_in == C_out == 2, asymmetric weights"),
        case_nchw(*_nchw(rng, 1, 3, 2, 1, (2, 2), (3, 3)), note="C_in = 3, C_out = 2"),
        case_nchw(*_nchw(rng, 1, 1, 3, 1, (2, 2), (2, 2)), note="C_in = 1, C_out = 3"),
        case_nchw(*_nchw(rng, 3, 1, 1, 1, (2, 2), (2, 2)), note="batch of 3"),
        case_nchw(*_nchw(rng, 1, 1, 1, 1, (2, 2), (2, 2)), [0.5], note="bias, one channel"),
        case_nchw(*_nchw(rng, 2, 2, 3, 1, (2, 2), (2, 2)), [1.0, -2.0, 0.5], 2,
                  note="bias per output channel, batch of 2"),
        case_nchw(*_nchw(rng, 1, 4, 6, 2, (2, 2), (2, 2)), groups=2,
                  note="groups = 2: C_in = 4, C_out = 6"),
        case_nchw(*_nchw(rng, 2, 3, 3, 3, (3, 2), (2, 3)), rng.normal(size=3), 2, groups=3,
                  note="groups = C_in = 3 (depthwise), bias"),
        case_nchw(*_nchw(rng, 1, 2, 4, 2, (2, 2), (2, 2)), groups=2,
                  note="groups = 2, one input channel per group"),
    ]


def edge_nchw_geometry(seed: int = 505) -> list[Case]:
    """stride, padding, output_padding and dilation: alone, as unequal pairs, and together
    (numbers from ``seed``)."""
    rng = np.random.default_rng(seed)

    def layer():
        x, weight = _nchw(rng, 1, 2, 2, 1, (3, 2), (2, 3), integers=True)
        return x, weight

    return [
        case_nchw(*layer(), stride=2, note="stride 2"),
        case_nchw(*layer(), stride=(1, 3), note="stride (1, 3)"),
        case_nchw(*layer(), padding=1, note="padding 1"),
        case_nchw(*layer(), padding=(1, 0), note="padding (1, 0)"),
        case_nchw(*layer(), stride=2, output_padding=1, note="output_padding 1 with stride 2"),
        case_nchw(*layer(), stride=(3, 2), output_padding=(2, 0), note="output_padding (2, 0)"),
        case_nchw(*layer(), stride=2, padding=2, output_padding=1,
                  note="output_padding with padding: crop the start, add at the end"),
        case_nchw(*layer(), dilation=2, note="dilation 2"),
        case_nchw(*layer(), dilation=(1, 3), note="dilation (1, 3)"),
        case_nchw(*layer(), dilation=3, output_padding=2,
                  note="output_padding 2 allowed by dilation 3 at stride 1"),
        case_nchw(*layer(), stride=(2, 1), padding=(0, 2), output_padding=(1, 0), dilation=(1, 2),
                  note="unequal pairs for every argument"),
    ]


def edge_nchw_small(seed: int = 606) -> list[Case]:
    """1x1 inputs and 1x1 kernels (numbers from ``seed``)."""
    rng = np.random.default_rng(seed)
    return [
        case_nchw(*_nchw(rng, 1, 2, 2, 1, (1, 1), (3, 2)), note="1x1 input"),
        case_nchw(*_nchw(rng, 2, 2, 3, 1, (3, 2), (1, 1)), rng.normal(size=3), note="1x1 kernel"),
        case_nchw(*_nchw(rng, 1, 2, 2, 1, (3, 2), (1, 1)), stride=3, output_padding=2,
                  note="1x1 kernel, stride 3, output_padding 2: rows of zeros"),
        case_nchw(*_nchw(rng, 1, 2, 2, 2, (1, 1), (1, 1)), [1.0, 2.0], 4, groups=2,
                  note="1x1 input and kernel, groups 2, bias"),
    ]


def combined_nchw(seed: int = 707) -> list[Case]:
    """Every argument at once, on random numbers (from ``seed``)."""
    rng = np.random.default_rng(seed)
    return [
        case_nchw(*_nchw(rng, 2, 4, 6, 2, (3, 4), (3, 2)), rng.normal(size=6), (2, 3), (1, 2),
                  (1, 0), 2, (2, 1), note="everything at once"),
        case_nchw(*_nchw(rng, 3, 6, 3, 3, (4, 2), (2, 3)), rng.normal(size=3), (3, 1), (0, 1),
                  (2, 1), 3, (1, 2), note="everything at once, groups 3"),
    ]


def shape_formula_nchw(case: Case) -> str:
    """The right output shape, explained with the case's numbers (the feedback shows it)."""
    batch, _, height, width = np.shape(case.value("x"))
    _, per_group, k_h, k_w = np.shape(case.value("weight"))
    groups = case.value("groups")
    s, p = pair(case.value("stride")), pair(case.value("padding"))
    op, d = pair(case.value("output_padding")), pair(case.value("dilation"))
    sizes = []
    for axis, (length, k, name) in enumerate([(height, k_h, "H"), (width, k_w, "W")]):
        size = reference.conv_transpose_output_size(length, k, s[axis], p[axis], d[axis], op[axis])
        sizes.append(f"{name}_out = ({name} - 1)*stride - 2*padding + dilation*(k - 1) + "
                     f"output_padding + 1 = ({length} - 1)*{s[axis]} - 2*{p[axis]} + "
                     f"{d[axis]}*({k} - 1) + {op[axis]} + 1 = {size}")
    return (f"(N, C_out, H_out, W_out) with N = {batch}, C_out = weight.shape[1] * groups = "
            f"{per_group}*{groups} = {per_group * groups},\n  " + ",\n  ".join(sizes))
