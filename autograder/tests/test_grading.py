"""Grading the sample class gives exactly the scores autograder/samples/samples.toml states,
writes the instructor's files, and can be run again; broken files and code that crashes, hangs,
exits or floods are graded and explained. All from the session's one batch (conftest.graded_class,
tests/classroom.py), except the command line on a zip."""

from __future__ import annotations

import csv
import re
import shutil
from html.parser import HTMLParser

import nbformat
import numpy as np
import pytest

import classroom
from classroom import CH01
from tconv import plots
from tconv.grader import course, demonstrations, grading, report


class _Text(HTMLParser):
    """The text a reader sees: every text node outside <style> and <script>, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skipping -= tag in ("style", "script") and self.skipping > 0

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def feedback_text(path) -> str:
    parser = _Text()
    parser.feed(path.read_text())
    parser.close()
    return " ".join(parser.parts)


def test_exercises_csv_has_exactly_the_contract_columns(graded_class):
    """The columns docs/grading.md promises instructors, in that order."""
    grades = graded_class.grades
    with open(grades / "exercises.csv", newline="") as file:
        assert next(csv.reader(file)) == ["student_id", "assignment", "notebook", "grade_id",
                                          "score", "max_score", "status"]


def test_every_sample_scores_what_the_catalog_states(graded_class, sample_catalog):
    """... graded beside the faulty students and every attack of test_sandbox.py."""
    rows = classroom.read_rows(graded_class.grades / "exercises.csv")
    assert {row["student_id"] for row in rows} == set(sample_catalog) | set(
        classroom.NOT_IN_THE_CATALOG)
    for student, spec in sample_catalog.items():
        mine = [row for row in rows if row["student_id"] == student]
        handed_in = spec.get("assignments", course.assignments())
        assert {row["assignment"] for row in mine} == set(handed_in), student
        for row in mine:
            want = classroom.catalog_score(spec, row)
            assert float(row["score"]) == want, (
                f"{student} / {row['grade_id']}: scored {row['score']}, the catalog says {want}")


def test_the_catalog_names_only_graded_cells_that_exist(graded_class, sample_catalog):
    grades = graded_class.grades
    grade_ids = {row["grade_id"] for row in classroom.read_rows(grades / "exercises.csv")}
    for student, spec in sample_catalog.items():
        assert set(spec.get("scores", {})) <= grade_ids, student


def test_every_exercise_with_known_mistakes_has_a_sample_student_who_makes_one(sample_catalog):
    """End to end (graded, and the mistake named in the feedback), at least one known mistake of
    every exercise. Every known mistake is named by its check in
    test_checks.test_every_known_mistake_is_rejected_and_named: the grader carries the name in
    the verdict record, the same way for all of them."""
    from tconv import exercises

    said = {(assignment[:2], words) for spec in sample_catalog.values()
            for assignment in spec.get("assignments", course.assignments())
            for words in spec.get("feedback", [])}
    for exercise in exercises.EXERCISES:
        if exercise.mistakes:
            assert any(chapter == exercise.chapter and words in mistake.name
                       for mistake in exercise.mistakes for chapter, words in said), (
                f"{exercise.check}: no sample student's feedback names one of its mistakes")


def test_untouched_notebooks_score_zero_on_every_cell_and_perfect_ones_full(graded_class):
    grades = graded_class.grades
    rows = classroom.read_rows(grades / "exercises.csv")
    untouched = [r for r in rows if r["student_id"] == "untouched"]
    perfect = [r for r in rows if r["student_id"] == "perfect"]
    assert untouched and all(float(r["score"]) == 0 for r in untouched)
    assert perfect and all(r["score"] == r["max_score"] for r in perfect)
    graded_cells = {(r["assignment"], r["grade_id"]) for r in rows}
    assert {(r["assignment"], r["grade_id"]) for r in perfect} == graded_cells
    # zero because every check failed, not because nbgrader gave up on the notebook
    for assignment in course.assignments():
        for notebook in course.notebooks(assignment):
            assert (grades / "nbgrader" / "autograded" / "untouched" / assignment
                    / f"{notebook}.ipynb").exists()


def test_feedback_exists_for_every_submission_and_names_the_mistake(graded_class, sample_catalog):
    grades = graded_class.grades
    for student, spec in sample_catalog.items():
        texts = []
        for assignment in spec.get("assignments", course.assignments()):
            for notebook in course.notebooks(assignment):
                path = grades / "feedback" / student / assignment / f"{notebook}.html"
                assert path.exists(), path
                texts.append(feedback_text(path))
        for words in spec.get("feedback", []):
            assert any(words in text for text in texts), f"{student}: feedback lacks {words!r}"


def test_a_failing_check_shows_its_message_not_the_courses_code(graded_class):
    """In the feedback (as in the notebook) a failing check's output is its message: no traceback
    through the course's checking code (CheckFailed._render_traceback_)."""
    path = (graded_class.grades / "feedback" / "overwrites_instead_of_adding" / classroom.CH01
            / f"{classroom.CH01}.html")
    text = feedback_text(path)
    assert re.search(r"CheckFailed\s*:\s*conv_transpose1d\(x=\[2, 3\]", text)
    assert "overwriting instead of adding" in text
    assert "Traceback" not in text and "comparing.py" not in text and "raise CheckFailed" not in text


def test_the_kernel_knows_it_is_graded_and_draws_only_the_pictures_of_answers(graded_class):
    """The sandboxed kernel is told that nbgrader grades it (sandboxed_kernel.kernel_environment):
    chapter 07's demonstrations (its trainings among them) are not run (demonstrations.py: a line in
    each), and the course's pictures of the cells that run are not drawn (a line where each would
    be, no PNG). A wrong answer's failing check still draws expected / yours / difference, in the
    graded notebook and in the feedback. matplotlib finds its font list in the sandbox's HOME:
    nothing on stderr."""
    chapter = "07_checkerboard_subpixel"
    source = nbformat.read(course.SOLUTIONS / chapter / f"{chapter}.ipynb", as_version=4)
    run = [cell for cell in source.cells
           if cell.cell_type == "code" and not demonstrations.is_demonstration(cell)]
    pictures = sum(cell.source.count("plots.display(") for cell in run)
    demos = len(demonstrations.sources(source))
    outputs = classroom.graded_outputs(graded_class.grades, "perfect", chapter)
    text = classroom.printed(outputs)
    assert demos >= 10 and text.count(demonstrations.NOT_RUN) == demos
    assert "steps for each model" not in text  # the experiment's demonstration did not run
    assert not [output for output in outputs if output.get("name") == "stderr"]
    assert pictures >= 5 and text.count(plots.NOT_DRAWN) == pictures
    assert not any("image/png" in output.get("data", {}) for output in outputs)
    outputs = classroom.graded_outputs(graded_class.grades, "overwrites_instead_of_adding")
    assert sum("image/png" in output.get("data", {}) for output in outputs) >= 1
    feedback = graded_class.grades / "feedback" / "overwrites_instead_of_adding" / classroom.CH01
    page = (feedback / f"{classroom.CH01}.html").read_text()
    assert "data:image/png;base64," in page
    # each picture with its text alternative, the maths as MathML (test_pictures.py)
    images = re.findall(r"<img\b[^>]*>", page)
    assert images and all(re.search(r'\salt="[^"]{40,}"', image) for image in images), \
        [image[-300:] for image in images]
    assert "<math" in page and "<script" not in page


def test_a_worker_compiles_the_feedbacks_templates_once(monkeypatch):
    """nbgrader makes a new HTML exporter for every feedback page; ours keeps Jinja's compiled
    templates for the process (task.FeedbackExporter): the second page compiles nothing and is
    the same page."""
    import jinja2

    from tconv.grader import task

    compiled, compile_template = [], jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile",
                        lambda self, *args, **kwargs: (compiled.append(args[1:2]),
                                                       compile_template(self, *args, **kwargs))[1])
    monkeypatch.setattr(task, "TEMPLATES", type(task.TEMPLATES)())
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Well done, Ada")])
    first, _ = task.FeedbackExporter().from_notebook_node(notebook)
    after_first = len(compiled)
    second, _ = task.FeedbackExporter().from_notebook_node(notebook)
    assert after_first > 0 and len(compiled) == after_first, compiled
    assert first == second and "Well done, Ada" in first


def test_grades_csv_is_nbgraders_export(graded_class):
    rows = classroom.read_rows(graded_class.grades / "grades.csv")
    assert {"assignment", "student_id", "score", "max_score"} <= set(rows[0])
    perfect = {r["assignment"]: r for r in rows if r["student_id"] == "perfect"}
    assert set(perfect) == set(course.assignments())
    assert all(r["score"] == r["max_score"] for r in perfect.values())


def test_grading_again_into_the_same_folder_grades_nothing_again(graded_class, tmp_path, capsys):
    """A second run on the same input, into a copy of the batch's folder: every result is kept,
    the grades are the same, cell by cell, and what the first run left is replaced."""
    grades = tmp_path / "grades"
    shutil.copytree(graded_class.grades, grades)
    (grades / "feedback" / "stale.html").write_text("left from an earlier run")
    capsys.readouterr()
    again = grading.grade(graded_class.submitted, grades, cell_timeout=classroom.CELL_TIMEOUT,
                          jobs=1)
    assert cells(again) == cells(graded_class.rows)
    printed = capsys.readouterr().out
    count = re.search(r"grading (\d+) notebook\(s\)", printed).group(1)
    assert f"{count} notebook(s) already graded in an earlier run with the same input" in printed
    assert not (grades / "feedback" / "stale.html").exists()
    assert classroom.read_rows(grades / "exercises.csv") == classroom.read_rows(graded_class.grades / "exercises.csv")


def cells(rows) -> dict:
    return {(r["student_id"], r["assignment"], r["grade_id"]): r["score"] for r in rows}


@pytest.mark.parametrize("layout, message", [
    (None, "is not a folder"),
    ("student/not_an_assignment/x.ipynb", "no submissions in"),
])
def test_a_wrong_submitted_folder_is_explained(tmp_path, layout, message):
    submitted = tmp_path / "submitted"
    if layout:
        (submitted / layout).parent.mkdir(parents=True)
        (submitted / layout).write_text("{}")
    with pytest.raises(SystemExit) as exited:  # the command's entry point, in this process
        grading.main(["--submitted", str(submitted), "--grades", str(tmp_path / "grades")])
    # SystemExit with a message: Python prints it on stderr and exits with status 1
    assert isinstance(exited.value.code, str) and message in exited.value.code
    assert not (tmp_path / "grades").exists()


def test_faulty_submissions_are_graded_and_explained_and_the_batch_goes_on(graded_class):
    """Broken files and code that crashes, hangs, exits or floods, graded in the class's batch:
    each gets what its answer is worth and the report says, for that student, what happened.
    Whether every other student's grade held is test_every_sample_scores_what_the_catalog_states."""
    score = {student: tuple(total) for student, total in report.student_totals(graded_class.rows).items()}
    full = score[classroom.HONEST][1]
    assert full > 0 and score[classroom.HONEST] == (full, full)
    for student, passes in classroom.BROKEN_FILES.items():
        assert score[student] == ((full if passes else 0), full), student
    for student, (_, passes) in classroom.FAULTS.items():
        assert score[student] == ((full if passes else 0), full), student
    text = (graded_class.grades / "report.md").read_text()
    said = {student: classroom.student_lines(text, student)
            for student in [*classroom.FAULTS, *classroom.BROKEN_FILES]}
    assert "handed in as `Untitled (1).ipynb`" in said["wrong_name"]
    assert "is not a readable notebook" in said["not_a_notebook"]
    assert "is missing" in said["missing"]
    assert "kernel died" in said["kernel_dies"]
    assert report.TIMED_OUT.note in said["blocks_forever"]
    assert "raised TypeError" in said["wrong_signature"]
    assert "not an array of numbers" in said["returns_a_string"]
    for student in ["system_exit", "floods_the_output"]:  # full marks: nothing to report
        assert said[student].count("\n") == 0, said[student]
    _assert_scores_picture(graded_class)


def test_an_email_and_a_long_id_are_graded_and_a_refused_one_is_named(graded_class):
    """Issue 24: ids as platforms give them are graded like any other; an id the grader refuses
    is at the top of report.md and in not_graded.csv, with why and what to do (and `make grade`
    would exit with an error: test_make_grade_exits_with_an_error_when_someone_is_not_graded)."""
    score = report.student_totals(graded_class.rows)
    for student in classroom.ODD_IDS:
        assert score[student][0] == score[student][1] > 0, student
    text = (graded_class.grades / "report.md").read_text()
    top = text.split("## Per exercise")[0]
    assert "**Not graded:" in top and f"- {report.md(classroom.REFUSED_ID)}: a student id is" in top
    refused = [row for row in classroom.read_rows(graded_class.grades / "not_graded.csv")
               if row["what"] == classroom.REFUSED_ID]
    assert len(refused) == 1 and "rename it" in refused[0]["what_to_do"]
    assert classroom.REFUSED_ID not in {row["student_id"] for row in graded_class.rows}


def test_make_grade_exits_with_an_error_when_someone_is_not_graded(monkeypatch, tmp_path, capsys):
    """The command's exit status (grading.main), with the batch replaced by what it returns."""
    from tconv.grader.records import NotGraded

    rows = [{"student_id": "ada", "assignment": CH01, "notebook": CH01, "grade_id": "g",
             "score": 1.0, "max_score": 1.0, "status": "graded"}]
    for not_graded in ([], [NotGraded("grace hopper!", "a student id is ...", "rename it")]):
        monkeypatch.setattr(grading, "grade_batch", lambda *a, **k: (rows, not_graded))
        argv = ["--submitted", str(tmp_path), "--grades", str(tmp_path / "g"), "--sandbox", "off"]
        if not_graded:
            with pytest.raises(SystemExit) as exited:
                grading.main(argv)
            assert "1 thing(s) handed in got no grade" in exited.value.code
            assert "grace hopper!: a student id is" in exited.value.code
        else:
            grading.main(argv)  # no SystemExit: status 0
    assert "ada  1 / 1" in capsys.readouterr().out


def _assert_scores_picture(graded_class) -> None:
    """scores.png has one bar per graded cell (its height follows their number) and shows both
    cells everyone passed (green) and cells someone scored nothing on (red), as this class has."""
    import matplotlib.image

    image = matplotlib.image.imread(graded_class.grades / "scores.png")[..., :3]
    rows = classroom.read_rows(graded_class.grades / "exercises.csv")
    cells = {(row["assignment"], row["grade_id"]) for row in rows}
    assert image.shape[:2] == (round(100 * (0.35 * len(cells) + 1.5)), 900)

    def pixels(hex_color):
        wanted = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
        return int((np.abs(image - wanted).max(axis=-1) < 0.02).sum())

    assert pixels("#55A868") > 1000 and pixels("#C44E52") > 100


def test_a_zip_from_a_learning_platform_is_graded_like_a_folder(zip_graded):
    printed, grades = zip_graded
    assert "skipped readme.txt" in printed
    rows = classroom.read_rows(grades / "exercises.csv")
    # the platform's numeric id stays part of the student id
    assert {r["student_id"] for r in rows} == set(classroom.ZIPPED)
    totals = report.student_totals(
        [dict(r, score=float(r["score"]), max_score=float(r["max_score"])) for r in rows])
    assert totals["ada_12345"][0] == totals["ada_12345"][1] > 0
    assert totals["grace_67890"][0] == 0
