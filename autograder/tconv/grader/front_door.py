"""The learners' copy's front door, written by `make publish`: its README, its Makefile, the Colab
cell at the top of every chapter, and what the self-paced edition's notebooks say and run.

The texts are templates in ``templates/`` (the Makefile is copied as it is); this module fills
them in, and ``render`` fills in the Jinja2 templates the rest of ``make publish`` writes from. ``tconv.grader.publish`` decides what goes into the copy; this module, how it greets.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import jinja2
import nbformat

from . import course
from .cells import cell_id, delimiters, is_grade, is_test

TEMPLATES = Path(__file__).with_name("templates")
_JINJA = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                            undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                            trim_blocks=True, lstrip_blocks=True)
_JINJA.filters["pyrepr"] = repr
MAKEFILE = TEMPLATES / "Makefile"
REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a tag or branch name, or a commit
COLAB = "https://colab.research.google.com"


def render(template: str, **values) -> str:
    """The Jinja2 template ``templates/<template>`` filled in with ``values`` (one missing: an
    error)."""
    return _JINJA.get_template(template).render(**values)


class RefError(ValueError):
    """REF cannot pin the copy; the message says what to give."""


def default_ref() -> str:
    """``course-<commit>``: a tag name made from the instructors' commit the copy is built from."""
    found = subprocess.run(["git", "-C", str(course.ROOT), "rev-parse", "--short=10", "HEAD"],
                           capture_output=True, text=True)
    if found.returncode:
        raise RefError("the instructors' repository has no git commit to name the copy's version "
                       "after: give one, e.g. REF=v1")
    return f"course-{found.stdout.strip()}"


def check_ref(ref: str | None) -> str:
    """The tag (or commit) of the learners' repository that Colab opens and installs."""
    ref = ref or default_ref()
    if not REF_PATTERN.fullmatch(ref) or ".." in ref or ref.endswith((".", ".lock")):
        raise RefError(f"REF={ref!r} is not a git tag name (letters, digits, '.', '_', '-')")
    return ref


def colab_cell(repo: str, ref: str) -> str:
    return (TEMPLATES / "colab_cell.py").read_text().format(repo=repo, ref=ref).rstrip("\n")


def colab_url(repo: str, ref: str, path: str) -> str:
    return f"{COLAB}/github/{repo}/blob/{ref}/{path}"


def unhidden(source: str) -> str:
    """A test cell's code with its hidden tests kept and their markers removed."""
    return delimiters().hidden_tests.unmarked(source)


def prepare(notebook, folder: str, edition: str, repo: str | None, ref: str | None):
    """A chapter's notebook as the copy ships it: the Colab cell before its first code cell (with
    REPO); in the self-paced edition, a note saying what the edition is, after the title, and the
    hidden tests in its test cells, unmarked (there is nothing to hide)."""
    first_code = next(n for n, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    if repo:
        notebook.cells.insert(first_code, nbformat.v4.new_code_cell(colab_cell(repo, ref)))
    if edition == "self-paced":
        from nbgrader.utils import compute_checksum

        source = nbformat.read(course.SOLUTIONS / folder / f"{folder}.ipynb", as_version=4)
        tests = {cell_id(cell): cell.source for cell in source.cells if is_test(cell)}
        for cell in notebook.cells:
            if is_grade(cell) and cell_id(cell) in tests:
                cell.source = unhidden(tests[cell_id(cell)]).rstrip("\n")
                if "checksum" in cell.metadata.nbgrader:  # Validate would otherwise call it changed
                    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
        note = (TEMPLATES / "self_paced_note.md").read_text().format(folder=folder)
        notebook.cells.insert(1, nbformat.v4.new_markdown_cell(note.rstrip("\n")))
    return notebook


def readme(edition: str, repo: str | None, ref: str | None, chapters: list[tuple[str, str]]) -> str:
    first = chapters[0][0] if chapters else ""
    rows = []
    for folder, title in chapters:
        path = f"course/{folder}/{folder}.ipynb"
        colab = (f" [![Open In Colab]({COLAB}/assets/colab-badge.svg)]"
                 f"({colab_url(repo, ref, path)}) |" if repo else "")
        rows.append(f"| {folder[:2]} | `{path}` | {title} |{colab}")
    parts = {name: (TEMPLATES / f"readme_{name}.md").read_text() for name in
             ("online", "handing_in", "checking_graded", "checking_self-paced")}
    online, badge = "", ""
    if repo:
        target = f"lab/tree/course/{first}/{first}.ipynb".replace("/", "%2F")
        badge = (f"[![Binder](https://mybinder.org/badge_logo.svg)]"
                 f"(https://mybinder.org/v2/gh/{repo}/main?urlpath={target})\n\n")
        online = parts["online"].format(ref=ref)
    return (TEMPLATES / "README.md").read_text().format(
        badge=badge, rows="\n".join(rows), first=first, edition=edition, online=online,
        colab_head=" Colab |" if repo else "", colab_rule="---|" if repo else "",
        edition_line=("" if edition == "graded" else "\n\n" + textwrap.fill(
            "This is the **self-paced edition**: nothing is graded, every chapter's worked "
            "solution is in `solutions/`, and the checks run every case, the edge cases that "
            "grading runs included.", 99)),
        checking=parts[f"checking_{edition}"].rstrip("\n"),
        handing_in=parts["handing_in"].format(first=first) if edition == "graded" else "",
        ref_note=f", version {ref}" if repo else "")
