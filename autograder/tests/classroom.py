"""The class the tests grade once per session (conftest.graded_class): the sample class of
autograder/samples/samples.toml, plus students who hand in broken files or code that crashes,
hangs, exits or floods (test_grading.py asserts their grades), plus students who attack the grader
(test_sandbox.py asserts that every attack fails). All of them in one sandboxed batch, so every
sample student's scores are also shown to hold beside every attack.

Attacks that write files write harmless markers named by TAG, which are removed after the batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from tconv.grader import course, grading

CH01 = "01_scatter_add_1d"
TAG = f"tconv-attack-{uuid.uuid4().hex[:12]}"   # names every marker and process of this run
# The grader's own limit (30 s a cell), as `make grade` uses it. Under the whole test run's load
# the longest cell of the class took 11.9 s (the imports of chapter 03; measured on 2026-12-03).
CELL_TIMEOUT = course.CELL_TIMEOUT

RIGHT_1D = """
def conv_transpose1d(x, w, stride=1):
    out = np.zeros((len(x) - 1) * stride + len(w))
    for j in range(len(x)):
        out[j * stride:j * stride + len(w)] += x[j] * w
    return out
"""
WRONG_1D = "\ndef conv_transpose1d(x, w, stride=1):\n    return np.zeros(3)\n"

# student -> (what they wrote in the chapter 01 solution cell, full marks expected?)
FAULTS = {
    "kernel_dies": ("import os\nos._exit(1)", False),
    # hangs in the first graded cell only (its 2nd call; the try-it cell made the 1st), so the
    # batch waits one CELL_TIMEOUT for it, not one per cell; later calls return a wrong answer.
    # It waits without using the CPU: a busy loop would take a core from the students beside it.
    # Its name sorts first among chapter 01's students: Dask starts the longest chapters first,
    # then the intake's order (by student id), so its minute of waiting comes while the rest of
    # the session needs the core, not at the end, when nothing else is left to run.
    "blocks_forever": ("import time\ncalls = []\n\ndef conv_transpose1d(x, w, stride=1):\n"
                       "    calls.append(stride)\n    while len(calls) == 2:\n"
                       "        time.sleep(1)\n    return np.zeros(3)", False),
    "system_exit": (RIGHT_1D + "\nraise SystemExit", True),
    # 41 MB, 1 MB a message (flushed: ipykernel would send 41 MB at once, which the grader refuses
    # unread, capping.MESSAGE_BYTES): the cell keeps capping.CELL_BYTES and says what it left out
    "floods_the_output": ("print('x' * 1_000_000, flush=True)\nfor _ in range(40):\n"
                          "    print('y' * 1_000_000, flush=True)\n" + RIGHT_1D, True),
    "wrong_signature": ("def conv_transpose1d(x, w):\n    return np.zeros(len(x) + len(w) - 1)", False),
    "returns_a_string": ("def conv_transpose1d(x, w, stride=1):\n    return 'an array'", False),
}
# students whose chapter 01 file is wrong, not its code: (full marks expected?)
BROKEN_FILES = {"wrong_name": True, "not_a_notebook": False, "missing": False}
# ids as learning platforms give them (an e-mail, a long one): graded like any other (perfect
# chapter 01); and one the grader refuses, which must be named, not dropped (issue 24)
ODD_IDS = ["ada.lovelace+ml@uni.example.org", "x" * 100]
REFUSED_ID = "grace hopper!"

PATHS = ("solution", "home_secret", "classmate", "package", "site_packages", "autograder",
         "startup", "gradebook", "grades")
# the classmate whose notebook and report line the attacks go after: a sample student who hands in
# chapter 01 only, right (samples.toml), so the batch grades no extra copy of it
HONEST = "only_chapter_01"


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
for session in (True, False):  # a session of its own (refused by the sandbox), or not
    try:
        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{TAG}'],
                         start_new_session=session)
        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{TAG}'],
                         stdout=sys.__stdout__, stderr=sys.__stderr__,
                         start_new_session=session)   # a grandchild holding the kernel's output
    except (OSError, subprocess.SubprocessError) as error:
        print('could not start it:', error)
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
        "holds_memory_in_processes": ("""
import os, time
for _ in range(4):  # each under MEMORY (2 GB) alone; 2.8 GB together
    if os.fork() == 0:
        block = bytearray(700 * 1024 ** 2)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(30)
        os._exit(0)
time.sleep(15)
print('HELD 2800 MB')
""" + RIGHT_1D, False),
        "injects_markup": (f"""
from IPython.display import HTML, display
display(HTML('<script>alert("xss")</script><img src=x onerror="alert(1)">'))
def conv_transpose1d(x, w, stride=1):
    raise ValueError('boom\\n- **{HONEST}**: 0 / 5 (plagiarism)\\n<script>alert(2)</script>')
""", False),
    }


ATTACKS = list(attacks(dict.fromkeys(PATHS, "")))
SAFE_WITH_THE_SANDBOX_OFF = ["reads_answers", "leaks_secrets", "writes_outside",
                             "outlives_its_kernel", "edits_the_gradebook",
                             "uses_pytorch_from_a_thread", "forks_many"]
NOT_IN_THE_CATALOG = [*FAULTS, *BROKEN_FILES, *ATTACKS, *ODD_IDS]


def with_answer(notebook_path, source):
    """Put ``source`` in every solution cell of the notebook at ``notebook_path``."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = source
    nbformat.write(notebook, notebook_path)


def write_targets() -> list[Path]:
    """The folders the `writes_outside` attacker writes its marker into: the course package, the
    venv's site-packages, the course's config folder, IPython's startup folder in HOME."""
    return [course.AUTOGRADER / "tconv", _site_packages(), course.AUTOGRADER,
            Path.home() / ".ipython" / "profile_default" / "startup"]


def writable_without_a_sandbox(folder: Path) -> bool:
    """Whether this user's own rights let a process write into ``folder`` (or create it): where
    the sandbox is off, the only barrier left. Root: everywhere; an instructor without root: not
    into root's venv or checkout, but into their own HOME."""
    while not folder.exists():
        folder = folder.parent
    return os.access(folder, os.W_OK)


def attack_paths(submitted: Path, grades: Path) -> dict:
    package, site_packages, autograder, startup = write_targets()
    return {
        "solution": course.SOLUTIONS / CH01 / f"{CH01}.ipynb",
        "home_secret": Path.home() / f".{TAG}-secret",
        "classmate": submitted / HONEST / CH01 / f"{CH01}.ipynb",
        "package": package,
        "site_packages": site_packages,
        "autograder": autograder,
        "startup": startup,
        "gradebook": grades / "nbgrader" / "gradebook.db",
        "grades": grades,
    }


def add_attackers(submitted: Path, grades: Path, students: list[str]) -> None:
    """Chapter 01 of the perfect sample, with each attacker's code in its solution cell."""
    sources = attacks(attack_paths(submitted, grades))
    for student in students:
        _copy_perfect_ch01(submitted, student)
        with_answer(submitted / student / CH01 / f"{CH01}.ipynb", sources[student][0])


def add_faulty(submitted: Path) -> None:
    for student in [*FAULTS, *BROKEN_FILES, *ODD_IDS, REFUSED_ID]:
        _copy_perfect_ch01(submitted, student)
    for path in (submitted / "wrong_name" / CH01).glob("*.ipynb"):
        path.rename(path.with_name("Untitled (1).ipynb"))
    for path in (submitted / "not_a_notebook" / CH01).glob("*.ipynb"):
        path.write_text("this is not JSON")
    for path in (submitted / "missing" / CH01).glob("*.ipynb"):
        path.unlink()
    (submitted / "missing" / CH01 / "notes.txt").write_text("I forgot the notebook")
    for student, (source, _) in FAULTS.items():
        with_answer(next((submitted / student / CH01).glob("*.ipynb")), source)


@dataclass
class Batch:
    submitted: Path
    grades: Path
    rows: list[dict]
    secret: str            # in the environment and in a file in HOME while the batch ran
    survivors: list[str]   # processes of the attackers left running after the batch
    markers: list[Path]    # files the attackers wrote outside their sandbox
    digest: str = ""       # tree_digest(submitted) before grading
    killed: list[int] = field(default_factory=list)  # the Dask worker killed mid-batch
    printed: str = ""      # what grading printed


class Cluster:
    """`dask scheduler` and two `dask worker` processes on this machine's loopback, started in
    this process's group (conftest's background stops the group, them with it)."""

    def __init__(self, folder: Path):
        self.file = folder / "scheduler.json"
        dask = str(Path(sys.executable).parent / "dask")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.nannies: list[subprocess.Popen] = []
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.file)], **quiet)
        try:
            self._start_workers(dask, quiet)
        except BaseException:
            self.close()  # nothing of a half-made cluster outlives this process
            raise

    def _start_workers(self, dask: str, quiet: dict) -> None:
        deadline = time.monotonic() + 60
        while True:  # the scheduler writes its file when it listens; it may be read half-written
            try:
                self.address = json.loads(self.file.read_text())["address"]
                break
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline or self.scheduler.poll() is not None:
                    raise RuntimeError(f"the Dask scheduler wrote no address to {self.file} "
                                       f"within 60 s (exit code {self.scheduler.poll()})")
                time.sleep(0.2)
        self.nannies = [subprocess.Popen(
            [dask, "worker", self.address, "--nthreads", "1", "--nworkers", "1",
             "--no-dashboard", "--name", f"worker{n}"], **quiet) for n in range(2)]
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)

    def worker_pids(self) -> list[int]:
        """The nannies' children: the workers (and multiprocessing's resource tracker, which
        never runs a kernel)."""
        return [pid for nanny in self.nannies for pid in _children(nanny.pid, deep=False)]

    def kill_a_worker_once_busy(self, killed: list[int], done: threading.Event) -> None:
        """SIGKILL the first worker seen running a notebook's kernel; its pid goes to ``killed``.
        Gives up when ``done`` is set."""
        while not (killed or done.is_set()):
            busy = [pid for pid in self.worker_pids()
                    if any("ipykernel" in _cmdline(child) for child in _children(pid))]
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.2)

    def close(self) -> None:
        for nanny in self.nannies:
            for pid in _children(nanny.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for process in [*self.nannies, self.scheduler]:
            process.kill()
            process.wait()


def grade_with_attackers(submitted: Path, grades: Path, sandbox: str = "on",
                         jobs: int = 2, on_cluster: bool = False) -> Batch:
    """Grade ``submitted`` with an instructor's secret in the environment and in HOME; then
    look for surviving processes and written markers, and remove both. ``on_cluster``: on a
    Cluster started here (after the secret is set, so its workers have it too), one of whose
    workers is killed as soon as it runs a kernel."""
    secret = f"secret-{uuid.uuid4().hex}"
    os.environ["TCONV_TEST_SECRET"] = secret
    home_file = Path.home() / f".{TAG}-secret"
    home_file.write_text(secret)
    killed, printed, done = [], io.StringIO(), threading.Event()
    cluster = killer = None
    try:
        if on_cluster:
            (grades.parent / "scheduler").mkdir(parents=True, exist_ok=True)
            cluster = Cluster(grades.parent / "scheduler")
            killer = threading.Thread(target=cluster.kill_a_worker_once_busy, args=(killed, done))
            killer.start()
        with contextlib.redirect_stdout(printed):
            rows = grading.grade(submitted, grades, cell_timeout=CELL_TIMEOUT, jobs=jobs,
                                 sandbox_mode=sandbox,
                                 scheduler=cluster.address if cluster else None)
        survivors, markers = _survivors(), _markers()
    finally:
        done.set()
        if killer:
            killer.join()
        if cluster:
            cluster.close()
        print(printed.getvalue(), end="")
        os.environ.pop("TCONV_TEST_SECRET", None)
        home_file.unlink(missing_ok=True)
        _cleanup()
    return Batch(submitted, grades, rows, secret, survivors, markers, killed=killed,
                 printed=printed.getvalue())


def the_class(folder: Path) -> Batch:
    """The sample class, an honest classmate, the faulty students and every attacker: one batch,
    sandboxed, on a Dask scheduler and two workers (two notebooks at a time, as `make grade`
    grades on this machine), one of which is killed mid-batch (test_cluster.py)."""
    submitted, grades = folder / "submitted", folder / "grades"
    shutil.copytree(course.SAMPLE_SUBMISSIONS, submitted)
    add_faulty(submitted)
    add_attackers(submitted, grades, ATTACKS)
    digest = tree_digest(submitted)
    batch = grade_with_attackers(submitted, grades, on_cluster=True)
    batch.digest = digest
    return batch


# The attackers graded again as an ordinary user, in each mode that works without root
# (test_without_root.py): each reaches for what an unprivileged grader's sandbox must still hide.
AS_A_USER = ["reads_answers", "leaks_secrets", "writes_outside", "outlives_its_kernel",
             "edits_the_gradebook", "uses_pytorch_from_a_thread", "forks_many", "memory_bomb",
             "kills_everything"]


def small_class(folder: Path, sandbox: str, attackers=AS_A_USER) -> Batch:
    """The honest classmate, the perfect sample's chapter 01 and ``attackers``, graded two at a
    time on a local Dask cluster with ``sandbox`` ("on", a mode, or "off")."""
    submitted, grades = folder / "submitted", folder / "grades"
    for student in (HONEST, "perfect"):
        shutil.copytree(course.SAMPLE_SUBMISSIONS / student / CH01, submitted / student / CH01)
    add_attackers(submitted, grades, list(attackers))
    return grade_with_attackers(submitted, grades, sandbox=sandbox, jobs=2)


# platform_zip's students: their id there (the platform's numeric id stays part of it) -> the
# sample student whose chapter 01 they hand in, under the file name the platform gives it
ZIPPED = {"ada_12345": ("perfect", f"ada_12345_attempt_2026-11-20_{CH01}.ipynb"),
          "grace_67890": ("untouched", f"grace_67890_{CH01} (1).ipynb")}


def platform_zip(archive: Path) -> None:
    """A zip as a learning platform downloads it: two sample students' chapter 01 (ZIPPED),
    named the platform's way, and a file that is not a submission."""
    import zipfile

    with zipfile.ZipFile(archive, "w") as zipped:
        for sample, name in ZIPPED.values():
            zipped.write(course.SAMPLE_SUBMISSIONS / sample / CH01 / f"{CH01}.ipynb", name)
        zipped.writestr("readme.txt", "not a submission")


def read_rows(path: Path) -> list[dict]:
    """The rows of a CSV the grader writes (exercises.csv, grades.csv), as strings."""
    import csv

    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def graded_outputs(grades: Path, student: str, assignment: str = CH01) -> list:
    """Every output of the student's graded notebook (nbgrader's autograded copy), in order; none
    if nbgrader wrote no such notebook."""
    path = grades / "nbgrader" / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.exists():
        return []
    return [output for cell in nbformat.read(path, as_version=4).cells
            for output in cell.get("outputs", [])]


def printed(outputs: list) -> str:
    """What those outputs show as text: streams and the plain-text form of the rest."""
    return "\n".join(str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                     for output in outputs)


def save(batch: Batch, path: Path) -> None:
    path.write_text(json.dumps(asdict(batch), default=str))


def load(path: Path) -> Batch:
    data = json.loads(path.read_text())
    return Batch(**dict(data, submitted=Path(data["submitted"]), grades=Path(data["grades"]),
                        markers=[Path(marker) for marker in data["markers"]]))


def tree_digest(folder: Path) -> str:
    """A digest of every file's path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _copy_perfect_ch01(submitted: Path, student: str) -> None:
    shutil.copytree(course.SAMPLE_SUBMISSIONS / "perfect" / CH01, submitted / student / CH01)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _children(pid: int, deep: bool = True) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent(int(entry.name)) == pid:
            found.append(int(entry.name))
            found += _children(int(entry.name)) if deep else []
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _site_packages() -> Path:
    return next(Path(sys.prefix).glob("lib/python*/site-packages"))


def _markers() -> list[Path]:
    return [folder / f"{TAG}.txt" for folder in write_targets() if (folder / f"{TAG}.txt").exists()]


def _survivors() -> list[str]:
    found = subprocess.run(["pgrep", "-af", TAG], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def _cleanup() -> None:
    for marker in _markers():
        marker.unlink()
    subprocess.run(["pkill", "-KILL", "-f", TAG])


def catalog_score(spec: dict, row: dict) -> float:
    """The score samples.toml states for one exercises.csv row of the student ``spec`` describes."""
    baseline = float(row["max_score"]) if spec["expected"] == "full" else 0.0
    return float(spec.get("scores", {}).get(row["grade_id"], baseline))


def student_lines(report_text: str, student: str) -> str:
    """What report.md says about one student: their line and the lines under it."""
    lines, mine = report_text.splitlines(), []
    for line in lines:
        if line.startswith("- **"):
            if mine:
                break
            if line.startswith(f"- **{student}**:"):
                mine.append(line)
        elif mine:
            mine.append(line)
    assert mine, f"report.md has no line for {student}"
    return "\n".join(mine)


def without_the_sandbox(folder: Path) -> Batch:
    """The attacks that are safe to let through (SAFE_WITH_THE_SANDBOX_OFF), graded with the
    sandbox switched off, one notebook at a time."""
    submitted, grades = folder / "submitted", folder / "grades"
    add_attackers(submitted, grades, SAFE_WITH_THE_SANDBOX_OFF)
    return grade_with_attackers(submitted, grades, sandbox="off", jobs=1)


if __name__ == "__main__":
    # `python classroom.py FOLDER [--sandbox-off]`: the_class (or without_the_sandbox) graded in
    # a process of its own (conftest starts it), written to FOLDER/batch.json. Its own process
    # keeps the instructor's secret out of the tests' environment, and its output out of theirs.
    # `python classroom.py FOLDER --small MODE [ATTACKER,...]`: small_class (test_without_root).
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    if "--small" in sys.argv[2:]:
        mode, *chosen = sys.argv[sys.argv.index("--small") + 1:]
        attackers = chosen[0].split(",") if chosen else AS_A_USER
        made = small_class(folder, mode, [a for a in attackers if a in ATTACKS])
    elif "--sandbox-off" in sys.argv[2:]:
        made = without_the_sandbox(folder)
    else:
        made = the_class(folder)
    save(made, folder / "batch.json")


# --- grading as an ordinary user (test_without_root.py) -----------------------------------------

def ordinary_user(home: Path) -> tuple[str, int]:
    """A new ordinary user (no password, no groups) whose HOME is ``home``: (name, uid). Needs
    root; test_without_root removes it (userdel) when the session ends."""
    name = f"tconv{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell",
                    "/usr/sbin/nologin", "--user-group", name], check=True)
    uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True,
                             check=True).stdout)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, uid, uid)
    return name, uid


def as_user(uid: int, home: Path, argv: list) -> list[str]:
    """``argv`` run by the user ``uid``, as an instructor without root runs `make grade`: no
    capability, no root. The course's interpreter may live under a folder only root can pass
    (pyenv under /root, mode 700, on these machines): a private mount namespace shows the user
    that folder's interpreter tree alone, nothing else of root's HOME."""
    base = Path(sys.base_prefix)
    shown = ""
    if Path("/root") in base.parents:
        top = Path("/root") / base.relative_to("/root").parts[0]
        shown = (f'stash=$(mktemp -d); mount --bind {top} "$stash"; '
                 f'mount -t tmpfs -o mode=0755,size=1m tmpfs /root; mkdir -p {top}; '
                 f'mount --move "$stash" {top}; rmdir "$stash"; ')
    env = {"HOME": str(home), "USER": "grader", "LANG": "C.UTF-8",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "JUPYTER_CONFIG_PATH": str(course.AUTOGRADER), "MPLCONFIGDIR": str(home / "mpl"),
           "PYTHONWARNINGS": "ignore"}
    run = " ".join(f"{k}='{v}'" for k, v in env.items())
    command = " ".join(f"'{part}'" for part in argv)
    script = (f"set -e; {shown}exec setpriv --reuid={uid} --regid={uid} --init-groups "
              f"--inh-caps=-all --bounding-set=-all env -i {run} {command}")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def reachable_by_others() -> bool:
    """Whether an ordinary user can enter every folder above this checkout (root's own HOME
    aside, which as_user's mount namespace handles)."""
    for folder in [course.ROOT, *course.ROOT.parents]:
        if folder == Path("/root") or Path("/root") in folder.parents:
            continue
        if not folder.stat().st_mode & 0o001:
            return False
    return True
