"""The seccomp filter every sandbox mode applies (``confine.py`` loads it, last, before the exec).

Built here, in the trusted grader, with libseccomp (through ``pyseccomp``, ctypes bindings with
the API of libseccomp's own Python module), and written once per process as a BPF program.
Everything is allowed except what learner code never needs and an attack would:

- making or entering namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag;
  ``clone3`` answers ENOSYS, so the C library falls back to ``clone``, whose flags are seen);
- mounting, ``chroot``, ``pivot_root``; ``ptrace`` and reading or writing another process's
  memory; ``bpf``, ``perf_event_open``, ``userfaultfd``; the kernel keyring; ``io_uring``;
  kernel modules, ``kexec``, ``reboot``, ``swapon``; file handles (``open_by_handle_at``);
- memory no process owns: ``memfd_create``, System V shared memory, POSIX message queues (what
  a sandbox holds must be memory its processes hold, which ``supervise.py`` counts);
- leaving the process group (``setsid``, ``setpgid``): every process a sandbox starts stays in
  the group the grader made, so the grader can find and end all of them;
- network sockets: IPv4, IPv6, raw packets (Unix sockets stay: the kernel talks over them);
- faking terminal input (``TIOCSTI``, ``TIOCLINUX``).

Each refusal is EPERM (ENOSYS for ``clone3``), so learner code gets an ordinary error.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

DENIED = ["unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
          "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
          "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
          "kcmp", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
          "io_uring_setup", "io_uring_enter", "io_uring_register",
          "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
          "reboot", "swapon", "swapoff", "open_by_handle_at", "name_to_handle_at",
          "memfd_create", "memfd_secret", "shmget", "mq_open",
          "setsid", "setpgid", "acct", "quotactl", "lookup_dcookie", "vhangup", "syslog"]
NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
NETWORK_FAMILIES = {"AF_INET": 2, "AF_INET6": 10, "AF_PACKET": 17}
TERMINAL_INJECTION = {"TIOCSTI": 0x5412, "TIOCLINUX": 0x541C}

_BUILT: dict[str, Path] = {}


def build():
    """The filter, as a libseccomp filter object."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            rules.add_rule(deny, name)
        except (RuntimeError, ValueError, OSError):
            pass  # a call this architecture does not have
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for flag in _bits(NAMESPACE_FLAGS):
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for family in NETWORK_FAMILIES.values():
        rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, family))
    for request in TERMINAL_INJECTION.values():
        rules.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
    return rules


def _bits(mask: int) -> list[int]:
    return [1 << n for n in range(32) if mask & (1 << n)]


def program() -> Path:
    """The compiled filter (BPF) in a file of this process's, readable by any sandbox."""
    if "path" not in _BUILT or not _BUILT["path"].exists():
        folder = Path(tempfile.mkdtemp(prefix="tconv-seccomp-"))
        folder.chmod(0o755)
        path = folder / "filter.bpf"
        with open(path, "wb") as file:
            build().export_bpf(file)
        path.chmod(0o444)
        _BUILT["path"] = path
    return _BUILT["path"]


def available() -> str | None:
    """None when a filter can be built here, else why not."""
    try:
        build()
    except Exception as error:  # noqa: BLE001 - libseccomp missing or too old: said, not raised
        return f"{type(error).__name__}: {error}"
    return None


if __name__ == "__main__":
    print(program(), os.path.getsize(program()))
