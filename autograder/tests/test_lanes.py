"""`make test`'s two lanes (conftest.Lanes), each on a small session of its own: a test that fails
in the second pytest process fails the whole session, with its traceback shown; `--lane=one`
runs every test in one process; the first lane, done with its own tests, takes the second lane's
last files, and every test runs exactly once.

In each session, ``test_first.py`` drives the "browser" (a `page` of its own, so the first lane
keeps it); the other files wait for nothing. Their tests write their name and process id to a log
(``ran``), and some wait until another has run (``wait_for``), so that which lane runs which file
does not depend on how fast a process starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# pytest sessions, each importing the grader (about 5 s each): kept out of `make test-fast`
pytestmark = pytest.mark.slow
two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                               reason="one core: one lane (no second process)")

HELPERS = """
import os, time
from pathlib import Path

LOG = Path(os.environ["LANES_LOG"])

def ran(name):
    with LOG.open("a") as log:
        log.write(f"{name} {os.getpid()}\\n")

def wait_for(name):
    for _ in range(1200):
        if LOG.exists() and any(line.split()[0] == name for line in LOG.read_text().splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never ran")
"""
FIRST = ("import pytest\n\n@pytest.fixture\ndef page():\n    return None\n\n"
         "def test_own(page):\n    ran('own')\n")


def _session(tmp_path: Path, files: dict[str, str], *options: str):
    """(exit status, output, pid of the first lane's process, {test: pid that ran it})."""
    (tmp_path / "lanes_helpers.py").write_text(HELPERS)
    tests = []
    for name, text in {"first": FIRST, **files}.items():
        tests.append(tmp_path / f"test_{name}.py")
        tests[-1].write_text(f"from lanes_helpers import ran, wait_for\n{text}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(tmp_path)]),
           "LANES_LOG": str(tmp_path / "ran.log")}
    process = subprocess.Popen([sys.executable, "-m", "pytest", *map(str, tests), "-p", "conftest",
                                "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'bt'}",
                                f"--rootdir={tmp_path}", *options],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=300)
    runs = [line.split() for line in (tmp_path / "ran.log").read_text().splitlines()]
    names = [name for name, _ in runs]
    assert len(names) == len(set(names)), f"a test ran twice: {runs}"
    return process.returncode, output, process.pid, {name: int(pid) for name, pid in runs}


# x fails; y, the last file, which the first lane takes at once, waits until x has run, so that
# the second lane is the one that runs x
FAILING = {"x": "def test_x():\n    ran('x')\n    assert False, 'a failure of its own'\n",
           "y": "def test_y():\n    ran('y')\n    wait_for('x')\n"}


@two_cores
def test_a_failure_in_the_second_lane_fails_the_session_and_is_shown(tmp_path):
    """(A passing second lane is what every `make test` shows: "second lane: N passed".)"""
    code, output, first, where = _session(tmp_path, FAILING)
    assert "1 tests here, 2 that wait for nothing in a second process" in output, output
    assert where["x"] != first and where["y"] == first, (where, first)
    assert "the second lane (the tests that wait for nothing), its output" in output, output
    assert code == 1, output
    assert "second lane: 1 failed" in output, output
    assert "AssertionError: a failure of its own" in output, output  # its traceback, shown
    assert "2 passed" in output  # this lane's own test, and y


def test_one_lane_runs_everything_in_one_process(tmp_path):
    code, output, first, where = _session(tmp_path, FAILING, "--lane=one")
    assert code == 1 and "1 failed, 2 passed" in output, output
    assert set(where.values()) == {first}
    assert "the second lane (" not in output and "second lane:" not in output, output


# a, the first file, waits until e, the last, has run (the first lane takes it at once); e waits
# until a has begun (in the second lane): then both lanes take what is left, each file once
SHARED = {"a": "def test_a1():\n    ran('a1')\n    wait_for('e')\n\ndef test_a2():\n    ran('a2')\n",
          **{name: f"def test_{name}():\n    ran('{name}')\n" for name in "bcd"},
          "e": "def test_e():\n    ran('e')\n    wait_for('a1')\n"}


@two_cores
def test_the_first_lane_takes_the_last_files_and_every_test_runs_once(tmp_path):
    code, output, first, where = _session(tmp_path, SHARED, "-q")  # -q: its summary line is bare
    assert code == 0, output
    assert sorted(where) == ["a1", "a2", "b", "c", "d", "e", "own"], where  # each once (_session)
    assert where["a1"] == where["a2"] != first and where["e"] == first, (where, first)
    helped = sum(where[name] == first for name in "bcde")
    assert (f"of the 6 tests that wait for nothing, this lane ran {helped} (from {helped} file(s))"
            in output), output
    assert f"second lane: {6 - helped} passed" in output, output
