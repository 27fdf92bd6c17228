"""Pictures for the chapters and the feedback. Every function returns a matplotlib Figure (a
course picture, ``course_picture``, returns None when grading: it is not drawn there).

Small arrays are drawn as rows or grids of labelled boxes, the way one would on paper, so that
each number of a worked example can be read off the picture.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .arguments import require_pair
from .drawing import (  # noqa: F401 - re-exported: notebooks and chapters use plots.<name>
    COPY_COLORS, EMPTY, SUM, WRONG, NOT_DRAWN, ALT_TEXT, on_first_use, plt, mpatches, mcolors,
    grading, course_picture, described, alt_text, figure_bundle, display, number_label, draw_row,
    finish_rows, draw_grid, light,
)


@course_picture
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
        labels = [number_label(v) if (start <= n < stop and j < shown) else "" for n, v in enumerate(rows[j])]
        draw_row(ax, rows[j], y, colors, labels, title=f"x[{j}] = {number_label(x[j])}  ×  w  at {start}")
    partial = rows[:shown].sum(axis=0)
    draw_row(ax, partial, 0, [SUM] * width,
             title="sum" if shown == len(rows) else
             f"sum so far ({shown} of {len(rows)} copies)")
    ax.axhline(0.98, color="#333333", lw=2)
    finish_rows(ax, width, len(rows) + 1)
    shown_x = ", ".join(number_label(v) for v in x)
    shown_w = ", ".join(number_label(v) for v in np.asarray(w, dtype=np.float64))
    ax.set_title(f"scatter-add with stride {stride}: x = [{shown_x}], w = [{shown_w}]", fontsize=11)
    fig.tight_layout()
    sums = ", ".join(number_label(v) for v in partial)
    copies = (f"{len(rows)} copies of w, each scaled by one value of x and shifted {stride} "
              f"further right than the one before, summed into the length-{width} output [{sums}]"
              if shown == len(rows) else
              f"the first {shown} of {len(rows)} scaled and shifted copies of w; the sum so far "
              f"is [{sums}]")
    return described(fig, f"Scatter-add of x = [{shown_x}] with w = [{shown_w}], stride "
                          f"{stride}: {copies}.")


def comparison_figure(expected, actual, title="expected vs. yours"):
    """Expected, actual and their difference, side by side; wrong entries stand out."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    difference = actual - expected
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    # not `>`: a nan in the answer is wrong too (it compares False with everything)
    wrong = ~(np.abs(difference) <= 1e-5 * scale + 1e-4 * np.abs(expected))
    if expected.ndim == 1 and expected.size <= 24:
        fig, ax = plt.subplots(figsize=(2.5 + 0.7 * expected.size, 2.8))
        draw_row(ax, expected, 2, [SUM] * expected.size, title="expected")
        draw_row(ax, actual, 1, [WRONG if bad else "white" for bad in wrong], title="yours")
        draw_row(ax, difference, 0, [WRONG if bad else "white" for bad in wrong],
                 title="yours − expected")
        finish_rows(ax, expected.size, 3)
    elif expected.ndim == 2 and max(expected.shape) <= 12:
        marks = np.where(wrong, WRONG, "white")
        fig, axes = plt.subplots(1, 3, figsize=(2.0 + 3 * 0.55 * (expected.shape[1] + 1),
                                                1.4 + 0.55 * expected.shape[0]))
        draw_grid(axes[0], expected, SUM, title="expected")
        draw_grid(axes[1], actual, marks, title="yours")
        draw_grid(axes[2], difference, marks, title="yours − expected")
    else:
        panels = [("expected", expected), ("yours", actual), ("yours − expected", difference)]
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
        for ax, (name, values) in zip(axes, panels):
            if values.ndim == 1:
                ax.plot(values, marker="o", lw=1)
            else:
                values = values.reshape((-1,) + values.shape[-2:])[0]  # (N, C, H, W): the first map
                limit = max(float(np.abs(values).max(initial=0.0)), 1e-12)
                image = ax.imshow(values, cmap="RdBu_r", norm=mcolors.TwoSlopeNorm(0, -limit, limit))
                fig.colorbar(image, ax=ax, shrink=0.8)
            ax.set_title(name)
    fig.suptitle(title)
    # room for the title above the panels' own titles and column numbers: tight_layout alone
    # leaves it touching them (pixel_shuffle's 3 x 6 grids, seen in chapter 07)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    if wrong.any():
        first = tuple(int(n) for n in np.argwhere(wrong)[0])
        where = f"position {first[0]}" if len(first) == 1 else f"index {first}"
        def shown(value):  # a learner's answer may hold nan or inf
            return number_label(value) if np.isfinite(value) else str(value)
        verdict = (f"{int(wrong.sum())} of {wrong.size} entries differ, the first at {where}: "
                   f"expected {shown(expected[first])}, yours {shown(actual[first])}")
    else:
        verdict = "every entry matches"
    return described(fig, f"{title}: the expected answer, yours and their difference, shape "
                          f"{expected.shape}; {verdict}.")


# --- chapter 02: output sizes ------------------------------------------------------------------

PAD = "#D9D9D9"
CROPPED = "#BBBBBB"
EXTRA = "#B7DDB0"


@course_picture
def conv_positions_1d(i, k, stride=1, padding=0, dilation=1):
    """A direct convolution's kernel placements over a zero-padded input, one row per output."""
    size = reference.conv_output_size(i, k, stride, padding, dilation)
    width = i + 2 * padding
    fig, ax = plt.subplots(figsize=(1.8 + 0.55 * width, 0.55 * (size + 2.4)))
    colors = [PAD if (n < padding or n >= padding + i) else "white" for n in range(width)]
    labels = ["0" if c == PAD else f"x{n - padding}" for n, c in enumerate(colors)]
    draw_row(ax, np.zeros(width), size + 0.3, colors, labels, title="padded input")
    for out in range(size):
        taps = {out * stride + t * dilation for t in range(k)}
        row_colors = [COPY_COLORS[out % len(COPY_COLORS)] if n in taps else "white"
                      for n in range(width)]
        row_labels = [f"w{(n - out * stride) // dilation}" if n in taps else "" for n in range(width)]
        draw_row(ax, np.zeros(width), size - 1 - out, row_colors, row_labels,
                 title=f"output {out}")
    finish_rows(ax, width, size + 1.3)
    ax.set_xlabel("position in the padded input")
    ax.set_title(f"i={i}, k={k}, stride={stride}, padding={padding}, dilation={dilation}: "
                 f"{size} position{'s' if size != 1 else ''} fit", fontsize=11)
    fig.tight_layout()
    return described(fig, f"A direct convolution with i={i}, k={k}, stride={stride}, "
                          f"padding={padding}, dilation={dilation}: the input padded to length "
                          f"{width}, and one row per output position marking the {k} input samples "
                          f"its kernel covers; {size} position{'s' if size != 1 else ''} fit.")


@course_picture
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
    draw_row(ax, np.zeros(width), 1, [SUM if n < full else "white" for n in range(width)],
             [str(n) if n < full else "" for n in range(width)], title="full scatter-add")
    draw_row(ax, np.zeros(width), 0, colors, labels, title="output")
    ax.add_patch(mpatches.Rectangle((padding, -0.08), size, 1.16, fill=False, edgecolor="#C44E52", lw=2.5))
    finish_rows(ax, width, 2)
    ax.set_xlabel("position in the full scatter-add (numbers in the output row: output position)")
    ax.set_title(f"i={i}, k={k}, stride={stride}, padding={padding}, dilation={dilation}, "
                 f"output_padding={output_padding}: full {full}, output {size}", fontsize=11)
    fig.tight_layout()
    added = max(0, padding + size - full)
    return described(fig, f"A transposed convolution with i={i}, k={k}, stride={stride}, "
                          f"padding={padding}, dilation={dilation}, output_padding={output_padding}:"
                          f" the full scatter-add has {full} samples; the output keeps positions "
                          f"{padding} to {padding + size - 1} of it, {size} samples, cutting "
                          f"{padding} at the start and {max(0, full - padding - size)} at the end"
                          + (f", and {added} zero(s) past its end added by output_padding"
                             if added else "") + ".")


# --- chapter 03: 2D scatter-add and the crop ---------------------------------------------------

def _grid_figure(panels, height=None):
    """One row of grids: ``panels`` is a list of (values, draw_grid keyword arguments)."""
    widths = [np.shape(values)[1] for values, _ in panels]
    rows = max(np.shape(values)[0] for values, _ in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.0 + 0.6 * (sum(widths) + 1.5 * len(panels)),
                                                      height or 2.3 + 0.6 * rows),
                             gridspec_kw={"width_ratios": [w + 1 for w in widths]})
    axes = np.atleast_1d(axes)
    for ax, (values, options) in zip(axes, panels):
        draw_grid(ax, values, **options)
    return fig, axes


@course_picture
def scatter_step_2d(x, w, stride=1, step=0):
    """Step ``step`` of the 2D scatter-add (input values in row-major order).

    Three grids: the input with the value being scattered highlighted; that value times the
    kernel, written at its place in the full output; the full output after this step (the sum of
    the copies so far), with the cells this step touched in the copy's color.
    """
    contributions = reference.conv_transpose2d_contributions(x, w, stride)
    x = np.asarray(x, dtype=np.float64)
    height, width = x.shape
    i, j = divmod(step, width)
    color = light(COPY_COLORS[step % len(COPY_COLORS)])
    k_h, k_w = np.shape(w)
    stride_h, stride_w = require_pair("stride", stride, 1)
    top, left = i * stride_h, j * stride_w
    touched = np.zeros(contributions.shape[2:], dtype=bool)
    touched[top:top + k_h, left:left + k_w] = True
    copy_labels = [[number_label(v) if touched[r, c] else "" for c, v in enumerate(row)]
                   for r, row in enumerate(contributions[i, j])]
    running = contributions.reshape((-1,) + touched.shape)[:step + 1].sum(axis=0)
    input_colors = np.empty(x.shape, dtype=object)
    input_colors[...] = "white"
    input_colors.flat[:step] = EMPTY
    input_colors[i, j] = color
    fig, axes = _grid_figure([
        (x, dict(colors=input_colors, title="input x")),
        (contributions[i, j], dict(colors=np.where(touched, color, "white"), labels=copy_labels,
                                   title=f"x[{i}, {j}] × w = {number_label(x[i, j])} × w\n"
                                         f"at row {top}, column {left}")),
        (running, dict(colors=np.where(touched, color, SUM),
                       title="sum so far" if step + 1 < x.size else "sum: the full output")),
    ])
    fig.suptitle(f"scatter step {step + 1} of {x.size} (stride {stride})", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return described(fig, f"Step {step + 1} of {x.size} of a 2D scatter-add with stride {stride}: "
                          f"the input value x[{i}, {j}] = {number_label(x[i, j])} times the {k_h} "
                          f"by {k_w} kernel, added at row {top}, column {left} of the "
                          f"{touched.shape[0]} by {touched.shape[1]} full output; right, the sum "
                          f"of the copies so far, {step + 1} of {x.size}.")


@course_picture
def crop_2d(x, w, stride=1, padding=0):
    """The full output with the crop window framed, and what is left after the crop."""
    full = reference.conv_transpose2d_full(x, w, stride)
    out = reference.conv_transpose2d(x, w, stride, padding)
    p_h, p_w = require_pair("padding", padding, 0)
    kept = np.zeros(full.shape, dtype=bool)
    kept[p_h:p_h + out.shape[0], p_w:p_w + out.shape[1]] = True
    fig, axes = _grid_figure([
        (full, dict(colors=np.where(kept, SUM, CROPPED), frame=(p_h, p_w) + out.shape,
                    title=f"full output {full.shape[0]}×{full.shape[1]}:\n"
                          f"crop {p_h} row(s) top and bottom, {p_w} column(s) left and right")),
        (out, dict(colors=SUM, title=f"output {out.shape[0]}×{out.shape[1]}")),
    ])
    fig.tight_layout()
    return described(fig, f"Padding ({p_h}, {p_w}) as a crop: the {full.shape[0]} by "
                          f"{full.shape[1]} full scatter-add output with the kept window framed; "
                          f"cutting {p_h} row(s) at the top and the bottom and {p_w} column(s) at "
                          f"the left and the right leaves the {out.shape[0]} by {out.shape[1]} "
                          f"output.")


# --- chapter 04: channels and groups -----------------------------------------------------------

@course_picture
def channel_map(channels_in, channels_out, groups=1):
    """Which input channel scatters into which output channel, and through which kernel.

    Each line is one kernel ``weight[c_in, o]`` of the transposed convolution's weight, shape
    ``(C_in, C_out // groups, kH, kW)``; with groups, input channels only reach the output
    channels of their own group.
    """
    per_in, per_out = channels_in // groups, channels_out // groups
    height = max(channels_in, channels_out)
    fig, ax = plt.subplots(figsize=(8.5, 0.8 + 0.8 * height))
    def y(index, count):
        return (height - count) / 2 + (count - 1 - index)
    for c in range(channels_in):
        group = c // per_in
        color = COPY_COLORS[group % len(COPY_COLORS)]
        ax.add_patch(mpatches.Rectangle((0, y(c, channels_in) - 0.3), 1.4, 0.6, facecolor=color, alpha=0.35,
                               edgecolor="#333333"))
        ax.text(0.7, y(c, channels_in), f"in {c}", ha="center", va="center")
        for o in range(per_out):
            target = group * per_out + o
            ax.plot([1.4, 4.6], [y(c, channels_in), y(target, channels_out)], color=color, lw=1.5)
    for target in range(channels_out):
        group, o = divmod(target, per_out)
        color = COPY_COLORS[group % len(COPY_COLORS)]
        ax.add_patch(mpatches.Rectangle((4.6, y(target, channels_out) - 0.3), 3.2, 0.6, facecolor=color,
                               alpha=0.35, edgecolor="#333333"))
        # "★": the star operator "⋆" (U+22C6), in this font and size, is drawn as a dot
        sources = " + ".join(f"in {c} ★ w[{c},{o}]"
                             for c in range(group * per_in, (group + 1) * per_in))
        ax.text(4.7, y(target, channels_out), f"out {target} = {sources}", ha="left", va="center",
                fontsize=9)
    ax.set_xlim(-0.1, 7.9)
    ax.set_ylim(-0.6, height - 0.4)
    ax.axis("off")
    ax.set_title(f"C_in={channels_in}, C_out={channels_out}, groups={groups}: weight shape "
                 f"({channels_in}, {per_out}, kH, kW)", fontsize=11)
    fig.tight_layout()
    return described(fig, f"Which input channel feeds which output channel when C_in={channels_in},"
                          f" C_out={channels_out}, groups={groups}: each output channel o sums "
                          f"{per_in} input channel(s) c of its group, each through its own kernel "
                          f"w[c, o]; the weight's shape is ({channels_in}, {per_out}, kH, kW).")


# --- chapter 05: the matrix view and the zero-insertion view -----------------------------------

@course_picture
def matrix_figure(matrix, title=None, row_name="output", col_name="input"):
    """A small matrix as a grid of numbers, non-zero entries shaded."""
    matrix = np.asarray(matrix, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(max(3.0, 1.2 + 0.6 * matrix.shape[1]),
                                    1.8 + 0.6 * matrix.shape[0]))
    draw_grid(ax, matrix, np.where(matrix != 0, SUM, "white"), title=title)
    ax.set_xlabel(f"{col_name} position", fontsize=9)
    ax.set_ylabel(f"{row_name} position", fontsize=9)
    fig.tight_layout()
    rows = "; ".join("[" + ", ".join(number_label(v) for v in row) + "]" for row in matrix)
    return described(fig, f"{title + ': ' if title else ''}a {matrix.shape[0]} by "
                          f"{matrix.shape[1]} matrix, one row per {row_name} position and one "
                          f"column per {col_name} position, its {np.count_nonzero(matrix)} "
                          f"non-zero entries shaded"
                          + (f"; rows {rows}." if matrix.size <= 48 else "."))


@course_picture
def zero_insertion_2d(x, w, stride=1, padding=0):
    """The direct-convolution route: spread input, padded (or cropped), flipped kernel, result.

    In the middle grid the input's values are colored, the inserted zeros white and the padding
    grey; the red frame is the flipped kernel's first position (its top-left output value).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    stride_h, stride_w = require_pair("stride", stride, 1)
    p_h, p_w = require_pair("padding", padding, 0)
    a_h, a_w = w.shape[0] - 1 - p_h, w.shape[1] - 1 - p_w
    spread = reference.zero_insert_2d(x, stride)
    kinds = np.empty(spread.shape, dtype=object)
    kinds[...] = "white"
    kinds[::stride_h, ::stride_w] = light(COPY_COLORS[0])
    padded = reference.pad_or_crop_2d(spread, (a_h, a_w))
    colors = np.empty(padded.shape, dtype=object)
    colors[...] = PAD
    inner = kinds[max(0, -a_h):kinds.shape[0] - max(0, -a_h), max(0, -a_w):kinds.shape[1] - max(0, -a_w)]
    colors[max(0, a_h):max(0, a_h) + inner.shape[0], max(0, a_w):max(0, a_w) + inner.shape[1]] = inner
    result = reference.conv_transpose2d_by_zero_insertion(x, w, stride, padding)
    fig, axes = _grid_figure([
        (x, dict(colors=light(COPY_COLORS[0]), title="input x")),
        (padded, dict(colors=colors, frame=(0, 0) + w.shape,
                      title=f"{stride_h - 1}/{stride_w - 1} zero(s) inserted,\n"
                            + ("padded" if min(a_h, a_w) >= 0 else "padded (< 0: cropped)")
                            + f" by k - 1 - p = ({a_h}, {a_w})")),
        (w[::-1, ::-1], dict(colors=EXTRA, title="kernel flipped\non both axes")),
        (result, dict(colors=SUM, title="cross-correlation:\nthe output")),
    ])
    fig.tight_layout()
    return described(fig, f"A transposed convolution with stride {stride} and padding {padding} "
                          f"as a direct one: the {x.shape[0]} by {x.shape[1]} input with "
                          f"{stride_h - 1} zero(s) inserted between its rows and {stride_w - 1} "
                          f"between its columns, padded by k − 1 − p = ({a_h}, {a_w}) (cropped "
                          f"where negative); the {w.shape[0]} by {w.shape[1]} kernel flipped on "
                          f"both axes; their cross-correlation, the {result.shape[0]} by "
                          f"{result.shape[1]} output.")


@course_picture
def conv1d_matrix_figure(n, w, stride=1, transposed=False):
    """The matrix C of a direct 1-D convolution on length-``n`` inputs (or its transpose C.T),
    one row per output position (per input position for C.T)."""
    matrix = reference.conv1d_matrix(n, w, stride)
    kernel = ", ".join(number_label(v) for v in np.asarray(w, dtype=np.float64))
    what = (f"The transpose C.T of the matrix of a direct convolution of a length-{n} input with "
            f"w = [{kernel}], stride {stride}: column r holds the kernel from row r·{stride}"
            if transposed else
            f"The matrix C of a direct convolution of a length-{n} input with w = [{kernel}], "
            f"stride {stride}: row r holds the kernel from column r·{stride}")
    shown = matrix.T if transposed else matrix
    fig = matrix_figure(shown, (f"C.T {shown.shape}:\ncolumn r = kernel\nfrom row r·{stride}"
                                if transposed else
                                f"C {shown.shape}: row r = kernel\nfrom column r·{stride}"))
    rows = "; ".join("[" + ", ".join(number_label(v) for v in row) + "]" for row in shown)
    return described(fig, f"{what}; {shown.shape[0]} by {shown.shape[1]}"
                          + (f", rows {rows}." if shown.size <= 48 else "."))
