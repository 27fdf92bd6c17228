"""What grading one student notebook produces: plain data, made by ``task.grade`` and read by the
coordinator (and, later, sent back from a cluster worker). Nothing in it is executable."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    """One student notebook to grade. ``notebook_bytes`` is the intake's snapshot (None if the
    student handed nothing usable in: then every cell scores 0 with ``notes``)."""
    student: str
    assignment: str
    notebook: str
    notebook_bytes: bytes | None
    notes: tuple[str, ...] = ()


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

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.job_student, self.assignment, self.notebook)
