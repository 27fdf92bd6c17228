"""A sandbox's processes, watched from outside and ended together; memory in total: what all of
one sandbox's processes hold.

``RLIMIT_AS`` bounds each process, not the sandbox: six children of 1.5 GB each hold 9 GB under
a 2 GB limit. Where the grader cannot have a cgroup (no root and no delegated cgroup v2 subtree,
as on this course's machines), a ``Watch`` does the cgroup's job: every 50 ms it adds up the
proportional set size (PSS: private memory whole, shared memory divided among its users) of
every process in the sandbox's process group, and the memory of its scratch file systems, and
ends the group with SIGKILL once the total passes the limit. A sandbox cannot leave its group:
``setsid`` and ``setpgid`` are refused by its seccomp filter (``syscalls.py``), and memory no
process holds (memfd, System V and POSIX shared memory) is refused too.

What it does not catch: growth faster than the limit's margin in 50 ms (a process can allocate
a few hundred MB in that time; ``RLIMIT_AS`` still bounds each process at ``memory``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

INTERVAL = 0.05


def group_members(pgid: int) -> list[int]:
    """The processes whose process group is ``pgid``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def memory_of(pid: int) -> int:
    """Bytes a process holds: its anonymous and shared-memory pages, proportionally (PSS)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as file:
            text = file.read()
    except OSError:
        return 0
    total = 0
    for line in text.splitlines():
        if line.startswith((b"Pss_Anon:", b"Pss_Shmem:")):
            total += int(line.split()[1]) * 1024
    return total


def used_space(path: Path) -> int:
    try:
        stat = os.statvfs(path)
    except OSError:
        return 0
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


class Watch:
    """Ends process group ``pgid`` when its memory, plus what ``scratch(members)`` (paths of file
    systems in memory, e.g. the sandbox's tmpfs seen through ``/proc/<member>/root``) hold,
    passes ``limit`` bytes.
    ``exceeded`` is the total seen when it did, else 0; ``on_exceeded(total)`` is called then,
    right after the group is ended. Stops by itself when the group is empty."""

    def __init__(self, pgid: int, limit: int, scratch=lambda members: (), on_exceeded=None):
        self.pgid, self.limit, self.scratch = pgid, limit, scratch
        self.on_exceeded = on_exceeded
        self.exceeded = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"memory-watch-{pgid}")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            members = group_members(self.pgid)
            if not members:
                return
            total = sum(memory_of(pid) for pid in members)
            total += sum(used_space(path) for path in self.scratch(members))
            self.peak = max(self.peak, total)
            if total > self.limit:
                self.exceeded = total
                end_group(self.pgid)
                if self.on_exceeded is not None:
                    self.on_exceeded(total)
                return
            self._stop.wait(INTERVAL)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def end_group(pgid: int) -> None:
    """SIGKILL to every process of the group (none of which can have left it)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(process) -> None:
    """SIGKILL to the group of ``process`` (started in a session of its own), then to it."""
    end_group(process.pid)
    try:
        process.kill()
        process.wait(timeout=10)
    except Exception:  # noqa: BLE001 - already gone
        pass


def tasks_of(uid: int) -> int:
    """How many tasks (threads) the user ``uid`` runs now, as RLIMIT_NPROC counts them."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def communicate_capped(process, input_bytes: bytes, timeout: float, cap: int):
    """communicate() that keeps at most ``cap`` bytes of stdout (the rest is read and dropped)."""
    chunks, size = [], 0

    def reader():
        nonlocal size
        while True:
            block = process.stdout.read(65536)
            if not block:
                return
            if size < cap:
                chunks.append(block[:cap - size])
            size += len(block)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        process.stdin.write(input_bytes)
        process.stdin.close()
    except BrokenPipeError:
        pass
    deadline = time.monotonic() + timeout
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise
    thread.join(timeout=max(0.1, deadline - time.monotonic()))
    if thread.is_alive():  # something still holds the pipe: it is not waited for
        kill_group(process)
    return b"".join(chunks), None

