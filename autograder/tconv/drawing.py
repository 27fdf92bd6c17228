"""How the course's pictures are drawn and shown: matplotlib imported on first use, a course
picture left undrawn when grading (``course_picture``), the text alternative (``described``),
the display message that carries it (``figure_bundle``, ``display``), and the labelled boxes
(rows, grids) every picture is made of. ``plots`` re-exports it all: notebooks use ``plots.display``.
"""

from __future__ import annotations

import functools
import importlib
import os

import numpy as np


COPY_COLORS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
EMPTY = "#F2F2F2"
SUM = "#FFE9A8"
WRONG = "#F4A6A6"


NOT_DRAWN = ("[a picture of the course: not drawn when grading; run the cell in your notebook "
             "to see it]")


class on_first_use:  # noqa: N801 - stands where a module's name would
    """A module imported when one of its names is first used, not when it is named: a kernel that
    draws nothing never imports matplotlib (1.1 s of CPU, a quarter of a graded chapter 01's
    kernel, measured on 2026-12-03)."""

    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self.name), attribute)


plt = on_first_use("matplotlib.pyplot")
mpatches = on_first_use("matplotlib.patches")
mcolors = on_first_use("matplotlib.colors")


def grading() -> bool:
    """True in nbgrader's grading run (it sets NBGRADER_EXECUTION=autograde), not in Validate."""
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def course_picture(draw):
    """Marks a function that draws one of the course's pictures (the same for every learner).

    When grading, it draws nothing and returns None, and ``display`` prints NOT_DRAWN in its
    place: nobody looks at these pictures in the grader, and building them, matplotlib's import
    included, cost about a quarter of a graded kernel's CPU (the perfect sample's seven chapters:
    43 s of kernel CPU with them, 33 s without, measured on 2026-12-03). The picture of a
    learner's answer (``comparison_figure``) is not marked: the feedback shows it.
    """
    @functools.wraps(draw)
    def unless_grading(*args, **kwargs):
        return None if grading() else draw(*args, **kwargs)

    unless_grading.course_picture = True  # how the tests find every course picture
    return unless_grading


ALT_TEXT = "tconv_alt_text"  # the attribute of a Figure that holds its text alternative


def described(fig, text: str):
    """``fig`` with its text alternative: what a screen reader says in the picture's place (the
    ``alt`` of its ``<img>``). A sentence or two saying what the picture shows, with the numbers
    it was drawn from. Every picture shown with ``display`` has one."""
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("a picture's text alternative is empty: say what the picture shows")
    setattr(fig, ALT_TEXT, text)
    return fig


def alt_text(fig) -> str:
    """The text alternative given to ``fig`` by ``described`` ("" if none was)."""
    return getattr(fig, ALT_TEXT, "")


def figure_bundle(fig) -> tuple[dict, dict]:
    """(data, metadata) of a display message showing ``fig`` with its text alternative.

    The PNG is the one IPython's inline backend would make. Its text alternative goes where each
    renderer reads one: nbconvert's HTML (the feedback page, an exported notebook) writes the
    ``alt`` of ``metadata["image/png"]``; JupyterLab's PNG renderer reads none, so a learner's
    kernel also sends ``text/html``, an ``<img>`` with that ``alt``, which JupyterLab prefers
    (grading leaves it out: the feedback keeps only PNG and text, ``report.make_safe``);
    ``text/plain`` is the text alternative itself, for a front end that shows no pictures.
    """
    import html

    from IPython.core.pylabtools import print_figure

    # a figure no function described (none of the course's): its titles say what they can
    alt = alt_text(fig) or " ".join("; ".join(
        title for title in [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
        if title).split()) or "a picture without a description"
    png = print_figure(fig, "png", bbox_inches="tight", base64=True)
    data = {"image/png": png, "text/plain": f"[picture: {alt}]"}
    if not grading():
        data["text/html"] = (f'<img src="data:image/png;base64,{png}" '
                             f'alt="{html.escape(alt, quote=True)}">')
    return data, {"image/png": {"alt": alt}}


def display(fig) -> None:
    """Show a figure under the current cell (in a notebook), with its text alternative
    (``figure_bundle``), and release it; for a course picture that was not drawn
    (``course_picture``, when grading), one line that says so."""
    if fig is None and grading():
        print(NOT_DRAWN)
        return
    if fig is None:
        raise TypeError("plots.display was given None, not a figure: the function that should "
                        "draw it returned nothing. Pass display what a plots function returns.")
    from IPython.display import display as ipython_display

    try:
        data, metadata = figure_bundle(fig)
        ipython_display(data, raw=True, metadata=metadata)
    finally:
        plt.close(fig)


def number_label(value: float) -> str:
    """A value as the pictures write it: whole numbers without a decimal point."""
    return f"{value:.3g}" if value != int(value) else str(int(value))


def draw_row(ax, values, y, colors, labels=None, title=None):
    """Boxes at x = 0, 1, ... on row y, each with its value written in it."""
    for position, value in enumerate(values):
        ax.add_patch(mpatches.Rectangle((position, y), 1, 1, facecolor=colors[position],
                                        edgecolor="#333333"))
        text = number_label(value) if labels is None else labels[position]
        ax.text(position + 0.5, y + 0.5, text, ha="center", va="center", fontsize=11)
    if title:
        ax.text(-0.3, y + 0.5, title, ha="right", va="center", fontsize=10)


def finish_rows(ax, width, rows):
    """Frame ``rows`` rows of ``draw_row`` boxes, ``width`` wide, numbered by output position."""
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-0.1, rows + 0.1)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(width) + 0.5, [str(n) for n in range(width)])
    ax.tick_params(left=False, labelleft=False, bottom=False)
    ax.set_xlabel("output position")
    for side in ax.spines.values():
        side.set_visible(False)

def draw_grid(ax, values, colors="white", labels=None, title=None, frame=None, fontsize=11):
    """Draw a 2-D array as a grid of labelled boxes, row 0 at the top, like a matrix on paper.

    ``colors``: one color, or an array of colors shaped like ``values``; ``labels``: texts shaped
    like ``values`` (default: the values); ``frame``: ``(top, left, height, width)`` of a thick
    red rectangle drawn over the grid (the crop window, a kernel position).
    """
    values = np.asarray(values, dtype=np.float64)
    rows, cols = values.shape
    colors = np.broadcast_to(np.asarray(colors, dtype=object), values.shape)
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(mpatches.Rectangle((c, r), 1, 1, facecolor=colors[r, c], edgecolor="#333333"))
            text = number_label(values[r, c]) if labels is None else labels[r][c]
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=fontsize)
    if frame is not None:
        top, left, height, width = frame
        ax.add_patch(mpatches.Rectangle((left, top), width, height, fill=False, edgecolor="#C44E52", lw=3))
    ax.set_xlim(-0.1, cols + 0.1)
    ax.set_ylim(rows + 0.1, -0.1)  # row 0 on top
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(cols) + 0.5, [str(n) for n in range(cols)])
    ax.set_yticks(np.arange(rows) + 0.5, [str(n) for n in range(rows)])
    ax.tick_params(length=0, labelsize=8, labeltop=True, labelbottom=False)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=11, pad=16)  # clear of the column numbers on top


def light(color, amount=0.55):
    """``color`` mixed with white, so black text on it stays readable."""
    rgb = mcolors.to_rgb(color)
    return mcolors.to_hex(tuple(1 - amount * (1 - channel) for channel in rgb))
