"""Pictures for the chapters and the feedback. Every function returns a matplotlib Figure.

Small arrays are drawn as rows or grids of labelled boxes, the way one would on paper, so that
each number of a worked example can be read off the picture.
"""

from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower() in {"", "agg"}:
    matplotlib.use("Agg")  # headless (tests, grading); the notebook kernel keeps its inline backend

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.patches import Rectangle

from . import reference

COPY_COLORS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
EMPTY = "#F2F2F2"
SUM = "#FFE9A8"
WRONG = "#F4A6A6"


def display(fig) -> None:
    """Show a figure under the current cell (in a notebook) and release it."""
    try:
        from IPython.display import display as ipython_display

        ipython_display(fig)
    finally:
        plt.close(fig)


def _label(value: float) -> str:
    return f"{value:.3g}" if value != int(value) else str(int(value))


def _draw_row(ax, values, y, colors, labels=None, title=None):
    """Boxes at x = 0, 1, ... on row y, each with its value written in it."""
    for position, value in enumerate(values):
        ax.add_patch(Rectangle((position, y), 1, 1, facecolor=colors[position], edgecolor="#333333"))
        text = _label(value) if labels is None else labels[position]
        ax.text(position + 0.5, y + 0.5, text, ha="center", va="center", fontsize=11)
    if title:
        ax.text(-0.3, y + 0.5, title, ha="right", va="center", fontsize=10)


def _finish_rows(ax, width, rows):
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-0.1, rows + 0.1)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(width) + 0.5, [str(n) for n in range(width)])
    ax.tick_params(left=False, labelleft=False, bottom=False)
    ax.set_xlabel("output position")
    for side in ax.spines.values():
        side.set_visible(False)


def scatter_steps_1d(x, w, stride=1, upto=None):
    """Each input value's scaled copy of the kernel, in place, and the running sum below them.

    ``upto``: draw only the first ``upto`` copies (the sum row then shows the partial sum), so a
    notebook can show the scatter one step at a time.
    """
    rows = reference.conv_transpose1d_contributions(x, w, stride)
    x = np.asarray(x, dtype=np.float64)
    shown = len(rows) if upto is None else upto
    width = rows.shape[1]
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * width + 2.0, 0.75 * (len(rows) + 1.6)))
    for j in range(len(rows)):
        y = len(rows) - j  # first input on top, the sum at the bottom
        start, stop = j * stride, j * stride + len(w)
        color = COPY_COLORS[j % len(COPY_COLORS)] if j < shown else EMPTY
        colors = [color if start <= n < stop else "white" for n in range(width)]
        labels = [_label(v) if (start <= n < stop and j < shown) else "" for n, v in enumerate(rows[j])]
        _draw_row(ax, rows[j], y, colors, labels, title=f"x[{j}] = {_label(x[j])}  ×  w  at {start}")
    partial = rows[:shown].sum(axis=0)
    _draw_row(ax, partial, 0, [SUM] * width,
              title="sum" if shown == len(rows) else f"sum of the first {shown}")
    ax.axhline(0.98, color="#333333", lw=2)
    _finish_rows(ax, width, len(rows) + 1)
    shown_x = ", ".join(_label(v) for v in x)
    shown_w = ", ".join(_label(v) for v in np.asarray(w, dtype=np.float64))
    ax.set_title(f"scatter-add with stride {stride}: x = [{shown_x}], w = [{shown_w}]", fontsize=11)
    fig.tight_layout()
    return fig


def comparison_figure(expected, actual, title="expected vs. yours"):
    """Expected, actual and their difference, side by side; wrong entries stand out."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    difference = actual - expected
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    wrong = np.abs(difference) > 1e-5 * scale + 1e-4 * np.abs(expected)
    if expected.ndim == 1 and expected.size <= 24:
        fig, ax = plt.subplots(figsize=(2.5 + 0.7 * expected.size, 2.8))
        _draw_row(ax, expected, 2, [SUM] * expected.size, title="expected")
        _draw_row(ax, actual, 1, [WRONG if bad else "white" for bad in wrong], title="yours")
        _draw_row(ax, difference, 0, [WRONG if bad else "white" for bad in wrong],
                  title="yours − expected")
        _finish_rows(ax, expected.size, 3)
    else:
        panels = [("expected", expected), ("yours", actual), ("yours − expected", difference)]
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
        for ax, (name, values) in zip(axes, panels):
            if values.ndim == 1:
                ax.plot(values, marker="o", lw=1)
            else:
                values = values.reshape((-1,) + values.shape[-2:])[0]  # (N, C, H, W): the first map
                limit = max(float(np.abs(values).max(initial=0.0)), 1e-12)
                image = ax.imshow(values, cmap="RdBu_r", norm=TwoSlopeNorm(0, -limit, limit))
                fig.colorbar(image, ax=ax, shrink=0.8)
            ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- chapter 02: output sizes ------------------------------------------------------------------

PAD = "#D9D9D9"
CROPPED = "#BBBBBB"
EXTRA = "#B7DDB0"


def conv_positions_1d(i, k, stride=1, padding=0, dilation=1):
    """A direct convolution's kernel placements over a zero-padded input, one row per output."""
    size = reference.conv_output_size(i, k, stride, padding, dilation)
    width = i + 2 * padding
    fig, ax = plt.subplots(figsize=(1.8 + 0.55 * width, 0.55 * (size + 2.4)))
    colors = [PAD if (n < padding or n >= padding + i) else "white" for n in range(width)]
    labels = ["0" if c == PAD else f"x{n - padding}" for n, c in enumerate(colors)]
    _draw_row(ax, np.zeros(width), size + 0.3, colors, labels, title="padded input")
    for out in range(size):
        taps = {out * stride + t * dilation for t in range(k)}
        row_colors = [COPY_COLORS[out % len(COPY_COLORS)] if n in taps else "white"
                      for n in range(width)]
        row_labels = [f"w{(n - out * stride) // dilation}" if n in taps else "" for n in range(width)]
        _draw_row(ax, np.zeros(width), size - 1 - out, row_colors, row_labels,
                  title=f"output {out}")
    _finish_rows(ax, width, size + 1.3)
    ax.set_xlabel("position in the padded input")
    ax.set_title(f"i={i}, k={k}, stride={stride}, padding={padding}, dilation={dilation}: "
                 f"{size} position{'s' if size != 1 else ''} fit", fontsize=11)
    fig.tight_layout()
    return fig


def transpose_crop_1d(i, k, stride=1, padding=0, dilation=1, output_padding=0):
    """The full scatter-add of a transposed convolution and the window PyTorch keeps of it.

    The output is ``full[padding : padding + size]``: `padding` samples are cut from the start,
    and at the end `padding - output_padding` are cut; where `output_padding` exceeds `padding`
    the window runs past the full result and those samples are zeros.
    """
    full = (i - 1) * stride + dilation * (k - 1) + 1
    size = reference.conv_transpose_output_size(i, k, stride, padding, dilation, output_padding)
    width = max(full, padding + size)
    fig, ax = plt.subplots(figsize=(max(9.0, 2.2 + 0.55 * width), 2.6))
    colors, labels = [], []
    for n in range(width):
        if not padding <= n < padding + size:
            colors.append(CROPPED), labels.append("✂")
        elif n >= full:
            colors.append(EXTRA), labels.append("0")
        else:
            colors.append(SUM), labels.append(str(n - padding))
    _draw_row(ax, np.zeros(width), 1, [SUM if n < full else "white" for n in range(width)],
              [str(n) if n < full else "" for n in range(width)], title="full scatter-add")
    _draw_row(ax, np.zeros(width), 0, colors, labels, title="output")
    ax.add_patch(Rectangle((padding, -0.08), size, 1.16, fill=False, edgecolor="#C44E52", lw=2.5))
    _finish_rows(ax, width, 2)
    ax.set_xlabel("position in the full scatter-add (numbers in the output row: output position)")
    ax.set_title(f"i={i}, k={k}, stride={stride}, padding={padding}, dilation={dilation}, "
                 f"output_padding={output_padding}: full {full}, output {size}", fontsize=11)
    fig.tight_layout()
    return fig
