"""Grade one student notebook: a Job (the intake's snapshot) in, a Result (data) out.

Everything happens in a private scratch folder with a private copy of the assignment's gradebook,
so tasks share no mutable state and any number can run side by side (processes, or cluster
workers). This process is trusted: it never runs learner code itself. The notebook's kernel and
the re-check child each run in a Sandbox; what comes back from them is data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2
import nbformat
from nbconvert.exporters import HTMLExporter

from . import course, report, verdicts
from .records import CellResult, Job, Result
from .sandbox import MEMORY_EXCEEDED, Limits, Sandbox, kernel_manager_class, remove_tree

MAX_AUTOGRADED_BYTES = 8 * 1024 ** 2


@dataclass(frozen=True)
class Settings:
    """The same for every task of a batch, and sent to every worker: plain values only."""
    template: bytes            # the gradebook with every assignment generated, no student yet
    cell_timeout: int = course.CELL_TIMEOUT
    limits: Limits = Limits()
    sandbox: str = "root"       # the mode sandbox.probe chose, or "off"
    scratch: str | None = None  # where private folders are made (default: the system's temp)
    # the instructor's secret the hidden tests' cases are drawn from (grading.secret); "": the
    # instructors' notebooks' own seeds, which anyone with the course can know
    secret: str = ""

    @property
    def template_db(self) -> Path:
        """The template as a file on this machine (written once per process)."""
        digest = hashlib.sha256(self.template).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"tconv-template-{os.getuid()}-{digest}.db"
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(self.template)
            partial.rename(path)
        return path


def grade(job: Job, settings: Settings) -> Result:
    """Never raises for anything in the submission: a problem becomes a note and zeros."""
    started = time.monotonic()
    result = Result(job.student, job.assignment, job.notebook, notes=list(job.notes))
    max_scores = graded_cells(settings.template_db, job.assignment, job.notebook)
    if job.notebook_bytes is not None:
        try:
            _grade_in(job, settings, result)
        except Exception as error:  # noqa: BLE001 - this student's problem, never the batch's
            result.notes.append(f"grading stopped with an error ({type(error).__name__}: "
                                f"{error}); every graded cell scores 0")
            result.cells = []
    found = {cell.grade_id for cell in result.cells}
    result.cells += [CellResult(grade_id, 0.0, points, 0.0)
                     for grade_id, points in max_scores.items() if grade_id not in found]
    result.cells.sort(key=lambda cell: cell.grade_id)
    result.seconds = time.monotonic() - started
    return result


def _grade_in(job: Job, settings: Settings, result: Result) -> None:
    scratch = tempfile.mkdtemp(prefix="tconv-task-", dir=settings.scratch)
    try:
        _grade_in_folder(job, settings, result, scratch)
    finally:
        remove_tree(Path(scratch))


def _grade_in_folder(job: Job, settings: Settings, result: Result, scratch: str) -> None:
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI

    root = Path(scratch) / "course"
    submitted = root / "submitted" / job.student / job.assignment / f"{job.notebook}.ipynb"
    submitted.parent.mkdir(parents=True)
    submitted.write_bytes(job.notebook_bytes)
    (root / "source" / job.assignment).mkdir(parents=True)
    shutil.copy(settings.template_db, root / "gradebook.db")
    # The kernel's sockets: a Unix socket's path must stay under 108 bytes, so this folder
    # is made in the system's temporary folder, not under GRADES. Its parent is private.
    private = Path(tempfile.mkdtemp(prefix="tconv-"))
    kernel_folder = private / "k"
    kernel_folder.mkdir()
    kernel_folder.chmod(0o777)  # the sandbox's uid makes its sockets here
    try:
        api = NbGraderAPI(config=_config(root, kernel_folder, settings))
        outcome = api.autograde(job.assignment, job.student)
        exceeded = (private / MEMORY_EXCEEDED).exists()
    finally:
        remove_tree(private)
    if exceeded:
        result.notes.append(f"its processes used more than MEMORY "
                            f"({settings.limits.memory // 1024 ** 2} MB) in total, and were "
                            f"ended: the cells not run score 0")
    autograded = root / "autograded" / job.student / job.assignment / f"{job.notebook}.ipynb"
    if not autograded.exists():
        result.notes.append(_why_not_graded(outcome))
        log = (outcome.get("log") or "") + (outcome.get("error") or "")
        printable = "".join(c if c.isprintable() or c == "\n" else "?" for c in log)
        print(f"  nbgrader's log for {job.student}/{job.assignment}:\n"
              + "\n".join(printable.splitlines()[-25:]), file=sys.stderr)
        return
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(db_url) as gradebook:
        grades = {g.name: g for g in gradebook.find_submission_notebook(
            job.notebook, job.assignment, job.student).grades}
        executed = nbformat.read(autograded, as_version=4)
        problems = report.cell_problems(executed)
        source = course.SOLUTIONS / job.assignment / f"{job.notebook}.ipynb"
        released = course.COURSE / job.assignment / f"{job.notebook}.ipynb"
        overturned = {}
        if any((grades[g].score or 0) > 0 for g in verdicts.rechecked_cells(source)
               if g in grades):
            sandbox = _sandbox(Path(scratch) / "recheck", settings)
            draw = verdicts.draw_key(settings.secret, job.student) if settings.secret else None
            for verdict in verdicts.recheck(sandbox, submitted, source, released,
                                            timeout=max(60, 4 * settings.cell_timeout),
                                            draw=draw):
                grade = grades.get(verdict.grade_id)
                if verdict.passed is False and grade is not None and (grade.score or 0) > 0:
                    grade.manual_score = 0.0
                    overturned[verdict.grade_id] = verdict
                    _comment(gradebook, source, grade, verdict.message, MissingEntry)
            gradebook.db.commit()
        for name, grade in grades.items():
            problem = problems.get(name, report.NOTHING)
            rechecked = overturned.get(name)
            result.cells.append(CellResult(
                name, float(grade.score or 0.0), float(grade.max_score),
                kernel_score=float(grade.auto_score or 0.0),
                recheck=rechecked.note if rechecked else "", problem=problem.note,
                found=tuple((rechecked or problem).found)))
    report.make_safe(executed)
    nbformat.write(executed, autograded)
    text = autograded.read_text()
    if len(text) > MAX_AUTOGRADED_BYTES:
        for cell in executed.cells:
            cell["outputs"] = [] if cell.cell_type == "code" else cell.get("outputs")
        text = nbformat.writes(executed)
    result.autograded_json = text
    api.generate_feedback(job.assignment, job.student)
    feedback = root / "feedback" / job.student / job.assignment / f"{job.notebook}.html"
    if feedback.exists():
        result.feedback_html = report.safe_html(feedback.read_text(errors="replace"))


def _sandbox(folder: Path, settings: Settings) -> Sandbox:
    folder.mkdir()
    return Sandbox(folder, settings.limits, mode=settings.sandbox)


def _config(root: Path, kernel_folder: Path, settings: Settings):
    from traitlets.config import Config

    config = course.nbgrader_config(**course.directories(root, root / "gradebook.db"))
    private = Config()
    private.Execute.timeout = settings.cell_timeout
    private.Execute.kernel_manager_class = kernel_manager_class()
    private.SandboxedKernelManager.folder = str(kernel_folder)
    private.SandboxedKernelManager.limits = asdict(settings.limits)
    private.SandboxedKernelManager.mode = settings.sandbox
    # nbgrader makes the autograded notebook read-only (444); this process writes it again
    # (report.make_safe), which only root could do over 444.
    private.Autograde.permissions = 644  # nbgrader reads its digits as octal
    private.GenerateFeedback.exporter_class = FeedbackExporter
    config.merge(private)
    return config


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in this process, by template name and source checksum."""

    def __init__(self):
        self.kept: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.kept:
            bucket.bytecode_from_string(self.kept[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.kept[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = _CompiledTemplates()


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (nbconvert's HTML), whose nine templates a worker compiles
    once, not for every notebook: nbgrader makes a new exporter, and so a new Jinja environment,
    for each feedback page. Compiling them was a quarter of the grader's own CPU for a chapter
    01 notebook (1.0 s of 3.9 s under a profiler, 2026-12-03)."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATES
        return environment


def _why_not_graded(outcome: dict) -> str:
    log = (outcome.get("log") or "") + (outcome.get("error") or "")
    if "Kernel died" in log or "DeadKernelError" in log or "kernel died" in log.lower():
        return ("its kernel died while the notebook ran (os._exit, a crash, the memory limit or "
                "the notebook's time budget): every graded cell scores 0")
    last = [line.strip() for line in log.splitlines() if line.strip()
            and not line.startswith(("[WARNING]", "[INFO]"))][-1:] or ["no log"]
    return (f"nbgrader could not run this notebook to the end ({last[0][:200]}): every graded "
            f"cell scores 0")


def _comment(gradebook, source: Path, grade, message: str, missing) -> None:
    """Put the re-check's reason where the feedback shows it: on the solution cell above."""
    above = None
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            above = meta["grade_id"]
        if meta.get("grade_id") == grade.name:
            break
    if above is None:
        return
    notebook = grade.notebook
    try:
        comment = gradebook.find_comment(above, notebook.name, notebook.assignment.name,
                                         notebook.student.id)
    except missing:
        return
    text = (f"{grade.name} scored 0: its visible test passed in your notebook, but when your "
            f"function was re-run outside the notebook and checked on all of this cell's cases, "
            f"the hidden ones too, it failed.\n{message}")
    comment.manual_comment = "\n\n".join(filter(None, [comment.manual_comment, text]))


def graded_cells(template_db: Path, assignment: str, notebook: str) -> dict[str, float]:
    """{grade_id: points} of one notebook, from the template gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{template_db}") as gradebook:
        source = gradebook.find_notebook(notebook, assignment)
        return {cell.name: float(cell.max_score) for cell in source.grade_cells}


def warm_up() -> None:
    """Imports a worker process pays once, not per task."""
    import nbgrader.apps  # noqa: F401
    import torch  # noqa: F401

    from . import sandbox
    sandbox.matplotlib_fontlist()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
