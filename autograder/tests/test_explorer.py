"""Chapter 03's explorer, without a browser: what its figure draws, read back from the figure
and held against PyTorch; the widget and its fallbacks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tconv import explorer

CROP_RED = "#c44e52"
SETTINGS = [  # (input_size, kernel_size, stride, padding, dilation, output_padding, row, col)
    (2, 3, 2, 1, 1, 0, 0, 0),   # the article's example: 5×5 full output, 3×3 kept
    (3, 4, 2, 1, 1, 1, 2, 1),   # output_padding adds a row and a column past the full output
    (4, 3, 3, 2, 2, 1, 1, 2),   # dilation 2 with stride 3: holes no copy reaches
    (3, 2, 1, 0, 1, 0, 1, 1),   # stride 1: even overlap in the middle
    (1, 1, 1, 0, 1, 0, 0, 0),   # the smallest case
]


def axes_named(fig: Figure, label: str):
    (ax,) = [ax for ax in fig.axes if ax.get_label() == label]
    return ax


def grid_labels(ax) -> np.ndarray:
    """The numbers written in the cells of a draw_grid axes, as an array (row 0 on top)."""
    cells = {(int(t.get_position()[1]), int(t.get_position()[0])): t.get_text() for t in ax.texts}
    rows = 1 + max(r for r, _ in cells)
    cols = 1 + max(c for _, c in cells)
    return np.array([[float(cells[r, c]) for c in range(cols)] for r in range(rows)])


def torch_counts(i, k, stride, dilation, output_padding, padding=0):
    out = torch.nn.functional.conv_transpose2d(
        torch.ones(1, 1, i, i, dtype=torch.float64), torch.ones(1, 1, k, k, dtype=torch.float64),
        stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    return out[0, 0].numpy()


@pytest.fixture
def figures():
    made = []
    yield made
    for fig in made:
        plt.close(fig)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "i{}k{}s{}p{}d{}op{}".format(*s[:6]))
def test_the_overlap_counts_drawn_are_pytorchs(setting, figures):
    i, k, s, p, d, op, row, col = setting
    fig = explorer.explorer_figure(i, k, s, p, d, op, row, col)
    figures.append(fig)
    drawn = grid_labels(axes_named(fig, "overlap"))
    size = torch_counts(i, k, s, d, op, padding=p).shape[0]
    full = (i - 1) * s + d * (k - 1) + 1
    assert drawn.shape == (max(full, p + size),) * 2
    # Inside the crop frame the drawn counts are exactly what PyTorch's layer adds up...
    np.testing.assert_array_equal(drawn[p:p + size, p:p + size], torch_counts(i, k, s, d, op, p))
    # ...and the whole grid is the uncropped output.
    uncropped = torch_counts(i, k, s, d, 0)
    np.testing.assert_array_equal(drawn[:full, :full], uncropped)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "i{}k{}s{}p{}d{}op{}".format(*s[:6]))
def test_the_crop_frame_and_the_chosen_pixels_copy(setting, figures):
    i, k, s, p, d, op, row, col = setting
    fig = explorer.explorer_figure(i, k, s, p, d, op, row, col)
    figures.append(fig)
    ax = axes_named(fig, "overlap")
    size = torch_counts(i, k, s, d, op, padding=p).shape[0]
    frames = [patch for patch in ax.patches if isinstance(patch, Rectangle) and not patch.get_fill()
              and patch.get_gid() is None]
    assert [(f.get_x(), f.get_y(), f.get_width(), f.get_height()) for f in frames] == [
        (p, p, size, size)]
    assert np.allclose(frames[0].get_edgecolor()[:3], plt.matplotlib.colors.to_rgb(CROP_RED))

    outlined = {(int(round(patch.get_y())), int(round(patch.get_x())))
                for patch in ax.patches if patch.get_gid() == "footprint"}
    expected = {(row * s + a * d, col * s + b * d) for a in range(k) for b in range(k)}
    assert outlined == expected
    (pixel,) = [patch for patch in axes_named(fig, "input").patches if patch.get_gid() == "pixel"]
    assert (pixel.get_y(), pixel.get_x()) == (row, col)


def test_the_formula_is_evaluated_in_the_title(figures):
    fig = explorer.explorer_figure(2, 3, 2, 1, 1, 0)
    figures.append(fig)
    title = fig.get_suptitle()
    assert ("H_out = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1 = "
            "(2 − 1)·2 − 2·1 + 1·(3 − 1) + 0 + 1 = 3") in title
    assert "1 to 4 copies" in title and "checkerboard" in title


def test_even_overlap_and_holes_are_named(figures):
    even = explorer.explorer_figure(input_size=3, kernel_size=2, stride=2, padding=0)
    holes = explorer.explorer_figure(input_size=3, kernel_size=2, stride=3, padding=0)
    figures.extend([even, holes])
    assert "every output pixel gets 1 copy" in even.get_suptitle()
    assert "0 to 1 copies" in holes.get_suptitle()
    assert "holes" in holes.get_suptitle()


def test_arguments_pytorch_rejects_give_a_figure_that_says_why(figures):
    fig = explorer.explorer_figure(input_size=2, kernel_size=3, stride=2, padding=1,
                                   output_padding=2)
    figures.append(fig)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "output_padding=2 must be smaller than max(stride, dilation)=2" in texts
    fig = explorer.explorer_figure(input_size=1, kernel_size=1, stride=1, padding=1)
    figures.append(fig)
    assert "padding=1" in " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_the_chosen_pixel_is_kept_inside_the_input(figures):
    fig = explorer.explorer_figure(input_size=2, pixel_row=5, pixel_col=5)
    figures.append(fig)
    (pixel,) = [p for p in axes_named(fig, "input").patches if p.get_gid() == "pixel"]
    assert (pixel.get_y(), pixel.get_x()) == (1, 1)


def assert_shows_default_explorer(fig: Figure, **start) -> None:
    """``fig`` is the explorer's picture for its default sliders (changed by ``start``): the
    overlap counts of that setting, PyTorch's, before the crop."""
    values = {**explorer.DEFAULTS, **start}
    i, k, s, d = (values[name] for name in ("input_size", "kernel_size", "stride", "dilation"))
    full = (i - 1) * s + d * (k - 1) + 1
    drawn = grid_labels(axes_named(fig, "overlap"))
    np.testing.assert_array_equal(drawn[:full, :full], torch_counts(i, k, s, d, 0))


def test_without_a_live_kernel_show_explorer_draws_one_static_figure(monkeypatch):
    shown = []
    monkeypatch.setattr(explorer.plots, "display", shown.append)
    explorer.show_explorer(stride=3)
    assert len(shown) == 1 and "stride 3" in shown[0].get_suptitle()
    assert_shows_default_explorer(shown[0], stride=3)
    plt.close(shown[0])


def test_in_validate_show_explorer_draws_one_static_figure_and_when_grading_none(monkeypatch):
    shown = []
    monkeypatch.setattr(explorer.plots, "display", shown.append)
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert not explorer.widgets_can_render()
    explorer.show_explorer()
    assert len(shown) == 1
    assert_shows_default_explorer(shown[0])
    plt.close(shown[0])
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # a course picture: not drawn
    explorer.show_explorer()
    assert shown[1:] == [None]


def test_the_widget_has_every_slider_and_a_static_fallback(monkeypatch):
    import IPython.display

    bundles, drawn = [], []
    monkeypatch.setattr(explorer, "widgets_can_render", lambda: True)
    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw=False, metadata=None: bundles.append((data, metadata)))
    monkeypatch.setattr(explorer.plots, "display", lambda fig: (drawn.append(fig), plt.close(fig)))
    assert explorer.show_explorer(input_size=3) is None  # a cell ending with it shows it once
    ((bundle, metadata),) = bundles
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"].startswith("iVBORw0KGgo")  # a PNG, base64: what static HTML shows
    assert "input 3×3" in metadata["image/png"]["alt"]  # and its text alternative
    assert len(drawn) == 1 and "input 3×3" in drawn[0].get_suptitle()

    widget = explorer.explorer_widget(input_size=3)
    names = [child.description for child in widget.children[:-1]]
    assert names == ["input_size", "kernel_size", "stride", "padding", "dilation",
                     "output_padding", "pixel_row", "pixel_col"]
    sliders = {child.description: child for child in widget.children[:-1]}
    assert sliders["pixel_row"].max == 2
    assert len(drawn) == 2
    sliders["input_size"].value = 5
    assert sliders["pixel_row"].max == sliders["pixel_col"].max == 4
    assert len(drawn) == 3 and "input 5×5" in drawn[2].get_suptitle()  # redrawn on change
    widget.close_all()
