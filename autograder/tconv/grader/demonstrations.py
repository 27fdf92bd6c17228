"""A chapter's demonstrations are not run when a notebook is graded.

A code cell that the instructors' notebook tags ``demo`` shows something (PyTorch computing the
chapter's example, a training run, a picture) and defines nothing that a cell it does not tag
reads (``autograder/tests/test_demonstrations.py`` holds every chapter to that). Grading runs the
exercises' cells, the visible checks and whatever the learner added or changed; a demonstration
cell the learner left as it was is skipped, with a line in its output saying so. That is what
keeps PyTorch out of the graded kernel of a chapter whose answers are numpy (its visible checks
hold answers against the course's reference there, and the re-check holds every case against
PyTorch too, outside: ``tconv.comparing.oracles``).

Which cells are skipped is decided from the instructors' notebook, never from the submission's
metadata: a cell is skipped when its source is, character for character, that of a demonstration
cell, and it is not an nbgrader cell. nbclient skips the cells that carry
``Execute.skip_cells_with_tag``; the grader sets that tag to a random one per notebook, so a tag a
student writes into their notebook (nbclient's default ``skip-execution`` on a test cell, say) skips
nothing.
"""

from __future__ import annotations

import secrets

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, List, Unicode

TAG = "demo"  # in the instructors' notebooks (solutions/): a demonstration cell
NOT_RUN = ("[not run when graded: a demonstration, which changes no score; "
           "your own notebook shows what it prints]\n")


def is_demonstration(cell) -> bool:
    """A code cell the author tagged ``demo`` that is not an nbgrader cell."""
    return (cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])
            and not cell.metadata.get("nbgrader"))


def sources(notebook) -> list[str]:
    """The sources of an instructors' notebook's demonstration cells."""
    return [cell.source for cell in notebook.cells if is_demonstration(cell)]


def skip_tag() -> str:
    """A tag no student can have written: nbclient skips the cells that carry it."""
    return f"tconv-skip-{secrets.token_hex(16)}"


class SkipDemonstrations(Preprocessor):
    """Before Execute: tag the submission's unchanged demonstration cells with ``tag`` (which
    ``Execute.skip_cells_with_tag`` names) and note in their output that they were not run."""

    enabled = Bool(True)  # nbconvert runs a preprocessor only when enabled (its default: False)
    sources = List(Unicode(), help="the instructors' demonstration cells' sources").tag(config=True)
    tag = Unicode("", help="the per-notebook tag Execute skips").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if (self.tag and cell.cell_type == "code" and not cell.metadata.get("nbgrader")
                and cell.source in self.sources):
            cell.metadata.setdefault("tags", []).append(self.tag)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN)]
        return cell, resources
