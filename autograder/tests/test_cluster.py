"""Grading on Dask: the session's class batch (conftest.graded_class) is graded on a scheduler and
two worker processes started for it (classroom.Cluster), which stand in for a cluster; one worker
is killed as soon as it runs a notebook's kernel. Every score it gives is the catalog's
(test_grading.py) and every attack fails (test_sandbox.py); here: nobody is lost with the killed
worker, and the local runner (the zip graded by `python -m tconv.grader.grading --jobs 1`) gives
the same notebooks the same grades, cell by cell. That a second run grades nothing again:
test_grading."""

from __future__ import annotations

import classroom
from classroom import CH01, ZIPPED, read_rows


def test_a_cluster_that_loses_a_worker_still_grades_everyone(graded_class):
    assert graded_class.killed, "no worker was busy grading, so none was killed"
    assert "dashboard" in graded_class.printed  # what grading says of the cluster it was sent to
    handed_in = {folder.name for folder in graded_class.submitted.iterdir()} - {
        classroom.REFUSED_ID}
    assert {row["student_id"] for row in graded_class.rows} == handed_in
    # a task lost twice would be "not graded: rerun" with this note (runner.not_graded)
    assert "its grading failed" not in (graded_class.grades / "report.md").read_text()


def test_the_cluster_and_the_local_runner_grade_alike_cell_by_cell(graded_class, zip_graded):
    """The zip holds chapter 01 of two sample students, under other ids (classroom.ZIPPED)."""
    _, grades = zip_graded
    sample = {student: name for student, (name, _) in ZIPPED.items()}
    local = {(sample[r["student_id"]], r["grade_id"]): float(r["score"])
             for r in read_rows(grades / "exercises.csv")}
    on_cluster = {(r["student_id"], r["grade_id"]): float(r["score"]) for r in graded_class.rows
                  if r["student_id"] in sample.values() and r["assignment"] == CH01}
    assert local == on_cluster
    assert len(local) > 4 and {score > 0 for score in local.values()} == {True, False}
