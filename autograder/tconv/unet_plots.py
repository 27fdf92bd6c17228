"""Chapter 06's pictures: the crop window, U-Net's architecture, the data, the training, the
upsampling comparison. Every function returns a matplotlib Figure, or None when grading
(``plots.course_picture``); show it with ``plots.display``."""

from __future__ import annotations

import numpy as np

from . import plots, unet
from .plots import course_picture, described, mpatches, plt

KEPT = "#FFE9A8"
MARGIN = "#D9D9D9"
PATH_COLORS = {"conv": "#333333", "pool": "#C44E52", "up": "#55A868", "skip": "#8172B3"}


@course_picture
def crop_window(height_in: int, width_in: int, height: int, width: int):
    """A ``height_in x width_in`` map with its centered ``height x width`` window framed.

    Each margin row/column is labelled "top", "bottom", "left" or "right", so an odd margin shows
    its extra row at the bottom and its extra column at the right.
    """
    top, left = (height_in - height) // 2, (width_in - width) // 2
    colors = np.full((height_in, width_in), MARGIN, dtype=object)
    colors[top:top + height, left:left + width] = KEPT
    labels = [["" for _ in range(width_in)] for _ in range(height_in)]
    for r in range(top, top + height):
        for c in range(left, left + width):
            labels[r][c] = f"{r - top},{c - left}"
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * width_in, 1.2 + 0.55 * height_in))
    plots.draw_grid(ax, np.zeros((height_in, width_in)), colors, labels, frame=(top, left, height,
                                                                                width), fontsize=8)
    bottom, right = height_in - height - top, width_in - width - left
    ax.set_title(f"{height_in}x{width_in} -> {height}x{width}: top {top}, bottom {bottom}, "
                 f"left {left}, right {right}", fontsize=11, pad=16)
    fig.tight_layout()
    return described(fig, f"A centered crop of a {height_in} by {width_in} map to {height} by "
                          f"{width}: the kept window framed, margins of {top} row(s) at the top, "
                          f"{bottom} at the bottom, {left} column(s) at the left and {right} at "
                          f"the right.")


@course_picture
def architecture(rows: list, title: str | None = None):
    """U-Net drawn from a ``unet.size_table``: one bar per feature map, its height growing with
    the map's size, labelled with size (below) and channels (above); arrows for convolutions,
    poolings, up-convolutions and the cropped skip connections."""
    depth = sum(1 for row in rows if row.operation.startswith("2x2 max pool"))
    levels, level = [], 0  # the level (0 = top) of each row
    for row in rows:
        if row.operation.startswith("2x2 up"):
            level -= 1
        levels.append(level)
        if row.operation.startswith("2x2 max pool"):
            level += 1
    largest = max(row.size for row in rows)
    fig, ax = plt.subplots(figsize=(13, 1.9 * (depth + 1) + 0.6))
    placed = {}  # row index -> (x, y, bar height)
    skip_from = {}
    x = 0.0
    for n, row in enumerate(rows):
        if row.operation.startswith("2x2 max pool"):
            continue  # drawn as the arrow down to the next level
        level = levels[n]
        y = -1.9 * level
        height = 1.5 * np.sqrt(row.size / largest)
        width = 0.06 + 0.025 * np.log2(max(row.channels, 1))
        if row.operation.startswith("crop"):
            # the cropped skip map (purple) and the upsampled map side by side
            ax.add_patch(mpatches.Rectangle((x - width / 2, y - height / 2), width / 2, height,
                                   facecolor=PATH_COLORS["skip"], alpha=0.5, edgecolor="#333333"))
            ax.add_patch(mpatches.Rectangle((x, y - height / 2), width / 2, height,
                                   facecolor=PATH_COLORS["up"], alpha=0.5, edgecolor="#333333"))
            source_x, source_y, source_h, source_size = skip_from[level]
            arrow = mpatches.FancyArrowPatch((source_x + 0.1, source_y), (x - width / 2 - 0.05, y),
                                    arrowstyle="-|>", mutation_scale=12, linestyle="--",
                                    color=PATH_COLORS["skip"])
            ax.add_patch(arrow)
            ax.text((source_x + x) / 2, y + 0.08, f"crop {source_size} → {row.size}",
                    ha="center", va="bottom", fontsize=8, color=PATH_COLORS["skip"],
                    bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
        else:
            face = "#4C72B0" if row.path != "expanding" else "#DD8452"
            if row.operation == "input":
                face = "white"
            ax.add_patch(mpatches.Rectangle((x - width / 2, y - height / 2), width, height, facecolor=face,
                                   alpha=0.6, edgecolor="#333333"))
        ax.text(x, y - height / 2 - 0.05, f"{row.size}", ha="center", va="top", fontsize=7)
        ax.text(x, y + height / 2 + 0.04, f"{row.channels}", ha="center", va="bottom", fontsize=7,
                color="#555555")
        previous = placed.get(n - 1) or placed.get(n - 2)
        if previous is not None and not row.operation.startswith("crop"):
            px, py, _ = previous
            kind = "conv"
            if rows[n - 1].operation.startswith("2x2 max pool"):
                kind = "pool"
            elif row.operation.startswith("2x2 up"):
                kind = "up"
            ax.add_patch(mpatches.FancyArrowPatch((px + 0.08, py), (x - 0.08, y), arrowstyle="-|>",
                                         mutation_scale=10, color=PATH_COLORS[kind], lw=1.2))
        placed[n] = (x, y, height)
        if row.path == "contracting" and "(2/2)" in row.operation:
            skip_from[level] = (x, y, height, row.size)
        x += 0.55 if not row.operation.startswith("2x2 up") else 0.45
    ax.set_xlim(-0.5, x)
    ax.set_ylim(-1.9 * depth - 1.2, 1.3)
    ax.set_aspect("auto")
    ax.axis("off")
    legend = [("3x3 conv + ReLU", "conv"), ("2x2 max pool", "pool"), ("2x2 up-conv, stride 2", "up"),
              ("copy and crop", "skip")]
    for k, (text, kind) in enumerate(legend):
        ax.text(0.01 + 0.2 * k, 0.98, "→ " + text, transform=ax.transAxes, color=PATH_COLORS[kind],
                fontsize=10, va="top")
    ax.text(0.99, 0.02, "numbers: map size (below), channels (above)", transform=ax.transAxes,
            ha="right", fontsize=8, color="#555555")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    first, last = rows[0], rows[-1]
    return described(fig, f"{title + ': ' if title else ''}U-Net, {depth} max pool(s) deep: the "
                          f"{first.size} by {first.size} input with {first.channels} channel(s) "
                          f"goes down through 3 by 3 convolutions and max pools to "
                          f"{min(row.size for row in rows)} by {min(row.size for row in rows)}, "
                          f"and back up through 2 by 2 up-convolutions, each joined to the cropped "
                          f"map of its level, to the {last.size} by {last.size} output with "
                          f"{last.channels} channel(s).")


@course_picture
def samples(images, masks, predictions=None, count=6, margin=0):
    """Input images (the mirrored border, if any, shaded), true masks and predicted probabilities.

    ``predictions``: one (N, 1, s, s) array, or {row name: array} to compare several models.
    """
    count = min(count, len(images))
    if predictions is None:
        predictions = {}
    elif not isinstance(predictions, dict):
        predictions = {"predicted\nprobability": predictions}
    rows = 2 + len(predictions)
    fig, axes = plt.subplots(rows, count, figsize=(1.9 * count, 1.95 * rows), squeeze=False)
    for k in range(count):
        image = np.asarray(images[k, 0])
        axes[0, k].imshow(image, cmap="gray")
        if margin:
            inner = image.shape[0] - 2 * margin
            axes[0, k].add_patch(mpatches.Rectangle((margin - 0.5, margin - 0.5), inner, inner, fill=False,
                                           edgecolor="#DD8452", lw=1.2))
        axes[1, k].imshow(masks[k, 0], cmap="gray", vmin=0, vmax=1)
        for r, predicted in enumerate(predictions.values(), start=2):
            axes[r, k].imshow(predicted[k, 0], cmap="magma", vmin=0, vmax=1)
    names = ["input", "true mask"] + list(predictions)
    for r in range(rows):
        axes[r, 0].set_ylabel(names[r])
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    border = (f" (outside the orange frame, its {margin}-pixel mirrored border)" if margin else "")
    predicted = "".join(f", {name} (a probability, dark 0 to bright 1)" for name in predictions)
    return described(fig, f"{count} examples, one per column; rows: the grey input "
                          f"image{border}, the true mask (white: object){predicted}.")


@course_picture
def loss_curve(losses, title="training loss"):
    """The loss at every step (light) and its running mean over 25 steps (dark), log scale."""
    losses = np.asarray(losses, dtype=np.float64)
    window = min(25, len(losses)) or 1
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(losses, color="#4C72B0", alpha=0.3, lw=1, label="every step")
    ax.plot(np.arange(window - 1, len(losses)), smooth, color="#4C72B0", lw=2,
            label=f"mean of {window} steps")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("binary cross-entropy")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return described(fig, f"{title}: the binary cross-entropy at each of {len(losses)} steps and "
                          f"its mean over {window} steps, log scale; that mean goes from "
                          f"{smooth[0]:.3g} to {smooth[-1]:.3g}.")


@course_picture
def upsampling_comparison(image, size: int = 4):
    """Top: an image doubled four ways (``unet.upsample_four_ways``). Bottom: what each makes of a
    ``size x size`` map of ones; a transposed convolution keeps it constant inside exactly when
    its kernel's phase sums are equal (``checkerboard_reference.phase_sums``)."""
    results = unet.upsample_four_ways(image)
    ones = unet.upsample_four_ways(np.ones((size, size)))
    fig, axes = plt.subplots(2, 5, figsize=(16, 7.2))
    axes[0, 0].imshow(image, cmap="gray")
    axes[0, 0].set_title(f"input {np.shape(image)[0]}x{np.shape(image)[1]}")
    for ax, (name, values) in zip(axes[0, 1:], results.items()):
        ax.imshow(values, cmap="gray")
        ax.set_title(name.replace(", ", ",\n", 1), fontsize=10)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1, 0].axis("off")
    axes[1, 0].text(0, 0.5, f"bottom row:\neach method on a\n{size}x{size} map of ones\n\n"
                    "3x3 kernels: padding 1,\noutput_padding 1;\n2x2 kernel: padding 0",
                    fontsize=10, va="center")
    for ax, (name, values) in zip(axes[1, 1:], ones.items()):
        values = np.round(values, 2)
        shades = np.where(np.isclose(values, 1), "white", "#F4A6A6").astype(object)
        plots.draw_grid(ax, values, shades, fontsize=7, title=name.replace("transposed conv, ", ""))
    fig.tight_layout()
    flat = "; ".join(f"{name}: " + ("every value 1" if np.allclose(values, 1) else
                                    f"values from {np.min(values):.2g} to {np.max(values):.2g}")
                     for name, values in ones.items())
    return described(fig, f"A {np.shape(image)[0]} by {np.shape(image)[1]} image doubled four "
                          f"ways ({', '.join(results)}), and below, each way on a {size} by {size} "
                          f"map of ones, values other than 1 shaded red: {flat}.")


@course_picture
def up_response(response):
    """A trained up-convolution's output for a constant input: one 2x2 pattern, repeated."""
    fig, ax = plt.subplots(figsize=(4, 3.6))
    image = ax.imshow(response, cmap="viridis")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("the trained up-convolution on a constant map\n(summed over its output channels)",
                 fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    values = np.asarray(response, dtype=np.float64)
    return described(fig, f"A trained up-convolution's output for a constant input, summed over "
                          f"its output channels: a {values.shape[0]} by {values.shape[1]} map, "
                          f"values from {values.min():.3g} to {values.max():.3g}.")
