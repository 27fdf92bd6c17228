"""Chapter 03's optional explorer: every argument of a 2D transposed convolution on sliders.

``explorer_figure(...)`` draws, for a square input and kernel: the input with one chosen pixel,
the full scatter-add output with the number of kernel copies that land on each output pixel
(with equal kernel weights, uneven counts make a checkerboard; chapter 06 gives the exact
condition, equal tap sums in every phase), the cells the chosen pixel writes to,
the crop window that ``padding`` and ``output_padding`` leave, and the output-size formula with
the numbers put in. Everything is computed with ``tconv.reference``.

``show_explorer()`` puts that figure under ipywidgets sliders in a live notebook, and draws one
static figure where widgets cannot be shown (no kernel, nbgrader's Validate); when grading it
draws nothing (a course picture: ``plots.course_picture``). In a live
notebook the widget also carries a picture of its first state, which a static HTML export of the
notebook shows instead of the sliders.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np

from . import plots, reference
from .plots import course_picture, mcolors, mpatches, plt

DEFAULTS = dict(input_size=2, kernel_size=3, stride=2, padding=1, dilation=1, output_padding=0,
                pixel_row=0, pixel_col=0)
# Slider ranges: large enough to see every effect, small enough to read every number.
RANGES = dict(input_size=(1, 6), kernel_size=(1, 5), stride=(1, 4), padding=(0, 4),
              dilation=(1, 3), output_padding=(0, 3), pixel_row=(0, 5), pixel_col=(0, 5))
PIXEL = plots.COPY_COLORS[0]
COUNT_COLORS = "YlOrBr"  # a matplotlib colour map


def output_size_formula(input_size, kernel_size, stride=1, padding=0, dilation=1,
                        output_padding=0) -> str:
    """PyTorch's output-size formula with these numbers put in, and its value.

    Raises ``ValueError`` (from ``reference.conv_transpose_output_size``) for arguments PyTorch
    rejects, with a message that names the argument and the allowed range.
    """
    size = reference.conv_transpose_output_size(input_size, kernel_size, stride, padding,
                                                dilation, output_padding)
    return (f"H_out = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1 = "
            f"({input_size} − 1)·{stride} − 2·{padding} + {dilation}·({kernel_size} − 1) + "
            f"{output_padding} + 1 = {size}")


def overlap_counts(input_size, kernel_size, stride=1, dilation=1, output_padding=0) -> np.ndarray:
    """How many copies of the kernel land on each pixel of the full (uncropped) output.

    The transposed convolution of an all-ones input with an all-ones kernel, before the crop,
    with ``output_padding``'s extra rows and columns (count 0) at the bottom and right.
    -> (full + output_padding, full + output_padding), full = (i - 1)*s + d*(k - 1) + 1
    """
    ones_in = np.ones((1, 1, input_size, input_size))
    ones_kernel = np.ones((1, 1, kernel_size, kernel_size))
    return reference.conv_transpose2d_nchw(ones_in, ones_kernel, stride=stride, padding=0,
                                           output_padding=output_padding, dilation=dilation)[0, 0]


def pixel_footprint(input_size, kernel_size, stride, dilation, output_padding, row, col) -> np.ndarray:
    """Where input pixel ``(row, col)`` writes in the full output: a boolean grid like
    ``overlap_counts``'s."""
    one_pixel = np.zeros((1, 1, input_size, input_size))
    one_pixel[0, 0, row, col] = 1.0
    ones_kernel = np.ones((1, 1, kernel_size, kernel_size))
    written = reference.conv_transpose2d_nchw(one_pixel, ones_kernel, stride=stride, padding=0,
                                              output_padding=output_padding, dilation=dilation)
    return written[0, 0] > 0


def _message_figure(title: str, message: str):
    fig, ax = plt.subplots(figsize=(10, 2.2))
    ax.axis("off")
    ax.text(0.5, 0.62, title, ha="center", va="center", fontsize=12, transform=ax.transAxes)
    ax.text(0.5, 0.3, message, ha="center", va="center", fontsize=11, color="#C44E52",
            transform=ax.transAxes, wrap=True)
    return plots.described(fig, f"{title}: {message}")


@course_picture
def explorer_figure(input_size=2, kernel_size=3, stride=2, padding=1, dilation=1,
                    output_padding=0, pixel_row=0, pixel_col=0):
    """The explorer's picture for one setting of the sliders (square input and kernel).

    Left: the ``input_size``² input, pixel ``(pixel_row, pixel_col)`` highlighted (clamped into
    the input). Right: the full scatter-add output, each cell labelled with how many kernel copies
    overlap there; the chosen pixel's copy outlined; the crop window framed in red, cropped cells
    grey, ``output_padding``'s added cells green. Above: the output-size formula, evaluated.
    Arguments PyTorch rejects give a figure that says why instead of an exception.
    """
    settings = (f"input {input_size}×{input_size}, kernel {kernel_size}×{kernel_size}, "
                f"stride {stride}, padding {padding}, dilation {dilation}, "
                f"output_padding {output_padding}")
    try:
        formula = output_size_formula(input_size, kernel_size, stride, padding, dilation,
                                      output_padding)
    except ValueError as error:
        return _message_figure(settings, f"PyTorch refuses this: {error}")
    size = reference.conv_transpose_output_size(input_size, kernel_size, stride, padding, dilation,
                                                output_padding)
    row = min(max(int(pixel_row), 0), input_size - 1)
    col = min(max(int(pixel_col), 0), input_size - 1)
    full = (input_size - 1) * stride + dilation * (kernel_size - 1) + 1
    # Draw as much as the crop window reaches: past `full` only where output_padding adds cells.
    width = max(full, padding + size)
    counts = overlap_counts(input_size, kernel_size, stride, dilation, output_padding)[:width, :width]
    footprint = pixel_footprint(input_size, kernel_size, stride, dilation, output_padding,
                                row, col)[:width, :width]

    kept = np.zeros((width, width), dtype=bool)
    kept[padding:padding + size, padding:padding + size] = True
    added = np.zeros((width, width), dtype=bool)
    added[full:, :] = added[:, full:] = True
    most = max(counts.max(), 1)
    colors = np.empty((width, width), dtype=object)
    for r in range(width):
        for c in range(width):
            if not kept[r, c]:
                colors[r, c] = plots.CROPPED
            elif added[r, c]:
                colors[r, c] = plots.EXTRA
            elif counts[r, c] == 0:
                colors[r, c] = "white"  # no copy lands here: a hole in the output
            else:
                shade = plt.get_cmap(COUNT_COLORS)(0.12 + 0.6 * counts[r, c] / most)
                colors[r, c] = mcolors.to_hex(shade)
    input_colors = np.full((input_size, input_size), "white", dtype=object)
    input_colors[row, col] = plots.light(PIXEL)

    fontsize = max(5, min(11, int(200 / width)))
    # One cell size for both grids, so the input and the output compare at a glance.
    cell = min(0.5, 10.0 / (input_size + width + 2))
    height = cell * (width + 1) + 2.0
    fig, (ax_in, ax_out) = plt.subplots(
        1, 2, figsize=(max(9.0, cell * (input_size + width + 2) + 1.5), height),
        gridspec_kw={"width_ratios": [max(input_size, 3) + 0.5, width + 0.5]})
    ax_in.set_label("input")
    ax_out.set_label("overlap")
    plots.draw_grid(ax_in, np.zeros((input_size, input_size)), colors=input_colors,
                    labels=[["" for _ in range(input_size)] for _ in range(input_size)],
                    title=f"input {input_size}×{input_size}\nchosen pixel ({row}, {col})")
    ax_in.add_patch(mpatches.Rectangle((col, row), 1, 1, fill=False, edgecolor=PIXEL, lw=3,
                                       gid="pixel"))
    plots.draw_grid(ax_out, counts, colors=colors, fontsize=fontsize,
                    frame=(padding, padding, size, size),
                    title=f"full output {full}×{full}: copies of the kernel on each pixel\n"
                          f"outlined: where pixel ({row}, {col}) writes; "
                          f"red frame: the {size}×{size} output kept")
    for r, c in zip(*np.nonzero(footprint)):
        ax_out.add_patch(mpatches.Rectangle((c + 0.08, r + 0.08), 0.84, 0.84, fill=False,
                                            edgecolor=PIXEL, lw=2, gid="footprint"))

    inside = counts[kept & ~added]
    if inside.min() == inside.max():
        verdict = (f"every output pixel gets {int(inside.min())} cop{'y' if inside.min() == 1 else 'ies'}"
                   ": even overlap (its weights can still make a checkerboard)")
    else:
        verdict = (f"output pixels get {int(inside.min())} to {int(inside.max())} copies: "
                   + ("holes (white) that no copy reaches, whatever the weights"
                      if inside.min() == 0 else
                      "uneven overlap, a checkerboard unless the weights even it out"))
    fig.suptitle(f"{settings}\n{formula}\n{verdict}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))  # room for the three title lines
    return plots.described(fig, f"{settings}: {formula}. Left, the input with pixel ({row}, {col}) "
                                f"chosen; right, the {full} by {full} full output, each pixel "
                                f"labelled with the number of kernel copies on it, the cells "
                                f"pixel ({row}, {col}) writes outlined and the kept {size} by "
                                f"{size} output framed: {verdict}.")


def widgets_can_render() -> bool:
    """A live kernel with ipywidgets, and not nbgrader's grading run."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _png_base64(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def explorer_widget(**start):
    """The sliders and the figure under them: an ``ipywidgets.interactive`` (what ``interact``
    builds), with the pixel sliders kept inside the input."""
    import ipywidgets as widgets

    values = {**DEFAULTS, **start}
    sliders = {name: widgets.IntSlider(value=values[name], min=low, max=high,
                                       description=name, continuous_update=False,
                                       style={"description_width": "110px"})
               for name, (low, high) in RANGES.items()}

    def keep_pixel_inside(change):
        for name in ("pixel_row", "pixel_col"):
            sliders[name].max = change["new"] - 1

    sliders["input_size"].observe(keep_pixel_inside, names="value")
    keep_pixel_inside({"new": sliders["input_size"].value})

    def draw(**arguments):
        plots.display(explorer_figure(**arguments))

    return widgets.interactive(draw, **sliders)


def show_explorer(**start) -> None:
    """Show the explorer: sliders in a live notebook, one static figure elsewhere.

    ``start`` sets the sliders' first values (the names of ``explorer_figure``'s arguments).
    Returns nothing, so that a notebook cell ending with this call shows the explorer once.
    """
    from IPython.display import display

    values = {**DEFAULTS, **start}
    if not widgets_can_render():
        plots.display(explorer_figure(**values))
        return
    widget = explorer_widget(**values)
    bundle = widget._repr_mimebundle_()
    # Front ends that cannot show the widget (a static HTML export) show this picture instead.
    first = explorer_figure(**values)
    alt = plots.alt_text(first)
    bundle["image/png"] = _png_base64(first)
    bundle["text/plain"] = ("The explorer's sliders need a live notebook; this is its first "
                            f"picture: {alt}")
    display(bundle, raw=True, metadata={"image/png": {"alt": alt}})
