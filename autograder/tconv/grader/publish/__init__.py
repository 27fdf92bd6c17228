"""Build the learners' repository: the course without its answers.

    python -m tconv.grader.publish --dest DIR [--edition graded|self-paced] [--repo OWNER/NAME]
                                   [--ref TAG]

(``make publish DEST=DIR [EDITION=self-paced] [REPO=owner/name] [REF=tag]``.) DIR receives the
released notebooks (course/), the learners' package (tconv/ with pyproject.toml), their environment
(requirements.txt, Makefile, scripts/, binder/, jupyter-config/), a README with the Binder and
Colab badges of REPO, and the licences (the front door: ``front_door``).

**graded** (the default) ships no answer: no solutions/, no hidden test, and no reference
implementation of a graded function. The package's answer modules (those the registry,
``tconv.exercises``, declares: the references' and the known mistakes') are replaced by
generated modules of the same names that look their values up in ``tconv/recorded.npz``. That
table is recorded here, by running every released notebook with the instructors' answers filled
in and the answer modules wrapped: every call the notebook makes (checks, pictures, examples) is
recorded with its result, and every visible check is run again once per case with an answer that
is wrong at that case only, so that every known mistake's result on every visible case is
recorded too (the checks then still name the mistake). For arguments not in the table the
published modules ask the exercise's PyTorch twin (the registry's); otherwise they say the case
is checked at grading time. ``scan`` then looks for any answer in the tree and the build fails if
it finds one.

**self-paced** ships the answer modules as they are (the checks work on any input) and the worked
solutions: solutions/<chapter>/<chapter>.ipynb, the learners' notebooks with the answers filled
in; in both, the hidden tests run with the visible ones (unmarked), and a note says what the
edition is.

The parts, by job: ``choosing`` (which modules go out, which are replaced), ``recording`` (the
recorder that runs inside a chapter's kernel), ``tables`` (a chapter run and recorded, the tables
merged and cached), ``stand_ins`` (the generated answer modules), ``scan`` (any answer left in
the tree) and ``tree`` (the tree built, the command line). The files the copy gets as text are
templates in ``tconv/grader/templates`` (``front_door.render``).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]  # tconv/: the learners' modules


class PublishError(RuntimeError):
    """The learners' copy cannot be built as asked; the message says why and what to do."""
