"""`make grade` as an instructor without root: an ordinary user (made with useradd, no
capability), grading the honest classmate, the perfect sample and the attackers of
classroom.AS_A_USER in the mode the probe picks for that user (user namespaces here), again in
Landlock mode, and the perfect sample alone with SANDBOX=off. The honest scores are the same as
root's batch gives, and every attack fails. (Each defence alone: test_sandbox_modes.py.)"""

from __future__ import annotations

import os

import pytest

import classroom
from classroom import CH01, HONEST
from tconv.grader import report

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes an ordinary user: needs root "
                                "(run as an ordinary user, the whole suite grades as one)")


@pytest.fixture(scope="module")
def as_a_user(background):
    """mode -> (the batch, what grading printed)."""
    if not classroom.reachable_by_others():
        pytest.skip(f"{classroom.course.ROOT} lies in a folder other users cannot enter (e.g. a "
                    f"0700 temporary folder): an ordinary user cannot run this checkout")
    batches = {}
    for mode in ("on", "landlock", "off"):
        printed = background.wait(f"as-user-{mode}")
        batches[mode] = (classroom.load(background.user_folder / f"as-user-{mode}" / "batch.json"),
                         printed)
    return batches


def _totals(batch) -> dict[str, float]:
    return {student: got for student, (got, _) in report.student_totals(batch.rows).items()}


@pytest.mark.parametrize("mode", ["on", "landlock"])
def test_an_ordinary_user_grades_honest_students_right_and_every_attack_fails(mode, as_a_user):
    batch, printed = as_a_user[mode]
    expected = {"on": "sandbox: userns (", "landlock": "sandbox: landlock ("}[mode]
    assert expected in printed and "Not protected:" in printed
    assert expected in (batch.grades / "report.md").read_text()
    totals = _totals(batch)
    full = report.student_totals(batch.rows)[HONEST][1]
    assert totals[HONEST] == totals["perfect"] == full > 0
    for student in classroom.AS_A_USER:
        right = classroom.attacks(dict.fromkeys(classroom.PATHS, ""))[student][1]
        if mode == "landlock" and student == "kills_everything":
            # kill(-1) in a PID namespace takes the kernel with it. Under Landlock alone it
            # reaches only the processes of its own sandbox: when one of them is the kernel's
            # sandboxed parent, whose death ends the kernel too (its parent-death signal), the
            # notebook scores 0, else its right answer is graded (both seen on this machine).
            # Either way nobody outside is touched: the honest classmate's total above.
            assert totals[student] in (0, full), (mode, student)
            continue
        assert totals[student] == (full if right else 0), (mode, student)
    assert batch.survivors == [] and batch.markers == []
    texts = [p.read_text() for p in batch.grades.rglob("*.html")]
    assert texts and not any(batch.secret in text for text in texts)
    outputs = {s: classroom.printed(classroom.graded_outputs(batch.grades, s))
               for s in ("leaks_secrets", "forks_many", "memory_bomb", "reads_answers")}
    assert "LEAK" not in outputs["leaks_secrets"] and "ENV None" in outputs["leaks_secrets"]
    forks = int(outputs["forks_many"].split("PROCESSES ")[1].split()[0])
    # under Landlock alone the limit is the user's tasks when the kernel started plus 64
    assert forks < 64 if mode == "on" else ("stopped:" in outputs["forks_many"] and forks < 150)
    assert "no memory for that" in outputs["memory_bomb"]
    assert "READ THE ANSWERS" not in outputs["reads_answers"]


def test_sandbox_off_as_an_ordinary_user_gives_the_perfect_sample_full_marks(as_a_user):
    batch, printed = as_a_user["off"]
    assert "sandbox: off (NO SANDBOX" in printed
    rows = [r for r in batch.rows if r["student_id"] == "perfect" and r["assignment"] == CH01]
    assert rows and all(r["score"] == r["max_score"] for r in rows)
