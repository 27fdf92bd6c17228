"""What the instructor sees agrees: report.md's totals are grades.csv's; the Formgrader flags "needs
manual grade" only where a person must act; a cell the re-check overturned carries its reason as
the comment on the answer's cell; a notebook the grader failed on has no score anywhere (never a
0); and `make export` after a change made by hand keeps all of it. Results are recorded as
`make grade` records them (gradebook.record), with no notebook run."""

from __future__ import annotations

import csv

from tconv.grader import formgrader, gradebook, grading, report, task
from tconv.grader.course_notebooks import CourseNotebooks
from tconv.grader.records import NOT_GRADED, CellResult, NotGraded, Result

CH01, CH02 = "01_scatter_add_1d", "02_output_size"
OVERTURNED = "conv_transpose1d_random_cases"   # its answer cell: conv_transpose1d_answer


def read(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_report_formgrader_and_export_agree(tmp_path):
    grades = tmp_path / "grades"
    work = gradebook.Workspace(grades)
    notebooks = CourseNotebooks.read([CH01, CH02])
    gradebook.prepare(work, notebooks)
    points = task.graded_cells(work.template_db, CH01, CH01)
    full = [CellResult(name, p, p, p) for name, p in points.items()]
    bob = [CellResult(name, 0.0 if name == OVERTURNED else p, p, p, recheck="failed the re-check",
                      comment=task.recheck_comment(name, "edge case x=[] failed") if
                      name == OVERTURNED else "") for name, p in points.items()]
    failed = Result("carl", CH02, CH02, notes=[f"no space left: {NOT_GRADED}"], status="grader")
    gradebook.record(work, notebooks, [], [Result("ada", CH01, CH01, cells=full),
                                           Result("bob", CH01, CH01, cells=bob), failed])
    gradebook.save_not_graded(work, [NotGraded("carl/02", "no space left", "rerun", *failed.key)])
    rows = grading.export(grades)
    report.write_report(rows, {}, {}, grades / "report.md")

    # report.md's totals are grades.csv's, with what the chapters handed in give beside them
    course_total = sum(float(r["max_score"]) for r in read(grades / "grades.csv")
                       if r["student_id"] == "ada")
    text = (grades / "report.md").read_text()
    for student in ["ada", "bob"]:
        got = sum(float(r["score"]) for r in read(grades / "grades.csv")
                  if r["student_id"] == student)
        assert f"- **{student}**: {got:g} / {course_total:g} ({got:g} / 5 of the chapters " \
               f"handed in)" in text
    assert f"- **carl**: 0 / {course_total:g} (0 / 0 of the chapters handed in); {CH02} " \
           f"{NOT_GRADED}" in text
    # the grader's failure: no score in grades.csv (nbgrader's 0 for a missing submission
    # removed), "not graded: rerun" in exercises.csv
    carl = {r["assignment"]: r["score"] for r in read(grades / "grades.csv")
            if r["student_id"] == "carl"}
    assert carl == {CH01: "0.0", CH02: ""}
    assert {(r["score"], r["status"]) for r in read(grades / "exercises.csv")
            if r["student_id"] == "carl"} == {("", NOT_GRADED)}

    # the Formgrader: nothing for a person to do; the overturned cell's reason on its answer
    from nbgrader.api import Gradebook
    with Gradebook(work.db_url) as book:
        for student in ["ada", "bob"]:
            assert not book.find_submission_notebook(CH01, CH01, student).needs_manual_grade
        comment = book.find_comment("conv_transpose1d_answer", CH01, CH01, "bob")
        assert "edge case x=[] failed" in comment.manual_comment
        # a change by hand, as the Formgrader's grade API makes it (apihandlers.GradeHandler)
        grade = book.find_grade("conv_transpose1d_seed_example", CH01, CH01, "ada")
        grade.manual_score = 0.5
        grade.needs_manual_grade = False
        book.db.commit()

    formgrader.export(grades)   # `make export`
    scores = {(r["student_id"], r["assignment"]): r["score"] for r in read(grades / "grades.csv")}
    assert scores[("ada", CH01)] == "4.5"                      # the hand change
    assert scores[("bob", CH01)] == str(5.0 - points[OVERTURNED])  # the re-check's zero
    assert scores[("carl", CH02)] == ""
    with Gradebook(work.db_url) as book:
        assert "edge case x=[] failed" in book.find_comment(
            "conv_transpose1d_answer", CH01, CH01, "bob").manual_comment
