"""The jail every piece of learner code runs in while a class is graded.

One ``Sandbox`` per student notebook, in one of three modes (``probe`` takes the strongest that
works here, and says what it does not protect):

- ``root``: bubblewrap's namespaces (mount, PID, network, IPC, UTS) and a random unprivileged uid
  of its own (``setpriv``), when grading runs as root;
- ``userns``: the same namespaces inside a user namespace bubblewrap makes for an ordinary user;
  the code keeps that user's uid, in a namespace of its own (RLIMIT_NPROC counts per user
  namespace since Linux 5.14, so each notebook has its own process budget);
- ``landlock``: no namespaces; Landlock alone limits what it can open, connect to and signal.

In each mode, ``confine.py`` applies limits, ``no_new_privs``, Landlock (where the kernel has
it) and the seccomp filter of ``syscalls.py`` just before the command runs. What runs inside (the
notebook's kernel, the re-check child, anything they start) sees a read-only view of the system,
the Python installation and only the installed packages it needs (``packages.py``), the course
package where the kernel needs it, and nothing else of the machine: not ``solutions/``, not the
gradebook, not the other students' files, not ``GRADES``, not the instructor's HOME. Its HOME
(TMPDIR inside it) is private and capped; its environment is cleared (``kernel_environment``);
its processes cannot leave their process group, and ``supervise.Watch`` ends the group when the
memory they hold together passes ``Limits.memory``. The kernel talks to nbgrader over Unix
sockets in a folder of its own (``KernelManager.transport = "ipc"``), where it can make sockets
and nothing else.

``Sandbox.off()`` gives the same interface with no jail at all: learner code then runs with the
grader's own rights (``make grade SANDBOX=off``, for trusted code). ``without`` switches single
defences off, for the tests that show each one matters.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import packages, supervise, syscalls

GiB = 1024 ** 3
MiB = 1024 ** 2

HOME = "/home/learner"
TMPDIR = f"{HOME}/tmp"


class SandboxUnavailable(RuntimeError):
    """The jail cannot be made on this machine; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What one student notebook may use. ``memory``: all its processes together (and each)."""
    memory: int = 2 * GiB
    processes: int = 64
    file_size: int = 64 * MiB
    open_files: int = 256
    scratch: int = 128 * MiB          # private HOME, and /tmp: each a tmpfs of this size
    wall_seconds: float = 600.0       # the whole notebook, on top of the per-cell time limit


# The modes, strongest first: ``probe`` takes the first that works here.
MODES = ("root", "userns", "landlock")
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
                "connected to",
    "off": "everything: a notebook can read the answers, your files and the other students' "
           "work, and change any grade: only for code you trust",
}


@dataclass(frozen=True)
class Sandbox:
    """How to run a command as learner code. ``folder`` is a private host folder made by the
    grader; ``packages``: the modules whose installed packages it may import (all others are
    absent, ``packages.py``); ``mode``: one of MODES, or "off"."""
    folder: Path
    limits: Limits = Limits()
    mode: str = "root"
    packages: tuple[str, ...] = packages.KERNEL
    uid: int = field(default_factory=lambda: 200_000 + secrets.randbelow(1_000_000_000))
    # Defences switched off, for the tests that show each one matters (never set by grading):
    # "seccomp", "landlock", "watch" (memory in total), "packages" (all installed packages
    # visible), "readonly-root".
    without: frozenset = frozenset()

    @classmethod
    def off(cls, folder: Path, limits: Limits = Limits()) -> "Sandbox":
        return cls(folder, limits, mode="off")

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def seeing(self, modules: tuple[str, ...]) -> "Sandbox":
        """The same sandbox, in which only the packages ``modules`` import can be imported."""
        return replace(self, packages=tuple(modules))

    # --- what is visible ----------------------------------------------------------------------
    def readable(self) -> list[Path]:
        """Host paths learner code may read (besides ``/usr``), at the same place inside."""
        import tconv

        paths = [Path(sys.base_prefix), Path(sys.prefix)]
        if "tconv" in self.packages:
            paths.append(Path(tconv.__file__).parent)
        paths += [Path(p) for p in ETC if os.path.exists(p)]
        return paths

    def environment(self, home: str, tmp: str, extra: dict | None) -> dict:
        return {"HOME": home, "TMPDIR": tmp, "IPYTHONDIR": f"{home}/.ipython",
                "MPLCONFIGDIR": f"{home}/.config/matplotlib", "USER": "learner",
                "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg",
                **(extra or {})}

    def command(self, argv: list[str], *, sockets: tuple[Path, ...] = (),
                environment: dict | None = None) -> list[str]:
        """``argv`` wrapped so that it runs inside the jail (or unchanged when it is off).
        ``sockets``: host folders where it may make Unix sockets (and nothing else)."""
        if not self.enabled:
            return list(argv)
        rlimits = {"as": self.limits.memory, "nproc": self.limits.processes,
                   "fsize": self.limits.file_size, "nofile": self.limits.open_files, "core": 0,
                   "msgqueue": 0}
        timeout = [_tool("timeout"), "--signal=KILL", f"{self.limits.wall_seconds:g}"]
        if self.mode == "landlock":
            return self._landlock(argv, rlimits, timeout, sockets, environment)
        spec = {"rlimits": rlimits, "landlock": "optional", "seccomp": str(SECCOMP_INSIDE),
                "read": ["/"], "write": [HOME, *DEVICES],
                "sockets": [str(p) for p in sockets]}
        spec = self._switched_off(spec)
        inner = [sys.executable, "-I", "-S", str(CONFINE_INSIDE), json.dumps(spec), "--"]
        if self.mode == "root":  # an unprivileged uid of its own: RLIMIT_NPROC counts per uid
            inner = [_tool("setpriv"), f"--reuid={self.uid}", f"--regid={self.uid}",
                     "--clear-groups", "--no-new-privs", "--inh-caps=-all",
                     "--bounding-set=-all", "--"] + inner
        return self._bwrap(sockets, environment) + ["--"] + inner + timeout + list(argv)

    def _bwrap(self, sockets, environment) -> list[str]:
        scratch = str(self.limits.scratch)
        bwrap = [_tool("bwrap"),
                 "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup-try", "--die-with-parent",
                 "--ro-bind", "/usr", "/usr",
                 "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                 "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
                 "--proc", "/proc", "--dev", "/dev",
                 "--perms", "0755", "--dir", "/home",
                 # 0777: the learner's uid (root mode) uses it: IPython's and matplotlib's
                 # folders. It is this sandbox's own tmpfs, seen by no other. TMPDIR is in it:
                 # /tmp is read-only, as the kernel's socket folder is made there on the host.
                 "--size", scratch, "--perms", "0777", "--tmpfs", HOME,
                 "--perms", "1777", "--dir", TMPDIR]
        if self.mode == "userns":
            bwrap.insert(1, "--unshare-user")
        made = {"/", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/proc", "/dev", "/home", HOME,
                TMPDIR}
        mounts = [(p, "--ro-bind") for p in self.readable() if not str(p).startswith("/usr/")]
        mounts += [(Path(p), "--bind") for p in sockets]
        for path, how in mounts:
            bwrap += _parents(path, made)
            bwrap += [how, str(path), str(path)]
        # The package folders, emptied; then only the entries learner code may import.
        hidden = [] if "packages" in self.without else [
            folder for folder in packages.site_folders()
            if any(folder == p or p in folder.parents for p in [Path("/usr"), *self.readable()])]
        for folder in hidden:
            bwrap += ["--size", "1048576", "--perms", "0755", "--tmpfs", str(folder)]
        for entry in packages.entries(self.packages) if hidden else ():
            bwrap += ["--ro-bind", str(entry), str(entry)]
        bwrap += _parents(CONFINE_INSIDE, made)
        bwrap += ["--ro-bind", str(CONFINE), str(CONFINE_INSIDE),
                  "--ro-bind", str(syscalls.program()), str(SECCOMP_INSIDE)]
        fontlist = matplotlib_fontlist()
        if "matplotlib" in self.packages and fontlist is not None and fontlist.exists():
            # no "building the font cache" note on stderr in every kernel (matplotlib takes
            # MPLCONFIGDIR only if it can write there; else it rebuilds the list, saying so)
            bwrap += ["--perms", "0755", "--dir", f"{HOME}/.config",
                      "--perms", "0777", "--dir", f"{HOME}/.config/matplotlib",
                      "--ro-bind", str(fontlist), f"{HOME}/.config/matplotlib/{fontlist.name}"]
        for folder in hidden:
            bwrap += ["--remount-ro", str(folder)]
        if "readonly-root" not in self.without:
            bwrap += ["--remount-ro", "/"]
        bwrap += ["--chdir", HOME, "--clearenv"]
        for name, value in self.environment(HOME, TMPDIR, environment).items():
            bwrap += ["--setenv", name, value]
        return bwrap

    def _landlock(self, argv, rlimits, timeout, sockets, environment) -> list[str]:
        """No namespaces: the same command under Landlock, seccomp and limits only. Its HOME and
        /tmp are folders of its own in ``folder``; it reads only what ``readable`` and
        ``packages`` name (the package folders can be listed, not read). RLIMIT_NPROC counts
        every task of the uid here, the grader's own threads too: the limit is what the uid runs
        now plus ``processes``."""
        rlimits = dict(rlimits, nproc=tasks_of(os.getuid()) + self.limits.processes)
        home, tmp = self.folder / "home", self.folder / "tmp"
        for path in (home, tmp, home / ".config" / "matplotlib"):
            path.mkdir(parents=True, exist_ok=True)
        fontlist = matplotlib_fontlist()
        if "matplotlib" in self.packages and fontlist is not None and fontlist.exists():
            shutil.copy(fontlist, home / ".config" / "matplotlib" / fontlist.name)
        sites = [] if "packages" in self.without else packages.site_folders()
        roots = [Path("/usr"), *self.readable(), *[Path(p) for p in PROC]]
        listed = list(sites)
        readable = _read_except(roots, sites, listed)
        readable += list(packages.entries(self.packages)) if sites else []
        spec = {"rlimits": rlimits, "landlock": "required", "seccomp": str(syscalls.program()),
                "read": [str(p) for p in readable], "list": [str(p) for p in listed],
                "write": [str(home), str(tmp), *DEVICES],
                "sockets": [str(p) for p in sockets], "chdir": str(home)}
        spec = self._switched_off(spec)
        return [sys.executable, "-I", "-S", str(CONFINE), json.dumps(spec), "--"] + timeout \
            + list(argv)

    def _switched_off(self, spec: dict) -> dict:
        if "seccomp" in self.without:
            spec.pop("seccomp")
        if "landlock" in self.without:
            spec["landlock"] = "off"
        return spec

    def host_environment(self, environment: dict | None = None) -> dict:
        """The environment the outermost process starts with."""
        if self.mode == "off":
            return {**_unsandboxed_env(), **(environment or {})}
        if self.mode == "landlock":
            return self.environment(str(self.folder / "home"), str(self.folder / "tmp"),
                                    environment)
        return {"PATH": "/usr/bin:/bin"}

    def watch(self, pgid: int, on_exceeded=None) -> supervise.Watch | None:
        """The memory watch of a sandbox whose processes are the group ``pgid``."""
        if not self.enabled or "watch" in self.without:
            return None

        def scratch(members):  # its tmpfs, seen through a process inside its mount namespace
            if self.mode == "landlock":
                return ()
            ours = os.readlink("/proc/self/ns/mnt")
            for pid in members:
                try:
                    if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                        return (Path(f"/proc/{pid}/root") / HOME.lstrip("/"),)
                except OSError:
                    continue
            return ()

        return supervise.Watch(pgid, self.limits.memory, scratch, on_exceeded)

    def run(self, argv: list[str], *, input_bytes: bytes = b"", timeout: float,
            output_cap: int = 16 * MiB, sockets: tuple[Path, ...] = ()) -> "Ran":
        """Run ``argv`` as learner code; its stdout (capped) is returned as data. Never raises
        for anything the command does; a run past ``timeout`` is killed with all it started."""
        command = self.command(argv, sockets=sockets)
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=self.host_environment(),
                                   cwd=self.folder, start_new_session=True)
        watch = self.watch(process.pid)
        try:
            out, _ = _communicate_capped(process, input_bytes, timeout, output_cap)
            return Ran(process.returncode, out, timed_out=False,
                       memory_exceeded=bool(watch and watch.exceeded))
        except subprocess.TimeoutExpired:
            return Ran(None, b"", timed_out=True)
        finally:
            _kill_group(process)  # whatever it left running
            if watch is not None:
                watch.stop()


ETC = ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime", "/etc/ssl/certs")
PROC = ("/proc/cpuinfo", "/proc/meminfo", "/proc/self", "/sys/devices/system/cpu")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random")
CONFINE = Path(__file__).with_name("confine.py")
CONFINE_INSIDE = Path("/run/tconv/confine.py")
SECCOMP_INSIDE = Path("/run/tconv/seccomp.bpf")


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


def _read_except(roots: list[Path], excluded: list[Path], listed: list[Path]) -> list[Path]:
    """Paths whose trees together hold everything under ``roots`` except the trees of
    ``excluded`` (Landlock allows by tree: a folder that holds an excluded one is split into
    its entries, and added to ``listed``: it can be listed, as Python's imports need)."""
    out = []
    for root in roots:
        inner = [e for e in excluded if root in e.parents]
        if any(root == e for e in excluded) or not root.exists():
            continue
        if not inner or not root.is_dir():
            out.append(root)
            continue
        try:  # a link is left out: Landlock would follow it, perhaps into an excluded tree
            children = sorted(c for c in root.iterdir() if not c.is_symlink())
        except OSError:
            continue
        listed.append(root)
        out += _read_except(children, inner, listed)
    return out


@dataclass(frozen=True)
class Ran:
    returncode: int | None
    stdout: bytes
    timed_out: bool
    memory_exceeded: bool = False


def _communicate_capped(process, input_bytes: bytes, timeout: float, cap: int):
    """communicate() that keeps at most ``cap`` bytes of stdout (the rest is read and dropped)."""
    import threading
    import time

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
        _kill_group(process)
    return b"".join(chunks), None


def remove_tree(path: Path) -> None:
    """Remove what a sandbox left in ``path``, whatever its depth (``shutil.rmtree`` recurses, and
    fails past Python's recursion limit) or its modes (a folder made unreadable by its owner)."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:  # not an OSError: ignore_errors lets it through
        pass
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+rwx", str(path)], capture_output=True)
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], capture_output=True)


def _kill_group(process) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.kill()
        process.wait(timeout=10)
    except Exception:  # noqa: BLE001 - already gone
        pass


def _parents(path: Path, made: set) -> list[str]:
    """bwrap options making each missing ancestor of ``path`` a world-readable directory (bwrap
    makes them 0700 otherwise, and the learner's uid could not pass through)."""
    options = []
    for parent in reversed(Path(path).parents):
        if str(parent) not in made:
            options += ["--perms", "0755", "--dir", str(parent)]
            made.add(str(parent))
    return options


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if found is None:
        raise SandboxUnavailable(f"`{name}` is not installed")
    return found


def _unsandboxed_env() -> dict:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


_FONTLIST: list = []


def matplotlib_fontlist() -> Path | None:
    """matplotlib's font list, built once by the grader (a trusted process) and shown read-only
    to every sandbox."""
    if not _FONTLIST:
        try:
            import matplotlib
            from matplotlib import font_manager  # noqa: F401 - builds the list if missing

            folder = Path(matplotlib.get_cachedir())
            found = sorted(folder.glob("fontlist-v*.json"))
            _FONTLIST.append(found[-1] if found else None)
        except Exception:  # noqa: BLE001 - without it, matplotlib only rebuilds it
            _FONTLIST.append(None)
    return _FONTLIST[0]


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


# --- the notebook's kernel, in the sandbox ----------------------------------------------------

def kernel_environment() -> dict:
    """What a notebook's kernel is told, besides the sandbox's own variables: that nbgrader is
    grading it (NBGRADER_EXECUTION, set by nbgrader while it runs the notebook: chapters 06 and
    07 then train for a few steps, and the course's pictures are not drawn), and the inline
    backend, so that the picture of a wrong answer reaches the feedback as a PNG."""
    environment = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    if os.environ.get("NBGRADER_EXECUTION") in ("autograde", "validate"):
        environment["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
    return environment


MEMORY_EXCEEDED = "memory-exceeded"


def kernel_manager_class():
    """A jupyter_client kernel manager whose kernels start inside a Sandbox. Defined on demand so
    that importing this module does not import jupyter_client."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Dict, Unicode

    class SandboxedKernelManager(AsyncKernelManager):
        """Configured per notebook through traitlets: ``folder`` (private, made by the grader),
        ``limits`` (Limits fields) and ``mode``. When the memory watch ends the kernel, it
        writes the file MEMORY_EXCEEDED beside ``folder`` (out of the sandbox's sight)."""
        folder = Unicode("", config=True)
        limits = Dict({}, config=True)
        mode = Unicode("root", config=True)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._watch = None
            self._group = None  # the kernel's process group: every process the sandbox started
            if self.mode != "off":
                # No network in the sandbox: the kernel's sockets are files in its own folder.
                self.transport = "ipc"
                self.ip = str(Path(self.folder) / "kernel")
                self.connection_file = str(Path(self.folder) / "kernel.json")

        def sandbox(self) -> Sandbox:
            return Sandbox(Path(self.folder), Limits(**self.limits), mode=self.mode)

        async def _async_pre_start_kernel(self, **kw):
            # Interrupt through the control channel: a signal would reach bwrap, not the kernel.
            self.kernel_spec.interrupt_mode = "message"
            return await super()._async_pre_start_kernel(**kw)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            sandbox = self.sandbox()
            if sandbox.enabled:  # written 0600 by this process; only this sandbox sees it
                os.chmod(self.connection_file, 0o644)
            command = sandbox.command(list(kernel_cmd), sockets=(Path(self.folder),),
                                      environment=kernel_environment())
            kw = dict(kw, cwd=self.folder, stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                      env=sandbox.host_environment(kernel_environment()))
            info = await super()._async_launch_kernel(command, **kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:  # started in a session, and so a group, of its own
                self._group = process.pid
                marker = Path(self.folder).parent / MEMORY_EXCEEDED  # beside, out of its sight
                self._watch = sandbox.watch(process.pid,
                                            lambda total: marker.write_text(str(total)))
            return info

        async def _async_cleanup_resources(self, restart: bool = False):
            self._end_group()
            return await super()._async_cleanup_resources(restart=restart)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False):
            try:  # (AsyncKernelManager binds this name to the base class's coroutine)
                return await super().shutdown_kernel(now=now, restart=restart)
            finally:  # the provisioner may be gone by the time resources are cleaned up
                self._end_group()

        def _end_group(self):
            if self._group is not None and self.mode != "off":
                supervise.end_group(self._group)
            if self._watch is not None:
                self._watch.stop()

    return SandboxedKernelManager
