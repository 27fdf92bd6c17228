"""What grading one student notebook produces: plain data, made by ``task.grade`` and read by the
coordinator (and, later, sent back from a cluster worker). Nothing in it is executable."""

from __future__ import annotations

from dataclasses import dataclass, field

# What a Result is (``Result.status``). Only the first two are kept between runs (runner.py): a
# grader's failure is tried again, and reported as "not graded: rerun", never as a score.
GRADED = "graded"            # nbgrader ran the notebook and scored every graded cell
STUDENTS_FAULT = "student"   # the submission could not be run to the end (missing, unreadable,
#                              refused at intake, its kernel died or ran out of time): zeros, with
#                              the reason in the notes
GRADERS_FAULT = "grader"     # the grader failed (no space left, nbgrader crashed, the worker was
#                              lost, the sandbox did not start): no score at all
NOT_GRADED = "not graded: rerun"   # how a grader's failure is shown (report.md, exercises.csv)


@dataclass(frozen=True)
class Job:
    """One student notebook to grade. ``notebook_bytes`` is the intake's snapshot (None if the
    student handed nothing usable in: then every cell scores 0 with ``notes``; ``refused`` says
    why the intake refused what was handed in, empty when nothing was)."""
    student: str
    assignment: str
    notebook: str
    notebook_bytes: bytes | None
    notes: tuple[str, ...] = ()
    refused: str = ""


@dataclass(frozen=True)
class CellResult:
    grade_id: str
    score: float
    max_score: float
    kernel_score: float        # what nbgrader gave it in the kernel (visible tests only)
    recheck: str = ""          # one line: why the re-check failed a cell that passed in the kernel
    problem: str = ""          # one line: what went wrong in the kernel (from its error)
    # What the report's "most common problems" counts for this cell: the known mistakes the check's
    # verdict record names, else its kind of finding (from the re-check if it overturned the cell).
    found: tuple[str, ...] = ()
    comment: str = ""          # the re-check's full reason, the Formgrader's comment on the cell
    manual: bool = False       # nbgrader could not score it automatically: a person must


@dataclass
class Result:
    job_student: str
    assignment: str
    notebook: str
    cells: list[CellResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feedback_html: str = ""
    autograded_json: str = ""   # the executed notebook, outputs capped, for the Formgrader
    seconds: float = 0.0
    status: str = GRADED

    @property
    def kept(self) -> bool:
        """Whether this result may be kept between runs and recorded as a score."""
        return self.status != GRADERS_FAULT

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.job_student, self.assignment, self.notebook)


@dataclass(frozen=True)
class NotGraded:
    """One row of GRADES/not_graded.csv (and of report.md's first lines): something handed in
    that this run gives no grade, or only a zero it did not look behind: what, why, what to do.
    ``student_id``, ``assignment``, ``notebook`` name a notebook when there is one."""
    what: str
    why: str
    what_to_do: str
    student_id: str = ""
    assignment: str = ""
    notebook: str = ""
