"""Which sandbox mode works on this machine: ``probe`` tries the modes strongest first, and when
none works, says why each failed and what to do about it (``advice``, from bubblewrap's words).
``Probed.line()`` is the one line ``make grade`` prints and writes at the top of ``report.md``:
the mode, and what it does not protect.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import packages, syscalls
from .sandbox import MODES, Sandbox, SandboxUnavailable

DESCRIPTION = {
    "root": "bubblewrap namespaces, run as root: an unprivileged uid of its own per notebook",
    "userns": "bubblewrap in a user namespace (no root needed): your uid, inside namespaces",
    "landlock": "Landlock + seccomp + limits (no namespaces available)",
    "off": "NO SANDBOX: learner code runs with your rights",
}
NOT_PROTECTED = {
    "root": "CPU is shared, not divided; reading the course package and the venv inside "
            "the kernel (the re-check cannot reach them)",
    "userns": "as in root mode; and the notebook's processes run under your uid (in their own "
              "user namespace, which cannot reach your files or processes)",
    "landlock": "the process list of this machine is visible; HOME and /tmp of a notebook are on "
                "the host's disk (64 MB a file, no total); its process limit is what your uid runs "
                "at its start plus 64; Unix sockets at paths outside the sandbox can be "
                "connected to; before Linux 6.12, signals reach your other processes (graded "
                "by root: every process)",
    "off": "everything: a notebook can read the answers, your files and the other students' "
           "work, and change any grade: only for code you trust",
}



# What to do, by what bubblewrap said when it could not make the namespaces.
FIXES = [
    ("No permissions to create new namespace",
     "unprivileged user namespaces are switched off on this machine. On Debian or Ubuntu, an "
     "administrator can switch them on (`sudo sysctl kernel.unprivileged_userns_clone=1`); in a "
     "Docker container, run it with `--security-opt seccomp=unconfined` (or a profile that "
     "allows clone/unshare); in Kubernetes, give the pod `hostUsers: false`"),
    ("setting up uid map: Permission denied",
     "Ubuntu 23.10 and later allow user namespaces only to programs with an AppArmor profile: "
     "an administrator installs bubblewrap's once (`sudo apt-get install apparmor-profiles`, "
     "then `sudo ln -s /usr/share/apparmor/extra-profiles/bwrap-userns-restrict "
     "/etc/apparmor.d/ && sudo systemctl reload apparmor`)"),
    ("loopback: Failed RTM_NEWADDR",
     "Ubuntu 23.10 and later allow user namespaces only to programs with an AppArmor profile: "
     "an administrator installs bubblewrap's once (docs/grading.md, 'Grading without root')"),
    ("Creating new namespace failed: Operation not permitted",
     "this machine or container refuses new namespaces (a seccomp profile such as Docker's "
     "default): in Docker, run with `--security-opt seccomp=unconfined` (or a profile that "
     "allows clone/unshare); in Kubernetes, give the pod `hostUsers: false`"),
    ("max_", "the machine allows no more user namespaces (`/proc/sys/user/max_user_namespaces` "
             "is 0, or nesting is too deep): an administrator sets "
             "`sudo sysctl user.max_user_namespaces=15000`; in Kubernetes, `hostUsers: false`"),
    ("Can't mount proc",
     "this container hides /proc from new namespaces: run it with `--security-opt "
     "systempaths=unconfined` (Docker), or `procMount: Unmasked` with `hostUsers: false` "
     "(Kubernetes)"),
    ("is not installed",
     "install bubblewrap (`sudo apt-get install bubblewrap`; `make grade` as root does it)"),
]
NO_SANDBOX = ("Or grade in a virtual machine or container where you are root, or, only for code "
              "you trust, with SANDBOX=off (docs/grading.md, 'Grading without root').")


@dataclass(frozen=True)
class Probed:
    """The mode ``probe`` chose, and why each stronger one was passed over."""
    mode: str
    passed_over: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        """What ``make grade`` prints: the mode, and what it does not protect."""
        text = f"sandbox: {self.mode} ({DESCRIPTION[self.mode]}). Not protected: " \
               f"{NOT_PROTECTED[self.mode]}."
        if self.passed_over:
            text += " Stronger modes unavailable: " + "; ".join(
                f"{mode}: {reason}" for mode, reason in self.passed_over) + "."
        return text


def try_mode(mode: str, folder: Path) -> str | None:
    """None if learner code runs in ``mode`` here, else why not (the tool's own words)."""
    if mode == "root" and os.geteuid() != 0:
        return "needs root"
    if mode == "landlock":
        problem = syscalls.available()
        if problem:
            return f"no seccomp filter could be built ({problem})"
    folder.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(folder / mode, mode=mode, packages=packages.RECHECK)
    sandbox.folder.mkdir(exist_ok=True)
    try:
        argv = sandbox.command([sys.executable, "-c", "import os, numpy; print(os.getuid())"])
    except SandboxUnavailable as missing:
        return str(missing)
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                         env=sandbox.host_environment(), cwd=sandbox.folder)
    expected = str(sandbox.uid) if mode == "root" else str(os.getuid())
    if ran.returncode == 0 and ran.stdout.strip() == expected:
        return None
    return (ran.stderr.strip().splitlines() or [f"exit code {ran.returncode}, no message"])[-1]


def probe(folder: Path, wanted: str = "on") -> Probed:
    """The strongest mode that works here (``wanted="on"``), or the one asked for; raise
    SandboxUnavailable with each reason and what to do, when there is none."""
    if wanted == "off":
        return Probed("off")
    candidates = MODES if wanted == "on" else (wanted,)
    passed_over = []
    for mode in candidates:
        reason = try_mode(mode, folder)
        if reason is None:
            return Probed(mode, tuple(passed_over))
        passed_over.append((mode, reason))
    reasons = "; ".join(f"{mode}: {reason}" for mode, reason in passed_over)
    raise SandboxUnavailable(
        f"the sandbox could not be made on this machine ({reasons}). {advice(reasons)}")


def advice(reasons: str) -> str:
    """What to do, for the tools' messages in ``reasons``, then the ways that always exist."""
    fixes = dict.fromkeys(fix for needle, fix in FIXES if needle in reasons)
    return "".join(f"{fix[0].upper()}{fix[1:]}. " for fix in fixes) + NO_SANDBOX
