"""Every picture says what it shows: a text alternative a screen reader reads in its place.

Each course picture (``plots.course_picture``) states one, made from its arguments
(``plots.described``); ``plots.display`` sends it where each renderer reads it: the ``alt`` of
the PNG's output metadata (nbconvert: the feedback page, an exported notebook) and an ``<img
alt>`` in ``text/html`` (JupyterLab, whose PNG renderer reads no alt). The feedback page keeps
it through ``report.make_safe`` and the sanitiser, and draws its maths as MathML
(``grader/mathml``), with no script and no network.
"""

from __future__ import annotations

import inspect
import os
import re
from html.parser import HTMLParser

import nbformat
import numpy as np
import pytest

from tconv import checkerboard_experiment, checkerboard_plots, explorer, plots, unet, unet_plots
from tconv.grader import course, mathml, report, task

MODULES = (plots, unet_plots, checkerboard_plots, explorer)
ARRAYS = np.arange(2 * 1 * 12 * 12, dtype=np.float64).reshape(2, 1, 12, 12) % 7 / 7


def run(steps):
    return checkerboard_experiment.Run(steps=[0, steps], amplitude={"a": [0.5, 0.1 * steps],
                                                                     "b": [0.2, 0.0]},
                                       loss={"a": [1.0, 0.5], "b": [1.0, 0.25]})


# Two calls of every course picture: their text alternatives differ, as their arguments do.
CALLS = {
    "scatter_steps_1d": [([2, 3], [1, 2, 3], 2), ([1, 1, 1], [1, 2], 1, 2)],
    "conv_positions_1d": [(4, 3, 1, 2), (5, 2, 2)],
    "transpose_crop_1d": [(4, 3, 1, 2), (3, 3, 2, 1, 1, 1)],
    "scatter_step_2d": [([[1, 2], [3, 4]], [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], 2, 0),
                        ([[1, 2], [3, 4]], [[1, 1], [1, 1]], 1, 3)],
    "crop_2d": [([[1, 2], [3, 4]], [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], 2, 1),
                ([[1, 2], [3, 4]], [[1, 1], [1, 1]], 1, 0)],
    "channel_map": [(2, 3), (4, 4, 2)],
    "matrix_figure": [([[1, 0], [0, 2]], "a title"), ([[1, 2, 3]],)],
    "zero_insertion_2d": [([[1, 2], [3, 4]], [[1, 1, 1], [0, 0, 0], [-1, -1, -1]], 2, 1),
                          ([[1, 2], [3, 4]], [[1, 1], [1, 1]], 1, 0)],
    "conv1d_matrix_figure": [(5, [1, 2, 3], 2), (5, [1, 2, 3], 2, True)],
    "crop_window": [(7, 9, 4, 4), (6, 6, 2, 2)],
    "architecture": [(unet.size_table(), "U-Net"), (unet.size_table(188, depth=2),)],
    "samples": [(ARRAYS, ARRAYS), (ARRAYS, ARRAYS, {"with skips": ARRAYS}, 2, 2)],
    "loss_curve": [(np.linspace(1, 0.1, 50),), (np.linspace(2, 1, 30), "without skips")],
    "upsampling_comparison": [(ARRAYS[0, 0],), (ARRAYS[1, 0][:8, :8], 5)],
    "up_response": [(ARRAYS[0, 0],), (ARRAYS[1, 0] + 1,)],
    "overlap_counts_2d": [([(3, 2), (2, 2)],), ([(4, 2)], 3)],
    "phases": [([[1, 2], [3, 4]],), (np.ones((4, 4)), 2, 3)],
    "polyphase_1d": [([2, 3], [1, 2, 3], 2), ([1, 1], [1, 2, 3, 4], 2)],
    "pixel_shuffle": [(np.arange(24.0).reshape(4, 2, 3), 2), (np.arange(36.0).reshape(9, 2, 2), 3)],
    "maps": [({"ones": np.ones((4, 4))}, "constant"), ({"grid": ARRAYS[0, 0]},)],
    "experiment": [(run(25), {"a": "transposed", "b": "resize"}),
                   (run(400), {"a": "transposed", "b": "resize"})],
    "explorer_figure": [(), (3, 3, 1, 0, 1, 0, 1, 1)],
}


def course_pictures() -> dict:
    """{name: function} of every function marked ``plots.course_picture`` in the course."""
    return {name: function for module in MODULES
            for name, function in inspect.getmembers(module, inspect.isfunction)
            if getattr(function, "course_picture", False) and function.__module__ == module.__name__}


def test_every_course_picture_is_called_here():
    assert set(course_pictures()) == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_course_picture_says_what_it_shows_from_its_arguments(name):
    function = course_pictures()[name]
    texts = []
    for arguments in CALLS[name]:
        fig = function(*arguments)
        texts.append(plots.alt_text(fig))
        plots.plt.close(fig)
    assert all(len(text) > 40 for text in texts), texts
    assert texts[0] != texts[1], texts


def test_the_picture_of_an_answer_says_where_it_is_wrong():
    fig = plots.comparison_figure([2, 4, 9, 6, 9], [2, 4, 3, 6, 9])
    text = plots.alt_text(fig)
    plots.plt.close(fig)
    assert "1 of 5 entries differ, the first at position 2: expected 9, yours 3" in text, text
    fig = plots.comparison_figure(np.ones((2, 20, 20)), np.full((2, 20, 20), np.nan))
    assert "800 of 800 entries differ, the first at index (0, 0, 0): expected 1, yours nan" in \
        plots.alt_text(fig)
    plots.plt.close(fig)


@pytest.mark.parametrize("shape", [(5,), (3, 6), (1, 1, 4, 6)], ids=["row", "grid", "image"])
def test_the_answers_picture_keeps_its_title_clear_of_the_panels(shape):
    """The title above expected / yours / difference overlapped the "yours" panel's title on
    chapter 07's pixel_shuffle failure (3 x 6 grids)."""
    expected = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    fig = plots.comparison_figure(expected, expected * 2, "pixel_shuffle: expected vs. yours[0]")
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)  # no public getter for the Text
    for ax in fig.axes:
        for text in [ax.title, *ax.get_xticklabels()]:
            if text.get_text() and text.get_visible():
                assert not title.overlaps(text.get_window_extent(renderer)), text.get_text()
    plots.plt.close(fig)


def shown(fig, monkeypatch) -> tuple[dict, dict]:
    import IPython.display

    sent = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw=False, metadata=None: sent.append((data, metadata)))
    plots.display(fig)
    (message,) = sent
    return message


def test_display_sends_the_text_alternative_where_each_renderer_reads_it(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    fig = plots.scatter_steps_1d([2, 3], [1, 2, 3], 2)
    alt = plots.alt_text(fig)
    data, metadata = shown(fig, monkeypatch)
    assert metadata == {"image/png": {"alt": alt}}  # nbconvert
    assert data["image/png"].startswith("iVBORw0KGgo")
    assert data["text/html"] == (f'<img src="data:image/png;base64,{data["image/png"]}" '
                                 f'alt="{alt}">')  # JupyterLab
    assert alt in data["text/plain"]
    assert "[2, 4, 9, 6, 9]" in alt


def test_when_grading_the_answers_picture_is_a_png_with_its_alt(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    data, metadata = shown(plots.comparison_figure([1.0, 2.0], [1.0, 3.0]), monkeypatch)
    assert set(data) == {"image/png", "text/plain"}  # what the feedback keeps (make_safe)
    assert "expected 2, yours 3" in metadata["image/png"]["alt"]


# --- the feedback page ---------------------------------------------------------------------------

def feedback_page(notebook) -> str:
    """The feedback page of ``notebook`` as the grader makes it (task.py: make_safe, nbgrader's
    feedback template through FeedbackExporter, safe_html), without nbgrader's grade cells."""
    import nbgrader
    from traitlets.config import Config

    formgrader = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [os.path.join(formgrader, "templates")]
    config.HTMLExporter.extra_template_paths = [
        os.path.join(formgrader, "static", "node_modules", "bootstrap", "dist", "css")]
    report.make_safe(notebook)
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
    page, _ = task.FeedbackExporter(config=config).from_notebook_node(
        notebook, resources={"nbgrader": {"notebook": "n", "score": 1, "max_score": 2,
                                          "late_penalty": 0}})
    return report.safe_html(page)


class Tags(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_every_picture_of_a_feedback_page_has_its_alt(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    data, metadata = shown(plots.comparison_figure([[1.0, 2.0]], [[1.0, 3.0]]), monkeypatch)
    cell = nbformat.v4.new_code_cell("checks.check_conv_transpose2d(...)", outputs=[
        nbformat.v4.new_output("display_data", data=data, metadata=metadata)])
    page = feedback_page(nbformat.v4.new_notebook(cells=[cell]))
    images = [attrs for tag, attrs in Tags(page).tags if tag == "img"]
    assert len(images) == 1 and "expected 2, yours 3" in images[0].get("alt", ""), images


def test_the_feedback_draws_its_maths_as_mathml_and_keeps_no_script():
    text = ("Output length $(L - 1)\\cdot\\text{stride} + K$, and\n\n$$C^\\top C \\neq I$$\n\n"
            "a learner's $\\text{<script>alert(1)</script>} < 1$ and `$not maths$`")
    page = feedback_page(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)]))
    tags = Tags(page).tags
    assert "script" not in [tag for tag, _ in tags], tags
    assert [attrs["display"] for tag, attrs in tags if tag == "math"] == ["inline", "block", "inline"]
    assert "<mtext>stride</mtext>" in page and "$not maths$" in page
    assert "$(L" not in page and "$$" not in page


MATHS = re.compile(r"(?<![\\$])\$\$(.+?)\$\$|(?<![\\$])\$(.+?)(?<![\\$])\$", re.S)


@pytest.mark.parametrize("path", sorted(course.SOLUTIONS.glob("*/*.ipynb")), ids=lambda p: p.stem)
def test_every_maths_expression_of_the_chapters_converts_to_mathml(path):
    notebook = nbformat.read(path, as_version=4)
    found = 0
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        source = re.sub(r"`[^`\n]*`", "", cell.source)  # code spans hold no maths
        for block, inline in MATHS.findall(source):
            found += 1
            tex = block or inline
            converted = mathml.to_mathml(tex, "block" if block else "inline")
            assert converted.startswith("<math") and "merror" not in converted, (tex, converted)
    assert found > 0
