"""Where `make test`'s time goes: runs a command (by default `make test`) and, every half second,
reads the CPU time of every process on the machine from /proc; each process is counted under
the nearest of its ancestors (itself included) that names a piece of the run, as first seen.
Prints the wall time, the CPU seconds of each piece, when each piece first and last used the CPU
(what waits on what), how many cores the run kept busy minute by minute, and how fast this
machine is right now (a fixed Python loop, before the command starts), since shared machines
vary about twofold.

    python3 autograder/benchmarks/bench_make_test.py [-- COMMAND ...]

From a fresh clone, as CI runs it (this script needs only the standard library):

    d=$(mktemp -d) && git clone -q . "$d" && cd "$d" && \\
        python3 autograder/benchmarks/bench_make_test.py -- env CI=true bash .ci/run

Linux only. Processes orphaned before they are first seen are counted as "unattributed"; a process
that lives less than half a second may be missed. Everything else on the machine shows up too
(as "outside the run", when it is not a descendant of the command).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter

TICK = os.sysconf("SC_CLK_TCK")
# (piece, pattern of a process's command line), the first that matches wins
PIECES = [
    ("class batch (classroom.py, on Dask)", r"classroom\.py \S+/class\b"),
    ("batch with the sandbox off", r"classroom\.py .*--sandbox-off"),
    ("make publish (recording kernels)", r"tconv\.grader\.publish"),
    ("learners' venv", r"course_env\.py install --venv \S*background\S*/venv"),
    ("Binder's postBuild", r"binder/postBuild"),
    ("zip graded from the command line", r"tconv\.grader\.grading --submitted \S+\.zip"),
    ("browser (Chromium)", r"chrom"),
    ("JupyterLab servers", r"jupyter[-_ ]lab|jupyter_server|jupyter-server"),
    ("setup: the venv", r"course_env\.py install --venv \.venv"),
    ("setup: apt-get", r"apt-get|dpkg|/usr/lib/apt"),
    ("pytest's second lane (tests that wait for nothing)", r"-m pytest .*--lane=others"),
    ("pytest (its own tests and their kernels)", r"-m pytest"),
]


OUTSIDE = {"outside the run", "unattributed"}


def speed() -> float:
    """Seconds for a fixed loop of 30 million additions (about 2.4 s in a fast hour here)."""
    started, total = time.perf_counter(), 0
    for i in range(30_000_000):
        total += i
    return time.perf_counter() - started


def _stat(pid: int):
    with open(f"/proc/{pid}/stat") as file:
        text = file.read()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), fields[19]  # ppid, ticks, start


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Sampler:
    def __init__(self, root: int):
        self.root = root
        # pid -> [start, piece, ticks at first sight, ticks now, command line]
        self.seen: dict[int, list] = {}
        self.gone: list[list] = []
        self.began = time.perf_counter()
        self.active: dict[str, list[float]] = {}  # piece -> [first, last] second it used the CPU
        self.minutes: Counter = Counter()  # minute of the run -> CPU ticks of the run in it

    def piece(self, pid: int) -> str:
        """The piece named by the nearest of its ancestors (itself included) below the command;
        "outside the run" when the command is not among its ancestors."""
        chain: list[int] = []
        while True:
            if pid == self.root:
                return self._named(chain) or "the command itself (make, and what waits)"
            known = self.seen.get(pid) if chain else None  # an ancestor decided before
            if known is not None:
                return known[1] if known[1] in OUTSIDE else self._named(chain) or known[1]
            chain.append(pid)
            try:
                pid = _stat(pid)[0]
            except OSError:
                return "unattributed"
            if pid <= 1:
                return "outside the run"

    @staticmethod
    def _named(chain: list[int]) -> str | None:
        for pid in chain:
            line = _cmdline(pid)
            if line.split(" ", 1)[0].endswith("bwrap"):  # a sandbox names the packages it shows
                continue
            for name, pattern in PIECES:
                if re.search(pattern, line):
                    return name
        return None

    def sample(self, first: bool) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                _, ticks, start = _stat(pid)
            except OSError:
                continue
            record = self.seen.get(pid)
            if record is None or record[0] != start:
                if record is not None:
                    self.gone.append(record)
                record = self.seen[pid] = [start, self.piece(pid), ticks if first else 0,
                                           ticks if first else 0, _cmdline(pid)]
            if ticks > record[3]:
                now = time.perf_counter() - self.began
                self.active.setdefault(record[1], [now, now])[1] = now
                if record[1] not in OUTSIDE:
                    self.minutes[int(now // 60)] += ticks - record[3]
            record[3] = ticks

    def totals(self) -> Counter:
        seconds = Counter()
        for _, piece, before, now, _ in [*self.gone, *self.seen.values()]:
            seconds[piece] += (now - before) / TICK
        return seconds

    def hungriest(self, piece: str, count: int = 3) -> list[tuple[float, str]]:
        """The piece's ``count`` processes that used the most CPU: (seconds, command line)."""
        found = [((now - before) / TICK, line) for _, name, before, now, line
                 in [*self.gone, *self.seen.values()] if name == piece]
        return sorted(found, reverse=True)[:count]


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else ["make", "test"]
    loop = speed()
    started = time.perf_counter()
    process = subprocess.Popen(command)
    sampler = Sampler(process.pid)
    sampler.sample(first=True)
    while process.poll() is None:
        time.sleep(0.5)
        sampler.sample(first=False)
    wall = time.perf_counter() - started
    seconds = sampler.totals()
    seconds.pop("outside the run", None)
    print(f"\n{' '.join(command)}: exit {process.returncode}, {wall:.0f} s wall "
          f"({wall / 60:.1f} min); machine speed: the fixed loop took {loop:.2f} s")
    total = sum(seconds.values())
    print(f"CPU: {total:.0f} core-seconds, {total / wall:.2f} cores busy on average")
    print("   core-s  share   busy from - to (s after the start)")
    for piece, value in seconds.most_common():
        first, last = sampler.active.get(piece, (0.0, 0.0))
        print(f"  {value:7.0f} s  {100 * value / total:4.1f}%  {first:5.0f} - {last:5.0f}  {piece}")
        if value >= 0.05 * total:  # where a large piece's time goes
            for seconds_, line in sampler.hungriest(piece):
                print(f"  {'':24} {seconds_:5.0f} s  {' '.join(line.split())[:110]}")
    # how busy the run kept the machine, minute by minute (an idle core is time to be won)
    print("cores busy, minute by minute: " + "  ".join(
        f"{minute}:{sampler.minutes[minute] / TICK / 60:.1f}" for minute in range(int(wall // 60) + 1)))
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
