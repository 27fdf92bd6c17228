"""Where the course's folders are, and how the tools run nbgrader against them."""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

ROOT = Path(os.environ.get("TCONV_COURSE_ROOT", Path(__file__).resolve().parents[3]))
SOLUTIONS = ROOT / "solutions"
COURSE = ROOT / "course"
AUTOGRADER = ROOT / "autograder"
SAMPLES = AUTOGRADER / "samples"
SAMPLE_SUBMISSIONS = SAMPLES / "submitted"
BUILD = ROOT / "build"

# Seconds one cell may run while grading before nbgrader interrupts it (`make grade TIMEOUT=N`).
CELL_TIMEOUT = 30

# Free space below which no task is handed out (`make grade` stops; the rest are "not graded:
# rerun"), and below which a task does not start on a worker: grading one notebook writes a few
# MB (its gradebook copy, graded notebook, feedback), a full disk zeroes whoever is graded on it.
MIN_FREE_BYTES = 1024 ** 3

# nbgrader adds submissions to its gradebook the way SQLAlchemy 2 warns about ("Object of type
# <SubmittedAssignment> not in session, add operation ... will not proceed"), several times per
# notebook, in the workers and in the coordinator, and `make grade` would show each. The
# submission is added all the same (make test checks every score), so the note says nothing to
# an instructor. Only that message is silenced: in every process that imports this module, and
# again by ``gradebook.record`` inside its own catch_warnings (pytest resets the filters per test).
def quiet_gradebook_warnings() -> None:
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w*> not in session")


quiet_gradebook_warnings()


def disk_nearly_full(*folders, minimum: int | None = None) -> str | None:
    """Why grading must not go on here (a sentence naming the folder, its free space and what to
    do), or None when every folder's disk has ``minimum`` bytes free (default MIN_FREE_BYTES)."""
    import shutil

    minimum = MIN_FREE_BYTES if minimum is None else minimum
    for folder in folders:
        free = shutil.disk_usage(folder).free
        if free < minimum:
            return (f"the disk of {folder} is nearly full ({free / 1024 ** 2:.0f} MB free, "
                    f"grading needs {minimum / 1024 ** 2:.0f} MB): free some space and run "
                    f"`make grade` again (what is graded is kept)")
    return None


def assignments() -> list[str]:
    """The assignments (chapters), in order: the folders of solutions/ that hold notebooks."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebooks(assignment: str) -> list[str]:
    """The notebook names (without .ipynb) of one assignment."""
    return sorted(p.stem for p in (SOLUTIONS / assignment).glob("*.ipynb"))


def directories(root: Path, db: Path) -> dict:
    """nbgrader's CourseDirectory settings for a grading folder ``root`` (its usual subfolders)
    with the gradebook ``db``."""
    return dict(root=root, source_directory="source", release_directory="release",
                submitted_directory="submitted", autograded_directory="autograded",
                feedback_directory="feedback", db_url=f"sqlite:///{db}")


def nbgrader_config(**course_directory):
    """The course's nbgrader config (autograder/nbgrader_config.py), with ``course_directory``
    (root, db_url, release_directory, ...) set on nbgrader's CourseDirectory."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(AUTOGRADER)).load_config()
    private = Config()
    for name, value in course_directory.items():
        setattr(private.CourseDirectory, name, str(value))
    config.merge(private)
    return config


def generate_assignments(names: list[str], **course_directory) -> None:
    """`nbgrader generate_assignment --force` for each of ``names``, in this process (an
    `nbgrader` command pays several seconds of CPU to start)."""
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI

    # nbgrader asks the `alembic` command for its migration head whenever it makes a gradebook:
    # 4 s of a Python start-up, for an answer alembic's own API gives in milliseconds
    nbgrader.api.get_alembic_version = alembic_head
    api = NbGraderAPI(config=nbgrader_config(**course_directory))
    for name in names:
        outcome = api.generate_assignment(name, force=True)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n"
                               f"{(outcome.get('log') or '')[-3000:]}{outcome.get('error') or ''}")


@functools.cache
def alembic_head() -> str:
    """The revision `alembic heads` prints for nbgrader's gradebook migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()
