"""The intake takes in the ids learning platforms use, refuses the rest with a reason and what to do
(nobody dropped silently), and refuses a notebook too big to grade before parsing it."""

from __future__ import annotations

import json

from tconv.grader import course, intake
from tconv.grader.course_notebooks import CourseNotebooks

CH01 = "01_scatter_add_1d"
NOTEBOOK = (course.SAMPLE_SUBMISSIONS / "perfect" / CH01 / f"{CH01}.ipynb").read_bytes()
NOTEBOOKS = CourseNotebooks.read(course.assignments())
EMAIL, LONG = "ada.lovelace+ml@uni.example.org", "a" * 100


def hand_in(folder, student, data=NOTEBOOK, assignment=CH01):
    (folder / student / assignment).mkdir(parents=True, exist_ok=True)
    (folder / student / assignment / f"{CH01}.ipynb").write_bytes(data)


def test_email_and_long_ids_are_taken_and_others_refused_with_what_to_do(tmp_path):
    for student in [EMAIL, LONG, "b" * 129, "has space", "-dash", ".hidden", "..."]:
        hand_in(tmp_path, student)
    hand_in(tmp_path, "ok", assignment="chapter1")          # not an assignment of the course
    (tmp_path / "stray.ipynb").write_bytes(NOTEBOOK)        # outside any student's folder
    (tmp_path / "readme.txt").write_text("not a submission")
    found = intake.take_in(tmp_path, NOTEBOOKS)
    assert {job.student for job in found.jobs} == {EMAIL, LONG}
    refused = {item.what: item for item in found.refused}
    assert set(refused) == {"b" * 80, "has space", "-dash", ".hidden", "...", "ok",
                            "ok/chapter1", "stray.ipynb"}
    assert "at most 128 characters; this one has 129" in refused["b" * 80].why
    assert "' '" in refused["has space"].why and "hidden folder" in refused[".hidden"].why
    assert "assignment of this course" in refused["ok/chapter1"].why
    assert all(item.what_to_do for item in found.refused)
    assert any("readme.txt" in note for note in found.notes)     # mentioned, not refused
    assert all(f"NOT GRADED {item.what}" in " ".join(found.messages) for item in found.refused)


def test_a_notebook_of_100000_cells_is_refused_before_it_is_parsed(tmp_path):
    notebook = json.loads(NOTEBOOK)
    notebook["cells"] += [{"cell_type": "markdown", "metadata": {}, "source": "x"}] * 100_000
    hand_in(tmp_path, "floods_cells", json.dumps(notebook).encode())
    hand_in(tmp_path, "honest")
    found = intake.take_in(tmp_path, NOTEBOOKS)
    job = next(job for job in found.jobs if job.student == "floods_cells")
    assert job.notebook_bytes is None and "100,019 cells (at most 2,000" in job.refused
    item, = found.refused
    assert (item.student_id, item.assignment) == ("floods_cells", CH01)
    assert "scored 0" in item.what_to_do
    assert next(job for job in found.jobs if job.student == "honest").notebook_bytes
