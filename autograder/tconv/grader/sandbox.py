"""The jail every piece of learner code runs in while a class is graded.

One ``Sandbox`` per student notebook, in one of three modes (``probe.probe`` takes the strongest
that works here, and says what it does not protect):

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

Beside it: ``probe.py`` chooses the mode (and says what to do when none works),
``sandboxed_kernel.py`` starts a notebook's kernel in a ``Sandbox``, ``supervise.py`` watches and
ends a sandbox's processes.
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
    # visible), "readonly-root", "capabilities" (root's, in landlock mode graded by root).
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
        rlimits = dict(rlimits, nproc=supervise.tasks_of(os.getuid()) + self.limits.processes)
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
                "capabilities": "drop",  # graded by root: uid 0, which keeps none (confine.py)
                "read": [str(p) for p in readable], "list": [str(p) for p in listed],
                "write": [str(home), str(tmp), *DEVICES],
                "sockets": [str(p) for p in sockets], "chdir": str(home)}
        spec = self._switched_off(spec)
        return [sys.executable, "-I", "-S", str(CONFINE), json.dumps(spec), "--"] + timeout \
            + list(argv)

    def _switched_off(self, spec: dict) -> dict:
        if "capabilities" in self.without:
            spec.pop("capabilities", None)
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
            out, _ = supervise.communicate_capped(process, input_bytes, timeout, output_cap)
            return Ran(process.returncode, out, timed_out=False,
                       memory_exceeded=bool(watch and watch.exceeded))
        except subprocess.TimeoutExpired:
            return Ran(None, b"", timed_out=True)
        finally:
            supervise.kill_group(process)  # whatever it left running
            if watch is not None:
                watch.stop()


ETC = ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime", "/etc/ssl/certs")
PROC = ("/proc/cpuinfo", "/proc/meminfo", "/proc/self", "/sys/devices/system/cpu")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random")
CONFINE = Path(__file__).with_name("confine.py")
CONFINE_INSIDE = Path("/run/tconv/confine.py")
SECCOMP_INSIDE = Path("/run/tconv/seccomp.bpf")


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
