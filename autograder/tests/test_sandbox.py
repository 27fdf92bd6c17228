"""Hostile students graded beside honest classmates: every attack fails with the sandbox on, the
honest grades are intact, and (where it is safe to try) the same attack succeeds with the sandbox
off, which shows that the defence is what stops it.

The attackers (tests/classroom.py) are graded in the session's one batch, beside the whole sample
class (conftest.graded_class). Attacks that would harm this machine with the sandbox off (killing
every process, a memory bomb) are run with the sandbox on only. Attacks that write files write
harmless markers, which are removed after each batch.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import classroom
from classroom import CH01, HONEST
from tconv.grader import course, intake, report, recheck
from tconv.grader.course_notebooks import CourseNotebooks


def _scores(rows) -> dict[str, float]:
    totals = report.student_totals(rows)
    return {student: got for student, (got, _) in totals.items()}


def _full(rows, student) -> float:
    return report.student_totals(rows)[student][1]


def _outputs(grades: Path, student: str) -> str:
    """Everything the student's graded chapter 01 printed."""
    return classroom.printed(classroom.graded_outputs(grades, student))


@pytest.fixture(scope="module")
def sandboxed_batch(graded_class):
    """(rows, grades, secret, surviving processes, markers written) of the session's batch."""
    batch = graded_class
    return batch.rows, batch.grades, batch.secret, batch.survivors, batch.markers


def test_honest_students_keep_full_marks_beside_every_attack(sandboxed_batch, sample_catalog):
    """The classmate the attacks go after, a sample student who hands in chapter 01 alone, and
    the perfect sample student. (Every sample student's scores, each chapter's:
    test_grading.test_every_sample_scores_what_the_catalog_states)"""
    rows, *_ = sandboxed_batch
    full = _full(rows, HONEST)
    perfect_01 = sum(float(r["score"]) for r in rows
                     if r["student_id"] == "perfect" and r["assignment"] == CH01)
    assert sample_catalog[HONEST]["expected"] == "full"
    assert full > 0 and _scores(rows)[HONEST] == perfect_01 == full


def test_each_attack_earns_only_what_its_answer_is_worth(sandboxed_batch):
    rows, *_ = sandboxed_batch
    full = _full(rows, HONEST)
    for student, (_, right) in classroom.attacks(dict.fromkeys(classroom.PATHS, "")).items():
        assert _scores(rows)[student] == (full if right else 0), student


def test_no_secret_reaches_any_feedback_or_output(sandboxed_batch):
    rows, grades, secret, *_ = sandboxed_batch
    texts = [p.read_text() for p in grades.rglob("*.html")]
    texts += [p.read_text() for p in (grades / "nbgrader" / "autograded").rglob("*.ipynb")]
    assert texts and not any(secret in text for text in texts)
    leaked = _outputs(grades, "leaks_secrets")
    assert "LEAK" not in leaked and "ENV None" in leaked
    assert "BEGIN SOLUTION" not in leaked and "HIDDEN TESTS" not in leaked


def test_nothing_outside_the_sandbox_was_written_and_nothing_survives(sandboxed_batch):
    rows, grades, secret, survivors, markers = sandboxed_batch
    assert markers == [] and "WROTE" not in _outputs(grades, "writes_outside")
    assert survivors == []
    assert "EDITED" not in _outputs(grades, "edits_the_gradebook")


def test_limits_hold_processes_and_memory(sandboxed_batch):
    rows, grades, *_ = sandboxed_batch
    forks = _outputs(grades, "forks_many")
    assert int(forks.split("PROCESSES ")[1].split()[0]) < 64
    assert "no memory for that" in _outputs(grades, "memory_bomb")


def test_memory_held_by_many_processes_is_bounded_in_total(sandboxed_batch):
    """Four processes of 700 MB, each within MEMORY: together they pass it, and the memory watch
    ends them all (supervise.py). Shown to matter: test_sandbox_modes (the same attack with the
    watch switched off)."""
    rows, grades, *_ = sandboxed_batch
    assert "HELD" not in _outputs(grades, "holds_memory_in_processes")
    mine = classroom.student_lines((grades / "report.md").read_text(),
                                   "holds_memory_in_processes")
    assert "used more than MEMORY" in mine and _scores(rows)["holds_memory_in_processes"] == 0


def test_pytorch_from_a_thread_is_caught_by_the_recheck(sandboxed_batch):
    rows, grades, *_ = sandboxed_batch
    text = (grades / "report.md").read_text()
    mine = classroom.student_lines(text, "uses_pytorch_from_a_thread")
    assert "passed its visible test in the notebook, failed the re-check outside it" in mine
    assert "PyTorch or the course package" in mine


def test_markup_from_a_student_is_inert(sandboxed_batch):
    rows, grades, *_ = sandboxed_batch
    feedback = (grades / "feedback" / "injects_markup" / CH01 / f"{CH01}.html").read_text()
    tags, handlers = _live_markup(feedback)
    assert "alert" in feedback  # the attack is shown, as text
    assert not tags & {"script", "iframe", "object", "embed"} and handlers == []
    lines = (grades / "report.md").read_text().splitlines()
    assert not any(line.startswith(f"- **{HONEST}**: 0") for line in lines)
    assert not any("<script>" in line for line in lines)


@pytest.fixture(scope="module")
def unsandboxed_batch(background):
    """The attacks that are safe to let through, graded with the sandbox switched off
    (classroom.without_the_sandbox, in the background from the session's start)."""
    background.wait("unsandboxed")
    batch = classroom.load(background.folder / "unsandboxed" / "batch.json")
    return batch.rows, batch.grades, batch.secret, batch.survivors, batch.markers


@pytest.mark.parametrize("student", classroom.SAFE_WITH_THE_SANDBOX_OFF)
def test_without_the_sandbox_the_attack_succeeds(student, unsandboxed_batch):
    """The same attacks, the sandbox switched off: each one gets through."""
    rows, grades, secret, survivors, markers = unsandboxed_batch
    outputs = _outputs(grades, student)
    full = _full(rows, student)
    succeeded = {
        "reads_answers": lambda: _scores(rows)[student] == full and "READ THE ANSWERS" in outputs,
        "leaks_secrets": lambda: secret in outputs,
        # everywhere this user may write: as root all four folders, as an instructor without
        # root their own HOME's (the venv and the checkout are root's: the OS, not the sandbox)
        "writes_outside": lambda: {marker.parent for marker in markers} == {
            folder for folder in classroom.write_targets()
            if classroom.writable_without_a_sandbox(folder)} != set(),
        "outlives_its_kernel": lambda: survivors != [],
        "edits_the_gradebook": lambda: "EDITED" in outputs,
        "uses_pytorch_from_a_thread": lambda: _scores(rows)[student] == full,
        "forks_many": lambda: "PROCESSES 150" in outputs,
    }[student]
    assert succeeded(), f"{student}: the attack did not succeed even without the sandbox"


def _live_markup(page: str) -> tuple[set, list]:
    """The elements of ``page`` and its event-handler attributes, as a browser would parse them."""
    from html.parser import HTMLParser

    found: tuple[set, list] = (set(), [])

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found[0].add(tag)
            found[1].extend(name for name, _ in attrs if name.startswith("on"))

    Reader().feed(page)
    return found


# --- names and text, without grading -----------------------------------------------------------

def test_answers_from_the_child_are_data_or_nothing():
    marker = "ANSWERS-x:"
    good = f'{marker}[["array", {{"dtype": "float64", "shape": [2], "data": [1.0, 2.0]}}]]'
    assert recheck.answers_from(good.encode(), marker, 1)[0][0] == "array"
    import pickle

    for bad in [pickle.dumps([("array", 1)]), b"", f"{marker}not json".encode(),
                f'{marker}[["array", {{"dtype": "object", "shape": [1], "data": [1]}}]]'.encode(),
                f'{marker}[["array", {{"dtype": "float64", "shape": [3], "data": [1]}}]]'.encode(),
                f'{marker}[["error", "X", "m"], ["none"]]'.encode(),
                (good + "\n" + good).encode()]:
        with pytest.raises(recheck.Malformed):
            recheck.answers_from(bad, marker, 1)


def test_student_ids_links_and_zips_are_checked(tmp_path):
    import zipfile

    notebook = (course.SAMPLE_SUBMISSIONS / "perfect" / CH01 / f"{CH01}.ipynb").read_bytes()
    folder = tmp_path / "folder"
    for student in ["ok_1", "=2+3", ".hidden"]:
        (folder / student / CH01).mkdir(parents=True)
        (folder / student / CH01 / f"{CH01}.ipynb").write_bytes(notebook)
    (folder / "linked" / CH01).mkdir(parents=True)
    (folder / "linked" / CH01 / f"{CH01}.ipynb").symlink_to(
        course.SOLUTIONS / CH01 / f"{CH01}.ipynb")
    notebooks = CourseNotebooks.read(course.assignments())
    jobs, messages = intake.intake(folder, notebooks)
    assert {job.student for job in jobs} == {"ok_1", "linked"}
    assert any("=2+3" in m for m in messages) and any(".hidden" in m for m in messages)
    linked = next(job for job in jobs if job.student == "linked")
    assert linked.notebook_bytes is None and "link" in " ".join(linked.notes)

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"ada_111_attempt_{CH01}.ipynb", notebook)
        zipped.writestr(f"ada_222_attempt_{CH01}.ipynb", notebook)
        zipped.writestr(f"bob_333_attempt_1_{CH01}.ipynb", notebook)
        zipped.writestr(f"bob_333_attempt_2_{CH01}.ipynb", notebook)
        zipped.writestr(f"../escape/{CH01}/{CH01}.ipynb", notebook)
        link = zipfile.ZipInfo(f"eve_444_{CH01}.ipynb")
        link.external_attr = 0o120777 << 16
        zipped.writestr(link, "/etc/passwd")
    jobs, messages = intake.intake(archive, notebooks)
    assert {job.student for job in jobs} == {"ada_111", "ada_222", "bob_333"}
    bob = next(job for job in jobs if job.student == "bob_333")
    assert "2 files for this notebook" in " ".join(bob.notes)
    assert any("outside the archive" in m for m in messages)
    assert any("a link" in m for m in messages)


def test_csv_markdown_and_html_renderings_are_inert(tmp_path):
    rows = [{"student_id": "=2+3", "assignment": CH01, "notebook": CH01, "grade_id": "g",
             "score": 0.0, "max_score": 1.0}]
    report.write_exercises(rows, tmp_path / "exercises.csv")
    assert "'=2+3" in (tmp_path / "exercises.csv").read_text()
    report.write_report(rows, {("=2+3", CH01, CH01): ["x\n- **bob**: 5 / 5 <script>"]}, {},
                        tmp_path / "report.md")
    text = (tmp_path / "report.md").read_text()
    assert "\n- **bob**" not in text and "<script>" not in text
    page = report.safe_html('<p onclick="x()">a</p><script>alert(1)</script>'
                            '<a href=" javascript:alert(1)">l</a><img src="data:image/png;base64,'
                            'AAAA"><iframe src="x"></iframe><style>p > a {color: red}</style>')
    tags, handlers = _live_markup(page)
    assert not tags & {"script", "iframe"} and handlers == [] and "javascript" not in page
    assert 'src="data:image/png;base64,AAAA"' in page
    assert "p > a {color: red}" in page


SVG_ANIMATION = ('<svg><a><animate attributeName="href" values="javascript:alert(1)"/>'
                 '<text y="20">click</text></a><set attributeName="onmouseover" to="alert(2)"/>'
                 '</svg><div style="position:fixed;inset:0">over the page</div>'
                 '<math><annotation-xml encoding="text/html"><img src=x onerror="alert(3)">'
                 '</annotation-xml><maction actiontype="statusline"><mi href="javascript:alert(4)">'
                 'x</mi></maction></math>')


def test_feedback_html_keeps_only_what_an_allowlist_names():
    """What a blocklist of elements and attributes lets through: SVG's animation elements set a
    link to javascript: (or a handler) through attribute *values*, and a style attribute lays a
    box over the page. The allowlist keeps no SVG and no style attribute. (The sanitiser this
    replaced, a blocklist, kept all three.)"""
    page = report.safe_html(SVG_ANIMATION)
    tags, handlers = _live_markup(page)
    assert not tags & {"svg", "animate", "set", "annotation-xml", "maction"} and handlers == []
    assert "<mi>x</mi>" in page  # MathML's presentation elements are kept, without a link
    assert "javascript:" not in page and "alert" not in page and "position:fixed" not in page
    assert "over the page" in page  # the text stays, as text


@pytest.mark.slow
def test_without_capabilities_make_grade_takes_the_next_mode_and_says_so(tmp_path):
    """`make grade` where root's sandbox cannot be made (here: the grader runs with every
    capability dropped, as in an unprivileged container) grades in the next mode that works,
    names it and why root mode was passed over, and grades the perfect sample right. (Where no
    mode works: test_sandbox_modes' refusal tests.)"""
    submitted = tmp_path / "submitted" / "ada" / CH01
    submitted.mkdir(parents=True)
    shutil.copy(course.SAMPLE_SUBMISSIONS / "perfect" / CH01 / f"{CH01}.ipynb", submitted)
    grades = tmp_path / "grades"
    ran = subprocess.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
         sys.executable, "-m", "tconv.grader.grading", "--submitted", str(submitted.parent.parent),
         "--grades", str(grades), "--jobs", "1"],
        capture_output=True, text=True, timeout=600, cwd=course.AUTOGRADER)
    assert ran.returncode == 0, ran.stderr[-3000:]
    line = next(line for line in ran.stdout.splitlines() if line.startswith("sandbox: "))
    assert line.startswith(("sandbox: userns (", "sandbox: landlock (")), line
    assert "Stronger modes unavailable: root:" in line and "Not protected:" in line
    assert line in (grades / "report.md").read_text().replace("\\", "")
    rows = classroom.read_rows(grades / "exercises.csv")
    assert rows and all(float(r["score"]) == float(r["max_score"]) for r in rows)
