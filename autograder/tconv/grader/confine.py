"""The last step before learner code runs: limits, Landlock, seccomp, then exec.

    python -I -S confine.py SPEC_JSON -- COMMAND...

Standalone on purpose (standard library only, run with ``-I -S``): it runs inside every sandbox
mode (``sandbox.py``), after bubblewrap has made the namespaces where there are any, and as the
whole confinement where there are none. In order, and for good (every step is inherited and can
only be tightened by what runs after it):

1. resource limits (``rlimits``: name -> value, soft and hard);
2. ``capabilities: "drop"``, run by root (Landlock mode graded as root, which has no uid of its
   own to switch to, and no namespace to confine root's rights to): every capability, for good:
   the bounding set emptied, so that uid 0 gets none at the exec, and the current sets cleared
   (fail, exit 120, when they cannot be); then ``no_new_privs``;
3. Landlock, when ``landlock`` is not ``"off"``: outside ``read`` (read and execute), ``list``
   (list directories only: a package tree whose files stay unreadable), ``write`` (everything)
   and ``sockets`` (list, read, make Unix sockets, remove: the kernel's socket folder, where no
   regular file can be written), nothing of the file system can be opened; on ABI >= 4 no TCP
   bind or connect; on ABI >= 6 no signal to, and no abstract Unix socket of, anything outside.
   ``"required"``: fail (exit 120) when the kernel has no Landlock;
4. the seccomp filter in the file ``seccomp`` (a BPF program the grader built, ``seccomp.py``).

Nothing of this can be undone by the command: it is the kernel's word, not this file's.
"""

import ctypes
import json
import os
import resource
import struct
import sys

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 23, 24, 47, 4
CAPABILITY_VERSION_3 = 0x20080522

# Landlock's file-system rights (linux/landlock.h), and the ABI that brought each one.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
             5: (1 << 16) - 1}
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

RIGHTS = {"read": EXECUTE | READ_FILE | READ_DIR,
          "list": READ_DIR,
          "sockets": READ_FILE | READ_DIR | MAKE_SOCK | REMOVE_FILE}

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def fail(message: str, code: int = 120):
    sys.stderr.write(f"confine: {message}\n")
    sys.exit(code)


def landlock_abi() -> int:
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(abi, 0)


def landlock(spec: dict, abi: int) -> None:
    handled = FS_RIGHTS[min(abi, 5)]
    attr = struct.pack("QQQ", handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                       SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    buffer = ctypes.create_string_buffer(attr, 24)
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, buffer, ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        fail(f"landlock_create_ruleset failed ({os.strerror(ctypes.get_errno())})")
    for kind in ("read", "list", "write", "sockets"):
        for path in spec.get(kind, []):
            allowed = handled if kind == "write" else RIGHTS[kind] & handled
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # nothing there: nothing to allow
            if not os.path.isdir(path):
                allowed &= FILE_ONLY
            rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd), 12)
            done = libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, rule, 0)
            os.close(fd)
            if done < 0 and allowed:
                fail(f"landlock_add_rule {path!r} failed ({os.strerror(ctypes.get_errno())})")
    if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) < 0:
        fail(f"landlock_restrict_self failed ({os.strerror(ctypes.get_errno())})")
    os.close(ruleset)


def drop_capabilities() -> None:
    """Root keeps no capability across the exec: the bounding set emptied (uid 0's new sets are
    drawn from it), the ambient and inheritable ones cleared, then this process's own."""
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    cap = 0
    while (held := libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0:  # -1: past the last one
        if held == 1 and libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            fail(f"run as root, capability {cap} could not be dropped "
                 f"({os.strerror(ctypes.get_errno())}): grade as an ordinary user")
        cap += 1
    header = struct.pack("=Ii", CAPABILITY_VERSION_3, 0)
    if libc.capset(header, bytes(24)) != 0:  # effective, permitted, inheritable: all 0
        fail(f"run as root, its capabilities could not be cleared "
             f"({os.strerror(ctypes.get_errno())}): grade as an ordinary user")


def seccomp(program: bytes) -> None:
    count = len(program) // 8

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    fprog = SockFprog(count, program)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        fail(f"seccomp could not be applied ({os.strerror(ctypes.get_errno())})")


def main(argv: list) -> None:
    if len(argv) < 4 or argv[2] != "--":
        fail("usage: confine.py SPEC_JSON -- COMMAND...", 2)
    spec, command = json.loads(argv[1]), argv[3:]
    program = None
    if spec.get("seccomp"):  # read before Landlock closes the file system
        with open(spec["seccomp"], "rb") as file:
            program = file.read()
    for name, value in spec.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), (value, value))
    if spec.get("capabilities") == "drop" and os.geteuid() == 0:
        drop_capabilities()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("no_new_privs could not be set")
    if spec.get("landlock", "off") != "off":
        abi = landlock_abi()
        if abi:
            landlock(spec, abi)
        elif spec["landlock"] == "required":
            fail("this kernel has no Landlock (Linux 5.13 or later, with landlock in lsm=)")
    if program is not None:
        seccomp(program)
    if "chdir" in spec:
        os.chdir(spec["chdir"])
    try:
        os.execvp(command[0], command)
    except OSError as error:
        fail(f"cannot run {command[0]!r}: {error}", 127)


if __name__ == "__main__":
    main(sys.argv)
