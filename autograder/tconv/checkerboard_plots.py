"""Chapter 07's pictures: overlap counts, kernel phases, the polyphase and sub-pixel views, and the
experiment. Every function returns a matplotlib Figure, or None when
grading (``plots.course_picture``); ``plots.display`` shows it."""

from __future__ import annotations

import functools

import numpy as np

from . import checkerboard_reference as answers
from . import plots, pytorch
from .plots import COPY_COLORS, course_picture, draw_grid, light, mcolors, plt


@functools.cache
def _phase_colors() -> tuple[str, ...]:
    return tuple(light(color) for color in COPY_COLORS)  # matplotlib: imported on first use


def phase_color(phase: int) -> str:
    """The light colour of phase ``phase`` (numbered a * s + b in 2D)."""
    return _phase_colors()[phase % len(COPY_COLORS)]


def _phase_color(a: int, b: int, s_w: int) -> str:
    return phase_color(a * s_w + b)


def _count_shades(counts) -> np.ndarray:
    """White for the fewest copies, darker reds for more."""
    counts = np.asarray(counts)
    levels = sorted(set(counts.ravel().tolist()))
    reds = ["white", "#F9D0D0", "#F4A6A6", "#E07B7B", "#C44E52", "#A23B3F"]
    shades = np.empty(counts.shape, dtype=object)
    for value in levels:
        shades[counts == value] = reds[min(levels.index(value), len(reds) - 1)]
    return shades


@course_picture
def overlap_counts_2d(pairs, n: int = 4):
    """One grid per (k, s): how many copies of a k x k kernel land on each output pixel of a
    stride-s transposed convolution of an n x n input."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.3 * len(pairs), 3.9))
    for ax, (k, s) in zip(np.atleast_1d(axes), pairs):
        counts = answers.overlap_counts_2d(k, s, n)
        inner = sorted(set(np.outer(answers.interior_counts(k, s),
                                    answers.interior_counts(k, s)).ravel().tolist()))
        draw_grid(ax, counts, _count_shades(counts), fontsize=7,
                  title=f"k={k}, s={s}: inside {', '.join(map(str, inner))}")
        ax.tick_params(labelsize=6)
    fig.suptitle(f"copies of the kernel landing on each output pixel ({n}x{n} input)", fontsize=12)
    fig.tight_layout()
    return fig


@course_picture
def phases(w, s: int = 2, n: int = 4):
    """The kernel with each tap colored by its phase; the phase sums; and what the transposed
    convolution makes of an n x n map of ones, each pixel colored by its phase."""
    w = np.asarray(w, dtype=np.float64)
    kernel_colors = np.array([[_phase_color(r % s, c % s, s) for c in range(w.shape[1])]
                              for r in range(w.shape[0])], dtype=object)
    sums = answers.phase_sums(w, s)
    sum_colors = np.array([[_phase_color(a, b, s) for b in range(s)] for a in range(s)],
                          dtype=object)
    out = pytorch.conv_transpose2d(np.ones((n, n)), w, stride=s)
    out_colors = np.array([[_phase_color(r % s, c % s, s) for c in range(out.shape[1])]
                           for r in range(out.shape[0])], dtype=object)
    fig, axes = plt.subplots(1, 3, figsize=(3.2 + 0.45 * out.shape[1] + 0.6 * w.shape[1], 4.3),
                             gridspec_kw={"width_ratios": [w.shape[1] + 1, s + 1,
                                                           out.shape[1] + 1]})
    draw_grid(axes[0], w, kernel_colors, fontsize=9, title="kernel w:\ncolor = phase")
    draw_grid(axes[1], sums, sum_colors, fontsize=9, title="phase\nsums")
    draw_grid(axes[2], out, out_colors, fontsize=7,
              title=f"a {n}x{n} map of ones, stride {s}:\ninside, the phase sums, tiled")
    axes[2].tick_params(labelsize=6)
    fig.tight_layout()
    return fig


@course_picture
def polyphase_1d(x, w, s: int):
    """Each phase w[p::s] scattered with stride 1 (a full convolution), written to the output
    positions p, p + s, ...; the bottom row interleaves them: the stride-s transposed conv."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    out = answers.conv_transpose1d_polyphase(x, w, s)
    width = len(out)
    fig, ax = plt.subplots(figsize=(2.0 + 0.7 * width + 3.2, 0.75 * (s + 2.4)))
    for p in range(s):
        y = s - p
        color = phase_color(p)
        taps = ", ".join(plots.number_label(v) for v in w[p::s]) or "no taps"
        mine = [n % s == p for n in range(width)]
        plots.draw_row(ax, out, y, [color if m else "white" for m in mine],
                       [plots.number_label(v) if m else "" for v, m in zip(out, mine)],
                       title=f"phase {p}: x * [{taps}], stride 1  →  positions {p}, {p + s}, …")
    plots.draw_row(ax, out, 0, [phase_color(n % s) for n in range(width)],
                   title=f"interleaved: the stride-{s} transposed conv")
    ax.axhline(0.98, color="#333333", lw=2)
    plots.finish_rows(ax, width, s + 1)
    shown_x = ", ".join(plots.number_label(v) for v in x)
    shown_w = ", ".join(plots.number_label(v) for v in w)
    ax.set_title(f"x = [{shown_x}], w = [{shown_w}], stride {s}: {s} phase(s)", fontsize=11)
    fig.tight_layout()
    return fig


@course_picture
def pixel_shuffle(x, r: int):
    """The r*r input channels of one output channel, each its own color, and the output in which
    channel i*r + j fills offset (i, j) of every r x r cell."""
    x = np.asarray(x, dtype=np.float64)
    out = answers.pixel_shuffle(x, r)
    height, width = x.shape[1:]
    fig, axes = plt.subplots(1, r * r + 1, figsize=(1.2 + 0.55 * (r * r * (width + 1)
                                                                + out.shape[2] + 1), 3.4),
                             gridspec_kw={"width_ratios": [width + 1] * (r * r)
                                          + [out.shape[2] + 1]})
    for channel in range(r * r):
        draw_grid(axes[channel], x[channel], phase_color(channel),
                  fontsize=9, title=f"channel {channel}\n(i, j) = {divmod(channel, r)}")
    colors = np.array([[_phase_color(row % r, col % r, r)
                        for col in range(out.shape[2])] for row in range(out.shape[1])],
                      dtype=object)
    draw_grid(axes[-1], out[0], colors, fontsize=9,
              title=f"PixelShuffle({r}): {r * r} maps {height}x{width}\n-> one map "
                    f"{height * r}x{width * r}")
    fig.tight_layout()
    return fig


@course_picture
def maps(named: dict, title: str | None = None, centered=False):
    """A row of 2-D maps as images, each with its color bar; ``centered`` puts 0 at white."""
    fig, axes = plt.subplots(1, len(named), figsize=(3.4 * len(named), 3.5))
    for ax, (name, values) in zip(np.atleast_1d(axes), named.items()):
        values = np.asarray(values, dtype=np.float64)
        if centered:
            limit = max(float(np.abs(values).max()), 1e-12)
            image = ax.imshow(values, cmap="RdBu_r", norm=mcolors.TwoSlopeNorm(0, -limit, limit))
        elif np.ptp(values) < 1e-9 * max(1.0, float(np.abs(values).max())):
            image = ax.imshow(values, cmap="viridis", vmin=values.min() - 0.5,
                              vmax=values.max() + 0.5)  # a constant map: one flat color
        else:
            image = ax.imshow(values, cmap="viridis")
        fig.colorbar(image, ax=ax, shrink=0.75)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


@course_picture
def experiment(run, names: dict):
    """Two panels, one line per upsampler: left, its checkerboard amplitude on a map of ones
    during training (log scale; 0 is drawn at the bottom edge); right, its training loss."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    floor = 1e-7
    for number, (key, label) in enumerate(names.items()):
        color = COPY_COLORS[number]
        # each its own marker and size: two upsamplers at 0 on the same steps stay visible
        left.plot(run.steps, np.maximum(run.amplitude[key], floor), marker="os^D"[number % 4],
                  ms=(7, 5, 4)[number % 3], color=color, label=label, alpha=0.9)
        right.plot(run.loss[key], color=color, lw=1, label=label)
    left.set_yscale("log")
    left.set_ylim(floor / 2, None)
    left.set_xlabel("training step")
    left.set_ylabel("checkerboard amplitude")
    left.set_title(f"on a map of ones (values below {floor:g} drawn at {floor:g})", fontsize=10)
    left.legend(fontsize=9)
    right.set_yscale("log")
    right.set_xlabel("training step")
    right.set_ylabel("mean squared error")
    right.set_title("training loss", fontsize=10)
    right.legend(fontsize=9)
    fig.tight_layout()
    return fig
