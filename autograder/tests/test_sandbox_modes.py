"""Each sandbox mode, attacked one defence at a time, without grading anything: learner code run
through ``Sandbox.run`` as the re-check runs it. Every attack fails in every mode that should stop
it, and succeeds with exactly that defence switched off (``Sandbox.without``), which shows the
defence is what stops it. Then the probe: which mode it takes where namespaces are refused (as in
a Docker container's default seccomp profile), and its refusal where nothing works.

Grading whole notebooks in each mode as an ordinary user: test_without_root.py.
"""

from __future__ import annotations

import json
import shutil
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tconv.grader import course, packages, probe, sandbox

pytestmark = pytest.mark.slow  # every test makes sandboxes

MODES = [mode for mode in sandbox.MODES if mode != "root" or os.geteuid() == 0]
ESCAPED = "ESCAPED"

# attack -> (the code, the defence (or defences) that stop it, the modes where it applies)
ATTACKS = {
    "nested user namespace": (
        "import subprocess\n"
        "if subprocess.run(['unshare', '-Ur', 'true']).returncode == 0: print('ESCAPED')",
        # Landlock: no write to /proc/self/uid_map either; graded by root, no capability either
        ("seccomp", "landlock", "capabilities"), MODES),
    "network socket": (
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)\nprint('ESCAPED')",
        "seccomp", MODES),
    "memory no process holds (memfd)": (
        "import os\nos.memfd_create('x')\nprint('ESCAPED')", "seccomp", MODES),
    "leaving the process group": ("import os\nos.setsid()\nprint('ESCAPED')", "seccomp", MODES),
    "a package the exercise does not need": (
        "import pip\nprint('ESCAPED')", "packages", MODES),
    "writing into the sandbox's root": (
        "import pathlib\npathlib.Path('/run/tconv/written').write_text('x' * 1000)\n"
        "print('ESCAPED')", ("readonly-root", "landlock"), ["userns"]),
    "reading the answers": (
        f"print(open({str(course.SOLUTIONS / '01_scatter_add_1d' / '01_scatter_add_1d.ipynb')!r})"
        ".read()[:10]); print('ESCAPED')", "landlock", ["landlock"]),
    # Landlock mode graded by root has no uid of its own to switch to: the code runs as uid 0,
    # which kept every capability (setting the clock, renicing any process, raw I/O ports)
    "root's capabilities (landlock mode, graded by root)": (
        textwrap.dedent("""
        import ctypes, struct
        sets = ctypes.create_string_buffer(24)  # capget, version 3: effective, permitted, ... x 2
        ctypes.CDLL(None).capget(struct.pack("=Ii", 0x20080522, 0), sets)
        effective = struct.unpack("=6I", sets.raw)[0::3]
        if any(effective): print('ESCAPED', effective)
        """), "capabilities", ["landlock"] if os.geteuid() == 0 else []),
    "memory in total (four processes of 700 MB)": (
        textwrap.dedent("""
        import os, time
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                block = bytearray(700 * 1024 ** 2)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(3)
                os._exit(0)
            children.append(pid)
        codes = [os.waitpid(pid, 0)[1] for pid in children]
        if all(code == 0 for code in codes): print('ESCAPED')
        """), "watch", MODES),
}
BASE_SITE = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" \
    / "site-packages"


def _run(mode: str, code: str, tmp_path: Path, without=frozenset(), arguments=(), **options):
    folder = tmp_path / f"{mode}-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    limits = sandbox.Limits(memory=1536 * sandbox.MiB)
    box = sandbox.Sandbox(folder, limits, mode=mode, packages=packages.RECHECK,
                          without=frozenset(without))
    return box.run([sys.executable, "-c", code, *arguments], timeout=120, **options)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_fails_and_succeeds_without_its_defence(attack, mode, tmp_path):
    code, defence, modes = ATTACKS[attack]
    if mode not in modes:
        pytest.skip(f"{attack}: not a path in {mode} mode")
    stopped = _run(mode, code, tmp_path)
    assert ESCAPED not in stopped.stdout.decode(), f"{attack} got through in {mode} mode"
    switched_off = {defence} if isinstance(defence, str) else set(defence)
    through = _run(mode, code, tmp_path, without=switched_off)
    assert ESCAPED in through.stdout.decode(), \
        f"{attack} did not get through in {mode} mode even without {defence}"


@pytest.mark.parametrize("mode", MODES)
def test_the_recheck_cannot_import_the_base_interpreters_packages(mode, tmp_path):
    """On these machines SciPy (scipy.signal.upfirdn: a ready-made transposed convolution) is in
    the base interpreter's site-packages, which a child could put on its path."""
    found = sorted(p.name for p in BASE_SITE.glob("*") if p.is_dir()
                   and (p / "__init__.py").exists())
    if not found:
        pytest.skip(f"{BASE_SITE} holds no package")
    code = (f"import sys\nsys.path.append({str(BASE_SITE)!r})\nimport {found[0]}\n"
            f"print('ESCAPED')")
    assert ESCAPED not in _run(mode, code, tmp_path).stdout.decode()
    assert ESCAPED in _run(mode, code, tmp_path, without={"packages"}).stdout.decode()


@pytest.mark.parametrize("mode", MODES)
def test_the_kernels_socket_folder_takes_sockets_and_no_file(mode, tmp_path):
    """The one host folder a kernel can write to: Unix sockets only (Landlock), so nothing a
    student writes lands on the host's disk."""
    if not _landlock_abi():
        pytest.skip("no Landlock in this kernel")
    sockets = tmp_path / f"sockets-{mode}"
    sockets.mkdir(mode=0o777)
    sockets.chmod(0o777)
    code = textwrap.dedent(f"""
        import socket, sys
        s = socket.socket(socket.AF_UNIX); s.bind({str(sockets)!r} + '/kernel-' + sys.argv[1])
        print('SOCKET')
        open({str(sockets / 'big')!r}, 'w').write('x' * 1000); print('ESCAPED')
        """)
    ran = _run(mode, code, tmp_path, sockets=(sockets,), arguments=["1"])
    assert "SOCKET" in ran.stdout.decode() and ESCAPED not in ran.stdout.decode()
    assert not (sockets / "big").exists()
    ran = _run(mode, code, tmp_path, sockets=(sockets,), without={"landlock"}, arguments=["2"])
    assert ESCAPED in ran.stdout.decode()


def test_every_mode_runs_numpy_and_only_its_own_uid_in_root_mode(tmp_path):
    for mode in MODES:
        assert probe.try_mode(mode, tmp_path / "probe") is None, mode


# --- the probe, where the machine refuses namespaces ---------------------------------------------

REFUSE = """
import errno, os, sys, pyseccomp as s
f = s.SyscallFilter(defaction=s.ALLOW)
for call in ("unshare", "setns"):
    f.add_rule(s.ERRNO(errno.EPERM), call)
for flag in (0x10000000, 0x20000000, 0x40000000, 0x20000, 0x4000000, 0x8000000, 0x2000000):
    f.add_rule(s.ERRNO(errno.EPERM), "clone", s.Arg(0, s.MASKED_EQ, flag, flag))
f.add_rule(s.ERRNO(errno.ENOSYS), "clone3")
if "--no-landlock" in sys.argv:
    f.add_rule(s.ERRNO(errno.ENOSYS), "landlock_create_ruleset")
f.load()
from pathlib import Path
from tconv.grader import probe, sandbox
try:
    print(probe.probe(Path(sys.argv[1])).line())
except sandbox.SandboxUnavailable as error:
    print("REFUSED", error)
"""


def _probe_refused(tmp_path, *flags) -> str:
    ran = subprocess.run([sys.executable, "-c", REFUSE, str(tmp_path), *flags],
                         capture_output=True, text=True, timeout=300, cwd=course.AUTOGRADER)
    assert ran.returncode == 0, ran.stderr[-2000:]
    return ran.stdout


def test_where_namespaces_are_refused_the_probe_takes_landlock_and_says_why(tmp_path):
    if not _landlock_abi():
        pytest.skip("no Landlock in this kernel")
    line = _probe_refused(tmp_path)
    assert line.startswith("sandbox: landlock"), line
    assert "Not protected: the process list" in line
    assert "userns:" in line and "namespace" in line  # bubblewrap's own reason, passed on


def test_where_nothing_works_the_probe_refuses_with_the_reason_and_the_fix(tmp_path):
    text = _probe_refused(tmp_path, "--no-landlock")
    assert text.startswith("REFUSED the sandbox could not be made on this machine"), text
    assert "landlock: confine: this kernel has no Landlock" in text
    assert "--security-opt seccomp=unconfined" in text and "hostUsers: false" in text
    assert "SANDBOX=off" in text


def test_each_message_of_bubblewrap_leads_to_its_own_fix():
    for needle, fix in probe.FIXES:
        said = probe.advice(f"userns: bwrap: {needle} (and more of the tool's words)")
        assert fix[1:] in said and said.endswith(probe.NO_SANDBOX)
        others = [other for n, other in probe.FIXES if other != fix and n not in needle]
        assert not any(other[1:] in said for other in others), needle
    assert probe.advice("userns: something else") == probe.NO_SANDBOX


def _landlock_abi() -> int:
    ran = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "import confine; print(confine.landlock_abi())",
                          str(Path(sandbox.__file__).parent)], capture_output=True, text=True)
    return int(ran.stdout.strip() or 0)


def test_the_chosen_mode_and_what_it_does_not_protect_are_one_line():
    for mode in (*sandbox.MODES, "off"):
        line = probe.Probed(mode).line()
        assert line.startswith(f"sandbox: {mode} (") and "Not protected:" in line
        assert "\n" not in line and json.dumps(line)


def test_what_a_sandbox_leaves_is_removed_whatever_its_depth_and_modes(tmp_path):
    """A tree deeper than Python's recursion limit, with a folder its owner made unreadable:
    shutil.rmtree leaves it behind (so the grader's own cleanup would), remove_tree does not."""
    def plant(root: Path) -> Path:
        deep = root
        for _ in range(sys.getrecursionlimit() + 200):  # os.makedirs would recurse too
            deep = deep / "d"
            deep.mkdir(parents=deep.parent == root)
        (deep / "file").write_bytes(b"x" * 1000)
        locked = root / "locked"
        (locked / "inner").mkdir(parents=True)
        locked.chmod(0)
        return root

    left = plant(tmp_path / "rmtree")
    try:
        try:
            shutil.rmtree(left, ignore_errors=True)
        except RecursionError:  # ignore_errors covers OSError only
            pass
        assert left.exists()
    finally:
        sandbox.remove_tree(left)  # (pytest's own cleanup of tmp_path would fail on it)
    assert not left.exists()
