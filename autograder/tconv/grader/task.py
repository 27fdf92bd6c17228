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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import jinja2
import nbformat
from nbconvert.exporters import HTMLExporter

from . import course, demonstrations, recheck, report
from . import gradebook as gradebook_module
from . import capping, packages
from .course_notebooks import CourseNotebooks
from .records import GRADERS_FAULT, NOT_GRADED, STUDENTS_FAULT, CellResult, Job, Result
from .sandbox import Limits, Sandbox, remove_tree
from .sandboxed_kernel import MEMORY_EXCEEDED, kernel_manager_class

MiB = 1024 ** 2

MAX_AUTOGRADED_BYTES = 8 * MiB   # the graded notebook kept for the Formgrader (and cached)
MAX_FEEDBACK_BYTES = 8 * MiB     # one feedback page (and cached)


@dataclass(frozen=True)
class Settings:
    """The same for every task of a batch, sent with each task (runner.DaskPool): plain values."""
    template: bytes            # the gradebook with every assignment generated, no student yet
    cell_timeout: int = course.CELL_TIMEOUT
    limits: Limits = Limits()
    sandbox: str = "root"       # the mode probe.probe chose, or "off"
    scratch: str | None = None  # where private folders are made (default: the system's temp)
    # the instructor's secret the hidden tests' cases are drawn from (grading.secret); "": the
    # instructors' notebooks' own seeds, which anyone with the course can know
    secret: str = ""
    # the batch's instructors' and released notebooks, read once by the coordinator (grading.py)
    notebooks: CourseNotebooks = field(default_factory=CourseNotebooks)
    # what its sandboxes may import, found once by the coordinator (packages.found_once)
    packages: dict = field(default_factory=dict)

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
    """Never raises. Whose fault a failure is decides what becomes of the notebook
    (``Result.status``): a problem of the submission (missing, unreadable, refused at intake, its
    kernel died or ran out of time) becomes a note and zeros; a failure of the grader itself (no
    space left, nbgrader or this code crashing, the sandbox not starting) becomes a note and no
    score at all: the runner tries it again, then reports it "not graded: rerun"."""
    started = time.monotonic()
    result = Result(job.student, job.assignment, job.notebook, notes=list(job.notes))
    try:
        packages.adopt(settings.packages)
        if job.notebook_bytes is None:
            result.status = STUDENTS_FAULT
        elif full := course.disk_nearly_full(settings.scratch or tempfile.gettempdir()):
            _grader_failed(result, full)
        else:
            _grade_in(job, settings, result)
        if result.status != GRADERS_FAULT:
            max_scores = graded_cells(settings.template_db, job.assignment, job.notebook)
            found = {cell.grade_id for cell in result.cells}
            result.cells += [CellResult(grade_id, 0.0, points, 0.0)
                             for grade_id, points in max_scores.items() if grade_id not in found]
    except Exception as error:  # noqa: BLE001 - the grader's own code: the grader's fault
        _grader_failed(result, f"the grader failed ({type(error).__name__}: "
                               f"{str(error)[:300]})")
    result.cells.sort(key=lambda cell: cell.grade_id)
    result.seconds = time.monotonic() - started
    return result


def with_packages(settings: Settings) -> Settings:
    """``settings`` with what the batch's sandboxes may import (the kernel's, the re-check
    child's), found here once for all its workers (packages.found_once); unchanged with the
    sandbox off, or when found already."""
    if settings.sandbox == "off" or settings.packages:
        return settings
    notebooks = settings.notebooks
    children = {recheck.child_packages(notebooks.solution(assignment, notebook))
                for assignment in notebooks.assignments for notebook in notebooks.notebooks(assignment)}
    return replace(settings, packages=packages.found_once([packages.KERNEL, *sorted(children)]))


def _grader_failed(result: Result, why: str) -> None:
    result.status = GRADERS_FAULT
    result.cells = []
    result.notes.append(f"{why}: {NOT_GRADED}")


def _grade_in(job: Job, settings: Settings, result: Result) -> None:
    scratch = tempfile.mkdtemp(prefix="tconv-task-", dir=settings.scratch)
    try:
        _grade_in_folder(job, settings, result, scratch)
    finally:
        remove_tree(Path(scratch))


def _grade_in_folder(job: Job, settings: Settings, result: Result, scratch: str) -> None:
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    root = Path(scratch) / "course"
    source = settings.notebooks.solution(job.assignment, job.notebook)
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
        api = NbGraderAPI(config=_config(root, kernel_folder, settings,
                                         tuple(demonstrations.sources(source))))
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
        result.status, why = why_not_graded(outcome)
        result.notes.append(why)
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
        overturned = {}
        if any((grades[g].score or 0) > 0 for g in recheck.rechecked_cells(source)
               if g in grades):
            sandbox = _sandbox(Path(scratch) / "recheck", settings)
            draw = recheck.draw_key(settings.secret, job.student) if settings.secret else None
            released = settings.notebooks.released(job.assignment, job.notebook)
            for verdict in recheck.run(sandbox, submitted, source, released,
                                       timeout=max(60, 4 * settings.cell_timeout), draw=draw):
                grade = grades.get(verdict.grade_id)
                if verdict.passed is False and grade is not None and (grade.score or 0) > 0:
                    grade.manual_score = 0.0
                    overturned[verdict.grade_id] = verdict
                    gradebook_module.add_comment(gradebook, source, grade.name, job.notebook,
                                                 job.assignment, job.student,
                                                 recheck_comment(grade.name, verdict.message))
            gradebook.db.commit()
        for name, grade in grades.items():
            problem = problems.get(name, report.NOTHING)
            rechecked = overturned.get(name)
            result.cells.append(CellResult(
                name, float(grade.score or 0.0), float(grade.max_score),
                kernel_score=float(grade.auto_score or 0.0),
                recheck=rechecked.note if rechecked else "", problem=problem.note,
                found=tuple((rechecked or problem).found),
                comment=recheck_comment(name, rechecked.message) if rechecked else "",
                manual=grade.auto_score is None))
    report.make_safe(executed)
    nbformat.write(executed, autograded)
    text = autograded.read_text()
    if len(text) > MAX_AUTOGRADED_BYTES:
        # outputs capped as they arrived (capping.py) but sources up to intake.MAX_NOTEBOOK:
        # kept without outputs, and the feedback page made from that
        for cell in executed.cells:
            cell["outputs"] = [] if cell.cell_type == "code" else cell.get("outputs")
        text = nbformat.writes(executed)
        if len(text) > MAX_AUTOGRADED_BYTES:
            result.notes.append(f"the graded notebook is over {MAX_AUTOGRADED_BYTES // MiB} "
                                f"MB even without its outputs: no copy kept, no feedback page")
            return
        autograded.unlink()
        autograded.write_text(text)
    result.autograded_json = text
    api.generate_feedback(job.assignment, job.student)
    feedback = root / "feedback" / job.student / job.assignment / f"{job.notebook}.html"
    if feedback.exists() and feedback.stat().st_size <= MAX_FEEDBACK_BYTES:
        result.feedback_html = report.safe_html(feedback.read_text(errors="replace"))
    elif feedback.exists():
        result.notes.append(f"its feedback page was over {MAX_FEEDBACK_BYTES // MiB} MB: "
                            f"not kept")


def _sandbox(folder: Path, settings: Settings) -> Sandbox:
    folder.mkdir()
    return Sandbox(folder, settings.limits, mode=settings.sandbox)


def _config(root: Path, kernel_folder: Path, settings: Settings, demos: tuple[str, ...] = ()):
    from traitlets.config import Config

    config = course.nbgrader_config(**course.directories(root, root / "gradebook.db"))
    private = Config()
    private.Execute.timeout = settings.cell_timeout
    private.Execute.kernel_manager_class = kernel_manager_class()
    private.SandboxedKernelManager.folder = str(kernel_folder)
    private.SandboxedKernelManager.limits = asdict(settings.limits)
    private.SandboxedKernelManager.mode = settings.sandbox
    # nbgrader makes the autograded notebook read-only (444), which an ordinary user cannot
    # write again (report.make_safe): 644, whose digits nbgrader reads as octal
    private.Autograde.permissions = 644
    private.GenerateFeedback.exporter_class = FeedbackExporter
    # --- output capped while it arrives (capping.py) -------------------------------------------
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    steps = config.Autograde.get("autograde_preprocessors") or \
        Autograde.class_traits()["autograde_preprocessors"].default()
    private.Autograde.autograde_preprocessors = [demonstrations.SkipDemonstrations] + [
        capping.CappedExecute if step is Execute else step for step in steps]
    # --- the chapter's demonstrations are not run (demonstrations.py) ----------------------------
    private.SkipDemonstrations.sources = list(demos)
    private.SkipDemonstrations.tag = private.Execute.skip_cells_with_tag = \
        demonstrations.skip_tag()
    private.KernelManager.client_class = "tconv.grader.capping.CappedKernelClient"
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
    01 notebook (1.0 s of 3.9 s under a profiler, 2026-12-03). Its maths is MathML
    (``mathml``): the page keeps no script, so MathJax would leave raw LaTeX."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATES
        return environment

    @jinja2.pass_context
    def markdown2html(self, context, source):
        """Markdown as nbconvert renders it, with the maths as MathML (``mathml``)."""
        from nbconvert.filters.markdown_mistune import MarkdownWithMath

        from .mathml import MathMLRenderer

        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)


# What in nbgrader's log, when it could not run a notebook to the end, names the cause. The
# grader's causes are looked for first: a failure is the student's only when the log says so.
GRADERS_CAUSES = {
    "No space left on device": "no space left on the grader's disk",
    "database or disk is full": "no space left on the grader's disk",
    "OperationalError": "the gradebook's database failed",
    "MemoryError": "the grader ran out of memory",
    "OSError": "a file operation of the grader failed",
    "Errno": "a file operation of the grader failed",
    # before the learner's first cell: the sandbox or the kernel did not start
    "Kernel died before replying to kernel_info": "the notebook's kernel did not start",
    "Kernel didn't respond in": "the notebook's kernel did not start",
}
STUDENTS_CAUSES = {
    "DeadKernelError": "its kernel died while the notebook ran (os._exit, a crash, the memory "
                       "limit or the notebook's time budget)",
    "Kernel died": "its kernel died while the notebook ran (os._exit, a crash, the memory limit "
                   "or the notebook's time budget)",
    "UnresponsiveKernelError": "its kernel stopped answering and could not be interrupted",
    "Timeout waiting for IOPub output": "its output stopped arriving (a cell printed more than "
                                        "the grader reads at once, "
                                        f"{capping.MESSAGE_BYTES // MiB} MB)",
    "CellTimeoutError": "a cell ran past the time limit and could not be stopped",
    "SchemaTooOldError": "its cells' nbgrader metadata was changed",
    "SchemaTooNewError": "its cells' nbgrader metadata was changed",
    "ValidationError": "its cells' nbgrader metadata is not valid",
}


def why_not_graded(outcome: dict) -> tuple[str, str]:
    """(status, note) for a notebook nbgrader could not run to the end, from its log."""
    log = (outcome.get("log") or "") + (outcome.get("error") or "")
    last = [line.strip() for line in log.splitlines() if line.strip()
            and not line.startswith(("[WARNING]", "[INFO]"))][-1:] or ["no log"]
    for causes, status in ((GRADERS_CAUSES, GRADERS_FAULT), (STUDENTS_CAUSES, STUDENTS_FAULT)):
        for marker, cause in causes.items():
            if marker in log:
                if status == GRADERS_FAULT:
                    return status, f"{cause} ({last[0][:200]}): {NOT_GRADED}"
                return status, f"{cause}: every graded cell scores 0"
    return GRADERS_FAULT, (f"nbgrader could not run this notebook to the end ({last[0][:200]}): "
                           f"{NOT_GRADED}")


def recheck_comment(grade_id: str, message: str) -> str:
    """The Formgrader's and the feedback's comment on a cell the re-check overturned."""
    return (f"{grade_id} scored 0: its visible test passed in your notebook, but when your "
            f"function was re-run outside the notebook and checked on all of this cell's cases, "
            f"the hidden ones too, it failed.\n{message}")


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
