"""The feedback page's maths as MathML, which a browser draws with no script and no network.

nbconvert's HTML leaves a markdown cell's ``$...$`` for MathJax, which its template loads from a
CDN; the feedback page keeps no script (``report.safe_html``), and an offline or privacy-minded
reader would not fetch it anyway, so the page showed raw LaTeX. ``FeedbackExporter`` renders
markdown with ``MathMLRenderer`` instead: every ``$...$``, ``$$...$$`` and ``\\begin{...}``
becomes a ``<math>`` element (latex2mathml, an instructors-only package), which the sanitiser
keeps. An expression latex2mathml cannot read stays as its LaTeX, as text.
"""

from __future__ import annotations

import html

from latex2mathml.converter import convert
from nbconvert.filters.markdown_mistune import IPythonRenderer


def to_mathml(tex: str, display: str = "inline") -> str:
    """``tex`` as a ``<math>`` element (``display``: "inline" or "block").

    ``<`` and ``>`` (and ``report.make_safe``'s ``&lt;``, ``&gt;`` in a learner's cell) are read
    as ``\\lt`` and ``\\gt``: latex2mathml copies the text of ``\\text{...}`` as it is, so no
    markup of the source reaches the page through it. Raises latex2mathml's error when it
    cannot read ``tex``.
    """
    for escaped, macro in (("&lt;", r"\lt "), ("&gt;", r"\gt "), ("<", r"\lt "), (">", r"\gt ")):
        tex = tex.replace(escaped, macro)
    return convert(tex.strip(), display=display)


def _or_text(tex: str, display: str, shown: str) -> str:
    try:
        return to_mathml(tex, display)
    except Exception:  # noqa: BLE001 - latex2mathml's errors share no base; the LaTeX stays
        return html.escape(shown, quote=False)


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with its maths as MathML, not left for MathJax."""

    def block_math(self, body: str) -> str:
        return _or_text(body, "block", f"$${body}$$")

    def inline_math(self, body: str) -> str:
        return _or_text(body, "inline", f"${body}$")

    def latex_environment(self, name: str, body: str) -> str:
        source = f"\\begin{{{name}}}{body}\\end{{{name}}}"
        return _or_text(source, "block", source)
