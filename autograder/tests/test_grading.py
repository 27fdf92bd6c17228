"""Grading the sample class gives exactly the scores autograder/samples/samples.toml states,
writes the instructor's files, and can be run again."""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import sys

import pytest

from conftest import RIGHT_1D, with_answer
from tconv.grader import course, grading


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def feedback_text(path) -> str:
    text = re.sub(r"<(style|script).*?</\1>", "", path.read_text(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def test_exercises_csv_has_exactly_the_contract_columns(graded_samples):
    grades, _ = graded_samples
    with open(grades / "exercises.csv", newline="") as file:
        assert next(csv.reader(file)) == grading.EXERCISE_COLUMNS


def test_every_sample_scores_what_the_catalog_states(graded_samples, sample_catalog):
    grades, _ = graded_samples
    rows = read_rows(grades / "exercises.csv")
    assert {row["student_id"] for row in rows} == set(sample_catalog)
    for student, spec in sample_catalog.items():
        mine = [row for row in rows if row["student_id"] == student]
        handed_in = spec.get("assignments", course.assignments())
        assert {row["assignment"] for row in mine} == set(handed_in), student
        for row in mine:
            baseline = float(row["max_score"]) if spec["expected"] == "full" else 0.0
            want = float(spec.get("scores", {}).get(row["grade_id"], baseline))
            assert float(row["score"]) == want, (
                f"{student} / {row['grade_id']}: scored {row['score']}, the catalog says {want}")


def test_the_catalog_names_only_graded_cells_that_exist(graded_samples, sample_catalog):
    grades, _ = graded_samples
    grade_ids = {row["grade_id"] for row in read_rows(grades / "exercises.csv")}
    for student, spec in sample_catalog.items():
        assert set(spec.get("scores", {})) <= grade_ids, student


def test_untouched_notebooks_score_zero_on_every_cell_and_perfect_ones_full(graded_samples):
    grades, _ = graded_samples
    rows = read_rows(grades / "exercises.csv")
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


def test_feedback_exists_for_every_submission_and_names_the_mistake(graded_samples, sample_catalog):
    grades, _ = graded_samples
    for student, spec in sample_catalog.items():
        texts = []
        for assignment in spec.get("assignments", course.assignments()):
            for notebook in course.notebooks(assignment):
                path = grades / "feedback" / student / assignment / f"{notebook}.html"
                assert path.exists(), path
                texts.append(feedback_text(path))
        for words in spec.get("feedback", []):
            assert any(words in text for text in texts), f"{student}: feedback lacks {words!r}"


def test_grades_csv_is_nbgraders_export(graded_samples):
    grades, _ = graded_samples
    rows = read_rows(grades / "grades.csv")
    assert {"assignment", "student_id", "score", "max_score"} <= set(rows[0])
    perfect = {r["assignment"]: r for r in rows if r["student_id"] == "perfect"}
    assert set(perfect) == set(course.assignments())
    assert all(r["score"] == r["max_score"] for r in perfect.values())


def test_grading_again_into_the_same_folder_gives_the_same_grades(tmp_path):
    submitted = tmp_path / "submitted"
    shutil.copytree(course.SAMPLE_SUBMISSIONS / "only_chapter_01", submitted / "only_chapter_01")
    first = grading.grade(submitted, tmp_path / "grades", cell_timeout=60)
    (tmp_path / "grades" / "feedback" / "stale.html").write_text("left from an earlier run")
    second = grading.grade(submitted, tmp_path / "grades", cell_timeout=60)
    assert first == second and all(r["score"] == r["max_score"] for r in second)
    assert not (tmp_path / "grades" / "feedback" / "stale.html").exists()


@pytest.mark.parametrize("layout, message", [
    (None, "is not a folder"),
    ("student/not_an_assignment/x.ipynb", "no submissions in"),
])
def test_a_wrong_submitted_folder_is_explained(tmp_path, layout, message):
    submitted = tmp_path / "submitted"
    if layout:
        (submitted / layout).parent.mkdir(parents=True)
        (submitted / layout).write_text("{}")
    result = subprocess.run([sys.executable, "-m", "tconv.grader.grading", "--submitted", str(submitted),
                             "--grades", str(tmp_path / "grades")], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr


FAULTS = {  # student -> (what they wrote in the chapter 01 solution cell, full marks expected?)
    "kernel_dies": ("import os\nos._exit(1)", False),
    "never_returns": ("def conv_transpose1d(x, w, stride=1):\n    while True:\n        pass", False),
    "system_exit": (RIGHT_1D + "\nraise SystemExit", True),
    "floods_the_output": ("print('x' * 1_000_000)\nfor _ in range(40):\n    print('y' * 1_000_000)\n"
                          + RIGHT_1D, True),
    "wrong_signature": ("def conv_transpose1d(x, w):\n    return np.zeros(len(x) + len(w) - 1)", False),
    "returns_a_string": ("def conv_transpose1d(x, w, stride=1):\n    return 'an array'", False),
}


def test_faulty_submissions_are_graded_and_explained_and_the_batch_goes_on(tmp_path):
    """Broken files and code that crashes, hangs, exits or floods, in one batch with an honest
    student whose grade must not change. Cells are stopped after 10 s here."""
    ch01 = course.assignments()[0]
    perfect = course.SAMPLE_SUBMISSIONS / "perfect"
    submitted = tmp_path / "submitted"
    students = ["honest", "wrong_name", "not_a_notebook", "missing", *FAULTS]
    for student in students:
        shutil.copytree(perfect / ch01, submitted / student / ch01)
    for path in (submitted / "wrong_name" / ch01).glob("*.ipynb"):
        path.rename(path.with_name("Untitled (1).ipynb"))
    for path in (submitted / "not_a_notebook" / ch01).glob("*.ipynb"):
        path.write_text("this is not JSON")
    for path in (submitted / "missing" / ch01).glob("*.ipynb"):
        path.unlink()
    (submitted / "missing" / ch01 / "notes.txt").write_text("I forgot the notebook")
    for student, (source, _) in FAULTS.items():
        with_answer(next((submitted / student / ch01).glob("*.ipynb")), source)

    grades = tmp_path / "grades"
    rows = grading.grade(submitted, grades, cell_timeout=10, jobs=2)
    score = {}
    for row in rows:
        got, out_of = score.get(row["student_id"], (0, 0))
        score[row["student_id"]] = (got + row["score"], out_of + row["max_score"])
    full = score["honest"][1]
    assert full > 0 and score["honest"] == (full, full)
    assert score["wrong_name"] == (full, full)
    for student in ["not_a_notebook", "missing"]:
        assert score[student] == (0, full), student
    for student, (_, passes) in FAULTS.items():
        assert score[student] == ((full if passes else 0), full), student
    report = (grades / "report.md").read_text()
    assert "handed in as `Untitled (1).ipynb`" in report
    assert "is not a readable notebook" in report
    assert "is missing" in report
    assert "kernel died" in report
    assert "time limit" in report or "timed out" in report or "did not finish" in report
    assert "raised TypeError" in report  # the wrong signature
    assert "not an array of numbers" in report  # the string
    assert (grades / "scores.png").stat().st_size > 10_000


def test_a_zip_from_a_learning_platform_is_graded_like_a_folder(tmp_path):
    import zipfile

    ch01 = course.assignments()[0]
    archive = tmp_path / "downloaded.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(course.SAMPLE_SUBMISSIONS / "perfect" / ch01 / f"{ch01}.ipynb",
                     f"ada_12345_attempt_2026-11-20_{ch01}.ipynb")
        zipped.write(course.SAMPLE_SUBMISSIONS / "untouched" / ch01 / f"{ch01}.ipynb",
                     f"grace_67890_{ch01} (1).ipynb")
        zipped.writestr("readme.txt", "not a submission")
    result = subprocess.run([sys.executable, "-m", "tconv.grader.grading", "--submitted", str(archive),
                             "--grades", str(tmp_path / "grades"), "--jobs", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "skipped readme.txt" in result.stderr
    rows = read_rows(tmp_path / "grades" / "exercises.csv")
    # the platform's numeric id stays part of the student id
    students = ("ada_12345", "grace_67890")
    totals = {s: sum(float(r["score"]) for r in rows if r["student_id"] == s) for s in students}
    assert totals["ada_12345"] == sum(
        float(r["max_score"]) for r in rows if r["student_id"] == "ada_12345") > 0
    assert totals["grace_67890"] == 0
