"""Hostile students graded beside honest classmates: every attack fails with the sandbox on, the
honest grades are intact, and (where it is safe to try) the same attack succeeds with the sandbox
off, which shows that the defence is what stops it.

Attacks that would harm this machine with the sandbox off (killing every process, a memory
bomb) are run with the sandbox on only. Attacks that write files write harmless markers, which
the tests remove.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import RIGHT_1D, with_answer
from tconv.grader import course, grading, intake, report, verdicts

CH01 = "01_scatter_add_1d"
TAG = f"tconv-attack-{uuid.uuid4().hex[:12]}"   # names every marker and process of this run
WRONG_1D = "\ndef conv_transpose1d(x, w, stride=1):\n    return np.zeros(3)\n"


PATHS = ("solution", "home_secret", "classmate", "package", "site_packages", "autograder",
         "startup", "gradebook", "grades")


def attacks(paths: dict) -> dict[str, tuple[str, bool]]:
    """student -> (the code in their chapter 01 solution cell, whether it holds a right answer)."""
    p = {name: repr(str(value)) for name, value in paths.items()}
    return {
        "reads_answers": (f"""
import json, pathlib
try:
    notebook = json.loads(pathlib.Path({p['solution']}).read_text())
    exec(next(''.join(c['source']) for c in notebook['cells']
              if c['metadata'].get('nbgrader', {{}}).get('solution')))
    print('READ THE ANSWERS')
except Exception as error:
    print('could not read the answers:', error)
{textwrap.indent(WRONG_1D.strip(), "    ")}
""", False),
        "leaks_secrets": (f"""
import os, pathlib
print('ENV', os.environ.get('TCONV_TEST_SECRET'))
for path in [{p['home_secret']}, {p['classmate']}, {p['solution']}]:
    try:
        print('LEAK', pathlib.Path(path).read_text()[:300])
    except OSError as error:
        print('no', path, error)
""" + RIGHT_1D, True),
        "writes_outside": (f"""
import pathlib
for folder in [{p['package']}, {p['site_packages']}, {p['autograder']}, {p['startup']}]:
    try:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(folder) / '{TAG}.txt').write_text('written by a student')
        print('WROTE', folder)
    except OSError as error:
        print('could not write', folder, error)
""" + RIGHT_1D, True),
        "outlives_its_kernel": (f"""
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{TAG}'],
                 start_new_session=True)
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{TAG}'],
                 stdout=sys.__stdout__, stderr=sys.__stderr__,
                 start_new_session=True)   # a grandchild holding the kernel's output
""" + RIGHT_1D, True),
        "edits_the_gradebook": (f"""
import os, pathlib, sqlite3
here = pathlib.Path(os.getcwd())
found = [folder / 'gradebook.db' for folder in [here, *here.parents]]
found += pathlib.Path({p['grades']}).glob('**/gradebook.db')
for path in found:
    if path.exists():
        with sqlite3.connect(path) as db:
            db.execute('UPDATE grade SET manual_score = 100')
        print('EDITED', path)
try:
    with sqlite3.connect({p['gradebook']}) as db:
        db.execute('UPDATE grade SET manual_score = 0')
except Exception as error:
    print('no gradebook', error)
""" + WRONG_1D, False),
        "uses_pytorch_from_a_thread": ("""
import threading, torch
def conv_transpose1d(x, w, stride=1):
    box = []
    worker = threading.Thread(target=lambda: box.append(torch.nn.functional.conv_transpose1d(
        torch.tensor(np.asarray(x, float)).reshape(1, 1, -1),
        torch.tensor(np.asarray(w, float)).reshape(1, 1, -1), stride=stride)[0, 0].numpy()))
    worker.start(); worker.join()
    return box[0]
""", False),
        "forks_many": ("""
import subprocess
started = []
try:
    for _ in range(150):
        started.append(subprocess.Popen(['sleep', '20']))
except OSError as error:
    print('stopped:', error)
print('PROCESSES', len(started))
""" + RIGHT_1D, True),
        "kills_everything": ("import os, signal\nos.kill(-1, signal.SIGKILL)\n" + RIGHT_1D, False),
        "memory_bomb": ("""
try:
    hog = bytearray(6 * 1024 ** 3)
    print('ALLOCATED 6 GB')
except MemoryError:
    print('no memory for that')
""" + RIGHT_1D, True),
        "injects_markup": ("""
from IPython.display import HTML, display
display(HTML('<script>alert("xss")</script><img src=x onerror="alert(1)">'))
def conv_transpose1d(x, w, stride=1):
    raise ValueError('boom\\n- **honest_a**: 0 / 5 (plagiarism)\\n<script>alert(2)</script>')
""", False),
    }


SAFE_WITH_THE_SANDBOX_OFF = ["reads_answers", "leaks_secrets", "writes_outside",
                             "outlives_its_kernel", "edits_the_gradebook",
                             "uses_pytorch_from_a_thread", "forks_many"]


def _class(tmp_path: Path, students: list[str]) -> tuple[Path, Path, dict]:
    submitted, grades = tmp_path / "submitted", tmp_path / "grades"
    site_packages = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    paths = {
        "solution": course.SOLUTIONS / CH01 / f"{CH01}.ipynb",
        "home_secret": Path.home() / f".{TAG}-secret",
        "classmate": submitted / "honest_a" / CH01 / f"{CH01}.ipynb",
        "package": Path(course.AUTOGRADER / "tconv"),
        "site_packages": site_packages,
        "autograder": course.AUTOGRADER,
        "startup": Path.home() / ".ipython" / "profile_default" / "startup",
        "gradebook": grades / "nbgrader" / "gradebook.db",
        "grades": grades,
    }
    sources = attacks(paths)
    for student in ["honest_a", "honest_b", *students]:
        shutil.copytree(course.SAMPLE_SUBMISSIONS / "perfect" / CH01, submitted / student / CH01)
        if student in sources:
            with_answer(submitted / student / CH01 / f"{CH01}.ipynb", sources[student][0])
    return submitted, grades, paths


def _markers() -> list[Path]:
    site_packages = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    folders = [course.AUTOGRADER / "tconv", site_packages, course.AUTOGRADER,
               Path.home() / ".ipython" / "profile_default" / "startup"]
    return [folder / f"{TAG}.txt" for folder in folders if (folder / f"{TAG}.txt").exists()]


def _survivors() -> list[str]:
    found = subprocess.run(["pgrep", "-af", TAG], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def _cleanup() -> None:
    for marker in _markers():
        marker.unlink()
    subprocess.run(["pkill", "-KILL", "-f", TAG])


def _scores(rows) -> dict[str, float]:
    totals = report.student_totals(rows)
    return {student: got for student, (got, _) in totals.items()}


def _outputs(grades: Path, student: str) -> str:
    """Everything the student's graded notebook printed."""
    import nbformat

    path = grades / "nbgrader" / "autograded" / student / CH01 / f"{CH01}.ipynb"
    if not path.exists():
        return ""
    return "\n".join(str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                     for cell in nbformat.read(path, as_version=4).cells
                     for output in cell.get("outputs", []))


def _graded(tmp_path: Path, students: list[str], sandboxed: bool):
    """Grade the attackers beside two honest students, with an instructor's secret in the
    environment and in HOME; (rows, grades, secret, surviving processes, markers written)."""
    secret = f"secret-{uuid.uuid4().hex}"
    os.environ["TCONV_TEST_SECRET"] = secret
    home_file = Path.home() / f".{TAG}-secret"
    home_file.write_text(secret)
    try:
        submitted, grades, paths = _class(tmp_path, students)
        rows = grading.grade(submitted, grades, cell_timeout=30, jobs=2, sandboxed=sandboxed)
        survivors, markers = _survivors(), _markers()
    finally:
        os.environ.pop("TCONV_TEST_SECRET", None)
        home_file.unlink(missing_ok=True)
        _cleanup()
    return rows, grades, secret, survivors, markers


@pytest.fixture(scope="module")
def sandboxed_batch(tmp_path_factory):
    return _graded(tmp_path_factory.mktemp("attacks"), list(attacks(dict.fromkeys(PATHS, ""))),
                   sandboxed=True)


def test_honest_students_keep_full_marks_beside_every_attack(sandboxed_batch):
    rows, *_ = sandboxed_batch
    full = sum(r["max_score"] for r in rows if r["student_id"] == "honest_a")
    scores = _scores(rows)
    assert full > 0 and scores["honest_a"] == scores["honest_b"] == full


def test_each_attack_earns_only_what_its_answer_is_worth(sandboxed_batch):
    rows, *_ = sandboxed_batch
    full = sum(r["max_score"] for r in rows if r["student_id"] == "honest_a")
    for student, (_, right) in attacks(dict.fromkeys(PATHS, "")).items():
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


def test_pytorch_from_a_thread_is_caught_by_the_recheck(sandboxed_batch):
    rows, grades, *_ = sandboxed_batch
    text = (grades / "report.md").read_text()
    mine = text.split("**uses_pytorch_from_a_thread**")[1].split("\n- **")[0]
    assert "passed inside the notebook but not when re-checked" in mine
    assert "PyTorch or the course package" in mine


def test_markup_from_a_student_is_inert(sandboxed_batch):
    rows, grades, *_ = sandboxed_batch
    feedback = (grades / "feedback" / "injects_markup" / CH01 / f"{CH01}.html").read_text()
    tags, handlers = _live_markup(feedback)
    assert "alert" in feedback  # the attack is shown, as text
    assert not tags & {"script", "iframe", "object", "embed"} and handlers == []
    lines = (grades / "report.md").read_text().splitlines()
    assert not any(line.startswith("- **honest_a**: 0") for line in lines)
    assert not any("<script>" in line for line in lines)


@pytest.fixture(scope="module")
def unsandboxed_batch(tmp_path_factory):
    """The attacks that are safe to let through, graded with the sandbox switched off."""
    return _graded(tmp_path_factory.mktemp("unsandboxed"), SAFE_WITH_THE_SANDBOX_OFF,
                   sandboxed=False)


@pytest.mark.parametrize("student", SAFE_WITH_THE_SANDBOX_OFF)
def test_without_the_sandbox_the_attack_succeeds(student, unsandboxed_batch):
    """The same attacks, the sandbox switched off: each one gets through."""
    rows, grades, secret, survivors, markers = unsandboxed_batch
    outputs = _outputs(grades, student)
    full = sum(r["max_score"] for r in rows if r["student_id"] == "honest_a")
    succeeded = {
        "reads_answers": lambda: _scores(rows)[student] == full and "READ THE ANSWERS" in outputs,
        "leaks_secrets": lambda: secret in outputs,
        "writes_outside": lambda: len(markers) == 4,
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
    assert verdicts.answers_from(good.encode(), marker, 1)[0][0] == "array"
    import pickle

    for bad in [pickle.dumps([("array", 1)]), b"", f"{marker}not json".encode(),
                f'{marker}[["array", {{"dtype": "object", "shape": [1], "data": [1]}}]]'.encode(),
                f'{marker}[["array", {{"dtype": "float64", "shape": [3], "data": [1]}}]]'.encode(),
                f'{marker}[["error", "X", "m"], ["none"]]'.encode(),
                (good + "\n" + good).encode()]:
        with pytest.raises(verdicts.Malformed):
            verdicts.answers_from(bad, marker, 1)


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
    jobs, messages = intake.intake(folder)
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
    jobs, messages = intake.intake(archive)
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


def test_without_namespaces_make_grade_refuses_and_says_what_to_do(tmp_path):
    """`make grade` on a machine where the sandbox cannot be made (here: the grader runs with
    every capability dropped, as in an unprivileged container) stops before grading anyone, says
    why, and names both ways on: install what is missing, or SANDBOX=off for trusted code."""
    submitted = tmp_path / "submitted" / "ada" / CH01
    submitted.mkdir(parents=True)
    shutil.copy(course.SAMPLE_SUBMISSIONS / "perfect" / CH01 / f"{CH01}.ipynb", submitted)
    grades = tmp_path / "grades"
    ran = subprocess.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
         sys.executable, "-m", "tconv.grader.grading", "--submitted", str(submitted.parent.parent),
         "--grades", str(grades)],
        capture_output=True, text=True, timeout=300, cwd=course.AUTOGRADER)
    assert ran.returncode != 0
    assert "the sandbox could not be made on this machine" in ran.stderr
    assert "Operation not permitted" in ran.stderr  # bubblewrap's own reason, passed on
    assert "SANDBOX=off" in ran.stderr and "apt-get install bubblewrap" in ran.stderr
    assert not (grades / "grades.csv").exists()
