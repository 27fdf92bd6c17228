"""The jail every piece of learner code runs in while a class is graded.

One ``Sandbox`` per student notebook. What runs inside (the notebook's kernel, the re-check child,
anything they start) sees:

- a read-only view of the system's ``/usr``, the Python installation, the venv and the course
  package ``tconv``, and nothing else of the machine: not ``solutions/``, not the gradebook, not
  the other students' files, not ``GRADES``, not the instructor's HOME;
- a private, empty, size-capped HOME (also TMPDIR and IPYTHONDIR) and ``/tmp``;
- its own PID namespace (it sees and signals nothing outside; when the kernel ends, every process
  it started ends with it), no network (its own empty network namespace), its own IPC and UTS;
- a clean environment (nothing of the instructor's variables; a kernel is told only that it is
  graded and to draw inline: ``kernel_environment``);
- an unprivileged uid of its own (even when grading runs as root), no capabilities,
  ``no_new_privs``;
- limits: address space (``memory``), processes, file size, open files, and a wall-clock budget.

It is made of Linux namespaces through bubblewrap (``bwrap``), plus ``prlimit`` and ``setpriv``
from util-linux; ``make grade`` installs bubblewrap with apt-get when it can. The kernel talks to
nbgrader over Unix sockets in a folder of its own (``KernelManager.transport = "ipc"``), so it
needs no network. That folder has a random name no other sandbox can see or guess.

``Sandbox.off()`` gives the same interface with no jail at all: learner code then runs with the
grader's own rights. It exists for machines without namespaces and for the tests that show each
defence matters; ``make grade`` uses it only when told ``SANDBOX=off``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

GiB = 1024 ** 3
MiB = 1024 ** 2

HOME = "/home/learner"


class SandboxUnavailable(RuntimeError):
    """The jail cannot be made on this machine; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What one student notebook may use. ``memory`` caps the address space of each process."""
    memory: int = 2 * GiB
    processes: int = 64
    file_size: int = 64 * MiB
    open_files: int = 256
    scratch: int = 256 * MiB          # private HOME + /tmp, a tmpfs
    wall_seconds: float = 600.0       # the whole notebook, on top of the per-cell time limit


@dataclass(frozen=True)
class Sandbox:
    """How to run a command as learner code. ``folder`` is a private host folder made by the
    grader (sockets, the connection file); ``hidden`` are paths masked by an empty directory
    (e.g. PyTorch and the course's answers, for the re-check of chapters 01-05)."""
    folder: Path
    limits: Limits = Limits()
    hidden: tuple[Path, ...] = ()
    enabled: bool = True
    uid: int = field(default_factory=lambda: 200_000 + secrets.randbelow(1_000_000_000))

    @classmethod
    def off(cls, folder: Path, limits: Limits = Limits()) -> "Sandbox":
        return cls(folder, limits, enabled=False)

    def hiding(self, *paths: Path) -> "Sandbox":
        return replace(self, hidden=tuple(self.hidden) + tuple(Path(p) for p in paths))

    # --- what is visible ----------------------------------------------------------------------
    def readable(self) -> list[Path]:
        """Host paths bound read-only at the same place inside."""
        import tconv

        paths = [Path(sys.base_prefix), Path(sys.prefix), Path(tconv.__file__).parent]
        for extra in ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime", "/etc/ssl/certs"):
            if os.path.exists(extra):
                paths.append(Path(extra))
        return paths

    def command(self, argv: list[str], *, writable: tuple[Path, ...] = (),
                environment: dict | None = None) -> list[str]:
        """``argv`` wrapped so that it runs inside the jail (or unchanged when it is off)."""
        if not self.enabled:
            return list(argv)
        limits = self.limits
        bwrap = [_tool("bwrap"),
                 "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup-try", "--die-with-parent",
                 "--ro-bind", "/usr", "/usr",
                 "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                 "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
                 "--proc", "/proc", "--dev", "/dev",
                 "--size", str(limits.scratch), "--perms", "1777", "--tmpfs", "/tmp",
                 "--perms", "0755", "--dir", "/home",
                 # bwrap makes it as root: 0777 lets the learner's uid use it (IPython's and
                 # matplotlib's folders). It is this sandbox's own tmpfs, seen by no other.
                 "--size", str(limits.scratch), "--perms", "0777", "--tmpfs", HOME]
        made = {"/", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/proc", "/dev", "/tmp",
                "/home", HOME}
        mounts = [(p, "--ro-bind") for p in self.readable() if not str(p).startswith("/usr/")]
        mounts += [(Path(p), "--bind") for p in writable]
        for path, how in mounts:
            bwrap += _parents(path, made)
            bwrap += [how, str(path), str(path)]
        for path in self.hidden:  # a package whose import fails, saying it is hidden
            blocker = self.folder / "hidden" / Path(path).name
            blocker.mkdir(parents=True, exist_ok=True)
            (blocker / "__init__.py").write_text(
                f"raise ModuleNotFoundError(\"No module named '{Path(path).name}' (it is hidden "
                f"while answers are re-checked)\", name={Path(path).name!r})\n")
            bwrap += ["--ro-bind", str(blocker), str(path)]
        env = {"HOME": HOME, "TMPDIR": "/tmp", "IPYTHONDIR": f"{HOME}/.ipython",
               "MPLCONFIGDIR": f"{HOME}/.config/matplotlib", "USER": "learner",
               "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg",
               **(environment or {})}
        fontlist = matplotlib_fontlist()
        if fontlist is not None and fontlist.exists():  # no "building the font cache" note on
            # stderr in every kernel; a font list removed since it was found is only rebuilt
            # (matplotlib takes MPLCONFIGDIR only if it can write there; else it makes a
            # temporary one, without the list, and rebuilds it, saying so on stderr)
            bwrap += ["--perms", "0755", "--dir", f"{HOME}/.config",
                      "--perms", "0777", "--dir", f"{HOME}/.config/matplotlib",
                      "--ro-bind", str(fontlist), f"{HOME}/.config/matplotlib/{fontlist.name}"]
        bwrap += ["--chdir", HOME, "--clearenv"]
        for name, value in env.items():
            bwrap += ["--setenv", name, value]
        # Limits are set while still root, then the uid is dropped for good. RLIMIT_NPROC counts
        # the processes of a uid, so every sandbox has a uid of its own.
        inner = [_tool("prlimit"), f"--as={limits.memory}", f"--nproc={limits.processes}",
                 f"--fsize={limits.file_size}", f"--nofile={limits.open_files}", "--core=0",
                 "--",
                 _tool("setpriv"), f"--reuid={self.uid}", f"--regid={self.uid}",
                 "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all",
                 "--",
                 _tool("timeout"), "--signal=KILL", f"{limits.wall_seconds:g}"]
        return bwrap + ["--"] + inner + list(argv)

    def run(self, argv: list[str], *, input_bytes: bytes = b"", timeout: float,
            output_cap: int = 16 * MiB, writable: tuple[Path, ...] = ()) -> "Ran":
        """Run ``argv`` as learner code; its stdout (capped) is returned as data. Never raises
        for anything the command does; a run past ``timeout`` is killed with all it started."""
        command = self.command(argv, writable=writable)
        env = None if self.enabled else _unsandboxed_env()
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=env, cwd=self.folder,
                                   start_new_session=True)
        try:
            out, _ = _communicate_capped(process, input_bytes, timeout, output_cap)
            return Ran(process.returncode, out, timed_out=False)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return Ran(None, b"", timed_out=True)


@dataclass(frozen=True)
class Ran:
    returncode: int | None
    stdout: bytes
    timed_out: bool


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
        raise SandboxUnavailable(f"`{name}` is not installed. {HOW_TO_GET_IT}")
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


HOW_TO_GET_IT = ("Grading runs every student's code in a sandbox made with bubblewrap: install it "
                 "(`sudo apt-get install bubblewrap`, or `make grade` as root does it for you), "
                 "or, on a machine where learner code may run with your rights, grade with "
                 "SANDBOX=off (README: 'What the grader protects against').")


def probe(folder: Path) -> None:
    """Raise SandboxUnavailable, saying why and what to do, unless a sandboxed command works."""
    folder.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(folder)
    try:
        ran = sandbox.run([sys.executable, "-c", "import os; print(os.getuid())"], timeout=60)
    except OSError as error:
        raise SandboxUnavailable(f"the sandbox could not start ({error}). {HOW_TO_GET_IT}") \
            from None
    if ran.returncode != 0 or ran.stdout.strip() != str(sandbox.uid).encode():
        detail = subprocess.run(sandbox.command(["true"]), capture_output=True, text=True,
                                timeout=60).stderr.strip()[:400]
        raise SandboxUnavailable(
            f"the sandbox could not be made on this machine ({detail or 'no output'}). It needs "
            f"Linux namespaces (user, mount, pid, net) and permission to switch user ids, e.g. "
            f"grading as root or with unprivileged user namespaces enabled. {HOW_TO_GET_IT}")


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


def kernel_manager_class():
    """A jupyter_client kernel manager whose kernels start inside a Sandbox. Defined on demand so
    that importing this module does not import jupyter_client."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Bool, Dict, Unicode

    class SandboxedKernelManager(AsyncKernelManager):
        """Configured per notebook through traitlets: ``folder`` (private, made by the grader),
        ``limits`` (Limits fields) and ``enabled``."""
        folder = Unicode("", config=True)
        limits = Dict({}, config=True)
        enabled = Bool(True, config=True)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if self.enabled:
                # No network in the sandbox: the kernel's sockets are files in its own folder.
                self.transport = "ipc"
                self.ip = str(Path(self.folder) / "kernel")
                self.connection_file = str(Path(self.folder) / "kernel.json")

        async def _async_pre_start_kernel(self, **kw):
            # Interrupt through the control channel: a signal would reach bwrap, not the kernel.
            self.kernel_spec.interrupt_mode = "message"
            return await super()._async_pre_start_kernel(**kw)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            sandbox = Sandbox(Path(self.folder), Limits(**self.limits), enabled=self.enabled)
            if self.enabled:  # written 0600 by this (root) process; only this sandbox sees it
                os.chmod(self.connection_file, 0o644)
            command = sandbox.command(list(kernel_cmd), writable=(Path(self.folder),),
                                      environment=kernel_environment())
            kw = dict(kw, cwd=self.folder, stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.enabled:
                kw["env"] = {"PATH": "/usr/bin:/bin"}
            else:
                kw["env"] = {**_unsandboxed_env(), **kernel_environment()}
            return await super()._async_launch_kernel(command, **kw)

    return SandboxedKernelManager
