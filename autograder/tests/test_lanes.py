"""`make test`'s two lanes (conftest.Lanes): a test that fails in the second pytest process fails
the whole session, with its traceback shown; `--lane=one` runs both tests in one process. Run on
a two-test session of its own: one test that drives the "browser" (a `page` of its own, so the
first lane keeps it), one that waits for nothing (the second lane's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# three pytest sessions, each importing the grader (about 5 s each): kept out of `make test-fast`
pytestmark = pytest.mark.slow

SESSION = """
import pytest

@pytest.fixture
def page():
    return None

def test_in_the_first_lane(page):
    pass

def test_in_the_second_lane():
    assert {outcome}, "a failure of its own"
"""


def _session(tmp_path: Path, outcome: bool, *options: str) -> subprocess.CompletedProcess:
    test = tmp_path / "test_two_lanes.py"
    test.write_text(SESSION.format(outcome=outcome))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "pytest", str(test), "-p", "conftest",
                           "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'bt'}",
                           f"--rootdir={tmp_path}", *options],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: one lane (no second process)")
def test_a_failure_in_the_second_lane_fails_the_session_and_is_shown(tmp_path):
    """(A passing second lane is what every `make test` shows: "second lane: N passed".)"""
    done = _session(tmp_path, False)
    output = done.stdout + done.stderr
    assert "1 tests here, 1 that wait for nothing in a second process" in output, output
    assert "the second lane (the tests that wait for nothing), its output" in output, output
    assert done.returncode == 1, output
    assert "second lane: 1 failed" in output, output
    assert "AssertionError: a failure of its own" in output, output  # its traceback, shown
    assert "1 passed" in output  # the first lane's test, in this process


def test_one_lane_runs_everything_in_one_process(tmp_path):
    done = _session(tmp_path, False, "--lane=one")
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "1 failed, 1 passed" in output, output
    assert "the second lane (" not in output and "second lane:" not in output, output
