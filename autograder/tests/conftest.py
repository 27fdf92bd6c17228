"""Shared fixtures: the sample catalog, one release, one grading batch and one learners' copy per
session. The long ones are made in the background, in lanes of processes (`background`), while
the tests that need none of them run; the tests are ordered for that (`_stage`). On two cores or
more, those tests run in a second pytest process beside the rest (`Lanes`)."""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import classroom
from tconv.grader import grading, release


@pytest.fixture(scope="session")
def sample_catalog() -> dict:
    return release.load_catalog()


class Background:
    """Named commands in lanes: the lanes run side by side, each runs its commands one after the
    other, each command in its own process, with its output kept for the message if it fails.
    ``wait(name)`` waits for one. A step whose ``needs`` failed is not run."""

    def __init__(self, lanes: dict[str, list[tuple[str, list, dict, str | None]]]):
        self.outputs: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.processes: set[subprocess.Popen] = set()
        self.stopped = False
        self.steps: dict[str, concurrent.futures.Future] = {}
        for lane, steps in lanes.items():
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"background-{lane}")
            for name, command, options, needs in steps:
                self.steps[name] = pool.submit(self._run, name, command, options, needs)
            pool.shutdown(wait=False)

    def _run(self, name: str, command: list, options: dict, needs: str | None) -> None:
        if self.stopped or (needs and self.steps[needs].exception()):
            raise RuntimeError(f"{name} not run: {needs} failed, or the session ended")
        started = time.perf_counter()
        process = subprocess.Popen([str(part) for part in command], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                   **options)
        self.processes.add(process)
        self.outputs[name], _ = process.communicate()
        self.seconds[name] = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"`{' '.join(map(str, command))}` failed (exit "
                               f"{process.returncode}):\n{self.outputs[name][-5000:]}")

    def wait(self, name: str, timeout: float = 3600) -> str:
        """The step's output, once it has finished; its failure, raised here."""
        self.steps[name].result(timeout)
        return self.outputs[name]

    def stop(self) -> None:
        self.stopped = True
        for process in list(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


REPO = "jdoe/transposed-convolution"  # the learners' repository named by `make publish` in tests


COPY = {"published", "learner_venv"}                         # what the background makes
GRADED = {"graded_class", "zip_graded", "unsandboxed_batch", "as_a_user"}  # (fixtures that wait)
BROWSER = {"lab", "page"}         # test_browser.py: JupyterLab, and Chromium on it
# The markers (registered in pyproject.toml), from the fixtures a test uses, so that a new test is
# marked by what it waits for: `make test-fast` deselects the three (docs/testing.md).
MARKERS = {"batch": GRADED, "publish": COPY, "browser": BROWSER}


def _stage(item) -> int:
    """-1: a learner in the browser (runs before any background work: with a grading batch
    running beside it, the learner's Validate stalled in two runs out of four); 0: waits for
    nothing; 1: waits for the learners' copy; 2: waits for a grading run of the copy's lane (the
    zip, the batch with the sandbox off), which ends before the class batch; 3: waits for the
    class batch, the last to end."""
    names = set(item.fixturenames)
    if "page" in names and not names & (COPY | GRADED):
        return -1
    if "graded_class" in names:
        return 3
    return 2 if names & GRADED else 1 if names & COPY else 0


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Each test marked by what it waits for (MARKERS); then the tests, stably reordered by _stage
    (within a stage, in their usual order): the background starts after the browser's learner
    tests and runs while the tests that need none of it do; those that wait for it run last, in
    the order it makes what they wait for."""
    for item in items:
        names = set(item.fixturenames)
        for marker, fixtures in MARKERS.items():
            if names & fixtures:
                item.add_marker(marker)
    items.sort(key=_stage)


def pytest_addoption(parser):
    parser.addoption(
        "--lane", choices=("auto", "one", "others"), default="auto",
        help="auto (default): on two cores or more, the tests that wait for nothing (stage 0) run "
             "in a second pytest process beside the others, and this one takes the last of their "
             "files once done with its own (conftest.Lanes); one: every test in this process; "
             "others: that second process (started by the first)")
    parser.addoption("--lane-claims", default=None, help=argparse.SUPPRESS)


def pytest_configure(config):
    config.pluginmanager.register(Lanes(config), "tconv-lanes")


def _heavy_first(items: list) -> list:
    """The tests, a file at a time: the files with the most `slow` tests (kernels, sandboxes,
    trainings) first, the others in their usual order. Both lanes order them so: the second takes
    files from the front, the first from the back, and where they meet the files are short."""
    slow = collections.Counter(item.path for item in items if item.get_closest_marker("slow"))
    files = {path: n for n, path in enumerate(dict.fromkeys(item.path for item in items))}
    return sorted(items, key=lambda item: (-slow[item.path], files[item.path]))


class Lanes:
    """Two lanes on a machine of two cores or more. The tests that wait for the background (the
    learners' copy, the grading batches) or drive the browser spend most of their time waiting,
    and the background ends minutes before the tests that wait for nothing do: alone, one process
    left a core idle for the last 286 s of `make test` (docs/testing.md). So the tests of stage 0
    run in a pytest process of their own (``--lane=others``, its folders in this one's basetemp),
    started when the background starts (after the learner's browser tests, which want a quiet
    machine); this process waits for it at the end, shows its output, and fails if it failed.

    The two share the stage-0 tests by file, so that neither ends long before the other: the
    second lane takes files from the first onwards (the heaviest first, ``_heavy_first``); this
    one, once its own tests are done, takes them from the last backwards, until they meet. A
    file is taken by making its claim (``lane-claims/<file>``, O_EXCL: exactly one process
    succeeds) before its first test; the other process then skips it without a report. Whole
    files, so that what a file computes once (its fixtures, the executed notebooks of
    test_notebooks.py) is computed in one process."""

    def __init__(self, config):
        self.config = config
        self.lane = config.getoption("lane")
        self.others: int = 0        # how many tests the second lane may run
        self.process: subprocess.Popen | None = None
        self.code: int | None = None
        self.summary = ""
        given = config.getoption("lane_claims")
        self.claims: Path | None = Path(given) if given else None
        self.taken: dict[str, bool] = {}  # file -> taken by this process (True) or the other
        self.helped = 0                   # stage-0 tests the first lane ran

    @pytest.hookimpl(trylast=True)  # after -m and -k have deselected
    def pytest_collection_modifyitems(self, config, items):
        if self.lane == "others":
            items[:] = _heavy_first([item for item in items if _stage(item) == 0])
        elif (self.lane == "auto" and (os.cpu_count() or 1) >= 2 and not config.option.collectonly
              and any(_stage(item) == 0 for item in items)
              and any(_stage(item) != 0 for item in items)):
            waiting = _heavy_first([item for item in items if _stage(item) == 0])
            self.others = len(waiting)
            files = {path: n for n, path in enumerate(dict.fromkeys(item.path for item in waiting))}
            waiting.sort(key=lambda item: -files[item.path])  # the last file first; stable within
            items[:] = [item for item in items if _stage(item) != 0] + waiting

    def pytest_report_collectionfinish(self, config, items):
        if self.others:
            return (f"{len(items) - self.others} tests here, {self.others} that wait for nothing "
                    f"in a second process beside them, which this one helps with at the end "
                    f"(--lane=one: all here)")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """Runs a stage-0 test only in the process that took its file; the other skips it."""
        if self.others and _stage(item) >= 0:
            self.start()  # the claims' folder too
        if self.claims is None or _stage(item) != 0:
            return None
        key = item.nodeid.split("::")[0]
        if key not in self.taken:
            try:
                os.close(os.open(self.claims / key.replace("/", "__"),
                                 os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                self.taken[key] = True
            except FileExistsError:
                self.taken[key] = False
        if not self.taken[key]:
            return True
        self.helped += self.lane != "others"
        return None

    def start(self) -> None:
        if self.process is not None:
            return
        base = self.config._tmp_path_factory.getbasetemp()
        self.log = base / "lane-others.log"
        self.claims = base / "lane-claims"
        self.claims.mkdir()
        args = [*self.config.invocation_params.args, "--lane=others",
                f"--lane-claims={self.claims}",
                f"--basetemp={base / 'lane-others'}", "-p", "no:cacheprovider"]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pytest", *args], stdout=out, stderr=subprocess.STDOUT,
                cwd=self.config.invocation_params.dir, start_new_session=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if not self.others:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:  # Ctrl-C: the second lane stops too
            self.pytest_unconfigure(self.config)
            return
        self.start()
        self.code = self.process.wait()
        output = self.log.read_text(errors="replace")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "the second lane (the tests that wait for nothing), its output")
            reporter.write(output)
        # pytest's last line: "== 3 passed in 1.0s ==" (or, with -q, without the "=")
        lines = [line.strip("= ") for line in output.splitlines() if line.strip("= ")]
        self.summary = lines[-1] if lines else f"no output (exit {self.code})"
        if self.code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.others and self.code is not None:
            failed = self.code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
            terminalreporter.write_sep("=", f"second lane: {self.summary}", red=failed,
                                       green=not failed)
            terminalreporter.write_line(
                f"of the {self.others} tests that wait for nothing, this lane ran {self.helped} "
                f"(from {sum(self.taken.values())} file(s)) once done with its own; the second "
                f"lane, the rest")

    def pytest_unconfigure(self, config):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def _background_started(request):
    """Starts the background at the first test that may run beside it."""
    if _stage(request.node) >= 0:
        request.getfixturevalue("background")


@pytest.fixture(scope="session")
def background(request, tmp_path_factory) -> Background:
    """Makes what the selected tests will wait for, while the tests that need none of it run, in
    two lanes side by side: the class batch (graded_class, two notebooks at a time on a Dask
    scheduler and two workers), the longest piece (4.6 minutes on the 2-core machine with nothing
    beside it); and, one after the other, the learners' copy (`make publish`, then its own venv
    and Binder's postBuild: published, learner_venv), a zip graded from the command line
    (zip_graded) and the attacks' batch with the sandbox off (test_sandbox.unsandboxed_batch).
    Stopped at the session's end, with every process they started."""
    needed = set().union(*(item.fixturenames for item in request.session.items))
    scratch = tmp_path_factory.mktemp("background")
    dest, venv, home = scratch / "learners", scratch / "venv", scratch / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV", "MPL"))}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    lanes = {"class": [], "copy": [], "user": []}
    if "graded_class" in needed:
        lanes["class"].append(("class", [sys.executable, classroom.__file__, scratch / "class"],
                               {}, None))
    if needed & COPY:
        lanes["copy"].append(("publish", [sys.executable, "-m", "tconv.grader.publish", "--dest",
                                          dest, "--edition", "graded", "--repo", REPO], {}, None))
    if "learner_venv" in needed:  # as a learner's `make lab` makes it, then Binder's postBuild
        lanes["copy"] += [("venv", [sys.executable, "scripts/course_env.py", "install", "--venv",
                                    venv, "--requirements", "requirements.txt", "--package", "."],
                           dict(cwd=dest, env=env), "publish"),
                          ("postBuild", ["binder/postBuild"], dict(cwd=dest, env=env), "venv")]
    if "zip_graded" in needed:  # `make grade` on a platform's zip, one job at a time
        classroom.platform_zip(scratch / "downloaded.zip")
        lanes["copy"].append(("zip", [sys.executable, "-m", "tconv.grader.grading", "--submitted",
                                      scratch / "downloaded.zip", "--grades", scratch / "zip-grades",
                                      "--jobs", "1"], {}, None))
    if "unsandboxed_batch" in needed:
        lanes["copy"].append(("unsandboxed", [sys.executable, classroom.__file__,
                                              scratch / "unsandboxed", "--sandbox-off"], {}, None))
    user = None
    if "as_a_user" in needed and os.geteuid() == 0 and classroom.reachable_by_others():
        # `make grade` as an instructor without root
        # pytest's own folders are root's alone (0700): the user's are beside them
        jobs_user = Path(tempfile.mkdtemp(prefix="tconv-as-user-"))
        jobs_user.chmod(0o755)
        user = classroom.ordinary_user(jobs_user / "home")
        for mode in AS_A_USER:
            folder = jobs_user / f"as-user-{mode}"
            folder.mkdir()
            os.chown(folder, user[1], user[1])
            argv = [sys.executable, classroom.__file__, folder, "--small", *AS_A_USER[mode]]
            lanes["user"].append((f"as-user-{mode}",
                                  classroom.as_user(user[1], jobs_user / "home", argv),
                                  dict(cwd=Path(classroom.__file__).parent.parent), None))
    jobs = Background(lanes)
    jobs.folder, jobs.env = scratch, env
    jobs.user_folder = jobs_user if user else None
    yield jobs
    jobs.stop()
    if user is not None:
        subprocess.run(["userdel", user[0]], capture_output=True)
        shutil.rmtree(jobs_user, ignore_errors=True)


# What test_without_root grades as an ordinary user: the mode "on" picks (userns here), Landlock
# asked for by name, and SANDBOX=off for the perfect sample alone.
AS_A_USER = {"on": ["on"], "landlock": ["landlock"], "off": ["off", "none"]}


@pytest.fixture(scope="session")
def graded_class(background) -> classroom.Batch:
    """The one sandboxed grading batch of the session: the sample class, the faulty students and
    the attackers of tests/classroom.py, two notebooks at a time, as `make grade` does here, on
    a Dask scheduler and two workers, one of which is killed mid-batch (test_cluster.py).
    It is graded in a process of its own (`python classroom.py FOLDER`, in the background),
    which keeps the instructor's secret it plants out of the tests' environment, and its output
    out of theirs. test_grading, test_sandbox and test_cluster read it; other runs reuse its
    results."""
    background.wait("class")
    print(f"\nthe class batch: {background.seconds['class']:.0f} s, in the background")
    batch = classroom.load(background.folder / "class" / "batch.json")
    assert classroom.tree_digest(batch.submitted) == batch.digest, "grading modified the submissions"
    return batch


def grade_reusing(batch: classroom.Batch, submitted: Path, grades: Path, **options) -> list[dict]:
    """`grading.grade`, with the session batch's kept results copied in first: a notebook already
    graded there with the same bytes, student id and settings is not graded again (the key of a
    kept result is a digest of everything it depends on: tconv.grader.runner.task_key)."""
    shutil.copytree(batch.grades / "results", grades / "results")
    return grading.grade(submitted, grades, cell_timeout=classroom.CELL_TIMEOUT, **options)


@pytest.fixture(scope="session")
def zip_graded(background) -> tuple[str, Path]:
    """(what the command printed, the grades folder) of `python -m tconv.grader.grading` on
    classroom.platform_zip, one job at a time on a local Dask cluster (the class batch runs on a
    scheduler and two workers), in the background (`background`). A non-zero exit fails it."""
    return background.wait("zip"), background.folder / "zip-grades"


@pytest.fixture(scope="session")
def published(background) -> Path:
    """`make publish` (the graded edition) into a scratch folder, once per session."""
    background.wait("publish")
    print(f"\nmake publish (graded): {background.seconds['publish']:.0f} s, in the background")
    return background.folder / "learners"


@pytest.fixture(scope="session")
def learner_venv(background, published):
    """A fresh venv made the way a learner's `make lab` makes it, then Binder's postBuild in it:
    (venv, environment). test_publish.py runs the copy in it, test_binder.py its JupyterLab."""
    installed = background.wait("venv")
    assert "--no-deps --no-index torch==2.13.0+cpu" in installed  # the local wheel store, first
    background.wait("postBuild")
    venv = background.folder / "venv"
    size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
    print(f"\nlearner venv: {background.seconds['venv']:.0f} s, {size} MB; postBuild: "
          f"{background.seconds['postBuild']:.0f} s, in the background")
    yield venv, background.env
    # 1.4 GB: removed by a process of its own, which the session does not wait for (5 s)
    subprocess.Popen(["rm", "-rf", str(venv)], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory) -> Path:
    """What `make release` produces now, written to a scratch folder."""
    into = tmp_path_factory.mktemp("release")
    release.main(["--into", str(into)])
    return into
