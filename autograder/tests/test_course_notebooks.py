"""A grading run reads each instructors' notebook (solutions/) and each released one (course/) once,
and passes them on as data (tconv/grader/course_notebooks.py): once read, the intake, the
gradebook, the runner's order, the re-check and the demonstrations need neither folder, and a whole
`make grade` opens each notebook once. A copy handed out is its caller's own; a missing notebook
is named before anything is graded."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import pickle
import shutil
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from tconv.grader import (cells, course, demonstrations, gradebook, grading, intake, recheck,
                          runner, task)
from tconv.grader.course_notebooks import CourseNotebooks, MissingNotebook
from tconv.grader.records import GRADED, CellResult, Job, Result
from tconv.grader.sandbox import Sandbox

CH01, CH07 = "01_scatter_add_1d", "07_checkerboard_subpixel"
PERFECT = course.SAMPLE_SUBMISSIONS / "perfect"
# the real solutions/ and course/, whatever a test points course.SOLUTIONS and COURSE at
FOLDERS = tuple(str(folder.resolve()) + os.sep for folder in (course.SOLUTIONS, course.COURSE))
MOVED = "conv_transpose1d_answer"   # the solution cell one student moves below its checks


# --- watching what this process opens ----------------------------------------------------------

_watchers: list[list[str]] = []
_hooked = False


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _watchers and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(FOLDERS):
            for seen in _watchers:
                seen.append(path)


@contextlib.contextmanager
def course_files_opened():
    """The files under the real solutions/ and course/ this process opens while the block runs
    (an audit hook, on from the first use: Python has no way to remove one)."""
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    seen: list[str] = []
    _watchers.append(seen)
    try:
        yield seen
    finally:
        _watchers.remove(seen)


def test_the_audit_hook_sees_a_course_notebook_opened():
    """The watch below can fail: a notebook read by path is seen."""
    with course_files_opened() as opened:
        nbformat.read(course.SOLUTIONS / CH01 / f"{CH01}.ipynb", as_version=4)
    assert opened == [str((course.SOLUTIONS / CH01 / f"{CH01}.ipynb").resolve())]


# --- the data ------------------------------------------------------------------------------------

def test_each_copy_is_its_callers_own_and_each_text_is_parsed_once():
    """Two callers never share a parse: one changing its copy changes no other's, while the
    text is parsed once per process. Shown to fail with the deep copy taken out of
    CourseNotebooks.solution (the second caller then sees the first one's change)."""
    from tconv.grader import course_notebooks

    notebooks = CourseNotebooks.read([CH01])
    course_notebooks._parsed.cache_clear()
    first = notebooks.solution(CH01, CH01)
    pristine = nbformat.writes(first)
    first.cells[0].source = "changed by the first caller"
    del first.cells[1:]
    second = notebooks.solution(CH01, CH01)
    assert nbformat.writes(second) == pristine
    assert second == nbformat.read(course.SOLUTIONS / CH01 / f"{CH01}.ipynb", as_version=4)
    released = notebooks.released(CH01, CH01)
    released.cells.clear()
    assert notebooks.released(CH01, CH01).cells
    assert course_notebooks._parsed.cache_info().misses == 2   # each text parsed once


def test_what_travels_to_a_worker_is_text_and_only_the_batchs_assignments():
    everything = CourseNotebooks.read(course.assignments())
    batch = everything.only([CH07])
    assert batch.assignments == [CH07] and everything.assignments == course.assignments()
    assert all(isinstance(text, str) for text in batch.solution_texts.values())
    again = pickle.loads(pickle.dumps(batch))
    assert again == batch and again.solution(CH07, CH07) == batch.solution(CH07, CH07)
    with pytest.raises(LookupError, match=f"{CH01}/{CH01}.ipynb was not read for this grading "
                                          f"run \\(it read {CH07}\\)"):
        batch.solution(CH01, CH01)
    # the results' key changes with either notebook of the assignment, and only with its own
    changed = CourseNotebooks(everything.solution_texts,
                              {**everything.released_texts, (CH07, CH07): "{}"})
    assert changed.digest(CH07) != everything.digest(CH07)
    assert changed.digest(CH01) == everything.digest(CH01)


def test_a_missing_notebook_is_named_with_what_to_do(tmp_path, monkeypatch):
    """Shown to fail with CourseNotebooks.read's MissingNotebook replaced by the bare error (the
    message then names neither what the file is nor how to make it)."""
    solutions, released = tmp_path / "solutions", tmp_path / "course"
    shutil.copytree(course.SOLUTIONS / CH01, solutions / CH01)
    (released / CH01).mkdir(parents=True)
    monkeypatch.setattr(course, "SOLUTIONS", solutions)
    monkeypatch.setattr(course, "COURSE", released)
    with pytest.raises(MissingNotebook) as raised:
        CourseNotebooks.read([CH01])
    assert str(raised.value) == (f"the released notebook {released / CH01 / f'{CH01}.ipynb'} is "
                                 f"missing: `make release` writes it from solutions/")
    with pytest.raises(MissingNotebook, match=f"{solutions / CH07} holds no notebook"):
        CourseNotebooks.read([CH07])


# --- once read, nothing of a run reads the folders ---------------------------------------------

class Recorded:
    """runner.run's pool: notes the order in which the jobs are handed out, grades nothing."""
    slots = 1

    def __init__(self):
        self.order: list[str] = []

    def submit(self, job: Job, n: int):
        self.order.append(job.assignment)
        future = concurrent.futures.Future()
        future.set_result(Result(job.student, job.assignment, job.notebook, status=GRADED))
        return future

    def wait(self, futures, timeout):
        return set(futures)


def hand_in(submitted: Path, student: str, chapter: str, notebook) -> Path:
    path = submitted / student / chapter / f"{chapter}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_once_read_no_piece_of_a_run_reads_the_course_folders(tmp_path, monkeypatch):
    """The notebooks read, solutions/ and course/ are pointed at empty folders, and every piece
    that used to read them does its work on a small class: the intake (which puts a moved solution
    cell back where the instructors' notebook has it), the runner's order (longest notebook
    first), the gradebook (prepared without the re-checked cells' hidden tests; a re-check's
    comment on the answer's cell), the results' key, the re-check (its plan, its child, its
    judge) and the demonstrations a task skips; the process opens no file of either folder.
    Shown to fail with each of these old reads restored: intake.put_solutions_back reading
    course.SOLUTIONS, runner's code cells counted from course.SOLUTIONS, recheck.learner_cells
    reading course.COURSE."""
    notebooks = CourseNotebooks.read(course.assignments())
    code_cells = {chapter: sum(cell.cell_type == "code" for cell in nbformat.read(
        course.SOLUTIONS / chapter / f"{chapter}.ipynb", as_version=4).cells)
        for chapter in (CH01, CH07)}
    assert code_cells[CH07] > code_cells[CH01]
    for name in ("SOLUTIONS", "COURSE"):
        (tmp_path / name).mkdir()
        monkeypatch.setattr(course, name, tmp_path / name)
    submitted = tmp_path / "submitted"
    perfect = nbformat.read(PERFECT / CH01 / f"{CH01}.ipynb", as_version=4)
    ada = hand_in(submitted, "ada", CH01, perfect)
    shutil.copytree(PERFECT / CH07, submitted / "ada" / CH07)
    ids = [cells.cell_id(cell) for cell in perfect.cells]
    answer = perfect.cells.pop(ids.index(MOVED))
    perfect.cells.append(answer)                      # below every check
    hand_in(submitted, "bob", CH01, perfect)

    with course_files_opened() as opened:
        found = intake.take_in(submitted, notebooks)
        assert not found.refused and len(found.jobs) == 3
        bob = next(job for job in found.jobs if job.student == "bob")
        assert f"solution cell {MOVED} was moved below its checks; graded in its place" in bob.notes
        back = [cells.cell_id(c) for c in nbformat.reads(bob.notebook_bytes.decode(), 4).cells]
        assert back.index(MOVED) < back.index("conv_transpose1d_seed_example")

        settings = task.Settings(b"", notebooks=notebooks.only([CH01, CH07]))
        pool = Recorded()
        runner.run(found.jobs, settings, pool=pool, disk_full=lambda: None)
        assert pool.order == [CH07, CH01, CH01]

        batch = settings.notebooks.only([CH01])
        work = gradebook.Workspace(tmp_path / "grades")
        gradebook.prepare(work, batch)
        prepared = (work.source / CH01 / f"{CH01}.ipynb").read_text()
        assert "BEGIN HIDDEN TESTS" not in prepared and "conv_transpose1d_edge_cases" in prepared
        points = task.graded_cells(work.template_db, CH01, CH01)
        gradebook.record(work, batch, [], [Result("bob", CH01, CH01, cells=[
            CellResult(grade_id, 0.0, p, p, comment="overturned by the re-check")
            for grade_id, p in points.items()])])
        from nbgrader.api import Gradebook
        with Gradebook(work.db_url) as book:
            comment = book.find_comment(MOVED, CH01, CH01, "bob").manual_comment
        assert comment == "overturned by the re-check"
        with pytest.raises(LookupError, match=f"{CH07} was not read for this grading run"):
            grading.course_digest(batch, CH07)  # not a digest of nothing

        source = settings.notebooks.solution(CH01, CH01)
        released = settings.notebooks.released(CH01, CH01)
        assert set(points) == recheck.rechecked_cells(source)
        assert not recheck.needs_torch(source)
        (tmp_path / "sandbox").mkdir()
        verdicts = recheck.run(Sandbox.off(tmp_path / "sandbox"), ada, source, released,
                               timeout=120, draw=recheck.draw_key("s" * 32, "ada"))
        assert {v.grade_id for v in verdicts} == set(points)
        assert all(v.passed for v in verdicts), [v.message for v in verdicts if not v.passed]
        demos = demonstrations.sources(source)
        assert demos
        config = task._config(tmp_path, tmp_path, settings, tuple(demos))
        assert config.SkipDemonstrations.sources == demos
    assert opened == []


@pytest.mark.slow
def test_a_grading_run_opens_each_notebook_once(tmp_path, monkeypatch):
    """`make grade` of one notebook, the task run in this process (so that every file the run
    opens is seen here) without the sandbox (the perfect sample's code is the course's own):
    every notebook of solutions/ and course/ is opened once, and the notebook gets full marks.
    Before the notebooks were read once, chapter 01's instructors' notebook was opened 8 times
    for this one notebook (and 18 times for three)."""
    @contextlib.contextmanager
    def in_this_process(settings, workers, scheduler, count):
        class Pool(Recorded):
            def submit(self, job, n):
                future = concurrent.futures.Future()
                future.set_result(task.grade(job, settings))
                return future
        yield Pool()

    monkeypatch.setattr(runner, "_dask_pool", in_this_process)
    course.quiet_gradebook_warnings()   # as in a worker (pytest restores the filters)
    submitted = tmp_path / "submitted"
    shutil.copytree(PERFECT / CH01, submitted / "ada" / CH01)
    with course_files_opened() as opened:
        rows, not_graded = grading.grade_batch(submitted, tmp_path / "grades", sandbox_mode="off")
    assert not not_graded
    assert rows and all(row["score"] == row["max_score"] for row in rows), rows
    every = [(folder / a / f"{n}.ipynb").resolve() for folder in (course.SOLUTIONS, course.COURSE)
             for a in course.assignments() for n in course.notebooks(a)]
    assert Counter(opened) == {str(path): 1 for path in every}
    assert json.loads((tmp_path / "grades" / "nbgrader" / "not_graded.json").read_text()) == []
