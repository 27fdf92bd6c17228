"""Create the course's virtual environment and start the learners' JupyterLab, on any system.

    python scripts/course_env.py install [--venv .venv] [--requirements requirements.txt]
                                         [--package DIR] [--torch-index URL|pypi] [--compile]
    python scripts/course_env.py lab [--venv .venv] [--root course] [--port 8888]
    python scripts/course_env.py plan [--system linux|darwin|windows]   (prints the pip commands)

`make env` and `make lab` call this; on Windows, run it with `py -3.12 scripts\\course_env.py ...`.

PyTorch: on Linux, PyPI's torch wheel is the CUDA build, which pulls about 2.7 GB of nvidia and
triton wheels; PyTorch's own CPU index (TORCH_CPU_INDEX) serves the CPU build, a few hundred MB.
So on Linux torch is installed first, from a local wheel store if pip is configured with one
(`pip config list`: find-links), else from the CPU index; then the rest of requirements.txt, which
the installed CPU build already satisfies. On macOS and Windows, PyPI's wheels are CPU builds.
`--torch-index pypi` (or TORCH_INDEX=pypi) takes PyPI's build on Linux too (for a CUDA GPU).

`lab` starts JupyterLab with jupyter-config/ as its only extra configuration folder: nbgrader's
instructor tools (formgrader, course list, create assignment) and its assignment list (which
needs an exchange folder the course does not use) are off; Validate is on, with a 300 s limit per
cell. Nothing is changed in the environment itself, so an instructor's own server keeps them.

Runs on any Python 3 so that it can say which versions the course needs.
"""

import argparse
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

SUPPORTED = ((3, 11), (3, 12), (3, 13))
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
HERE = Path(__file__).resolve().parent.parent
# pip byte-compiles all it installs, one file at a time: about 40 s of the venv's 2 minutes on a
# 2-core machine. A learner's venv needs none of it ahead: Python compiles a module when it is
# first imported and keeps the .pyc. The grader's venv (`--compile`, `make env`) does need it,
# since its sandbox mounts the venv read-only: there torch's 2,300 files are compiled while pip
# installs the rest, and the rest at the end, on every core.
PIP_INSTALL = ["install", "--quiet", "--no-compile"]
COMPILE = ("import compileall, sys, sysconfig; compileall.compile_dir("
           "sysconfig.get_path('purelib') + sys.argv[1], quiet=2, workers=0)")


def check_python(version=None):
    """Exit with a message naming the versions to install if this Python is not supported."""
    version = tuple((version or sys.version_info)[:2])
    if version not in SUPPORTED:
        names = ", ".join("%d.%d" % v for v in SUPPORTED[:-1]) + " or %d.%d" % SUPPORTED[-1]
        raise SystemExit(
            "error: this is Python %d.%d (%s); the course needs Python %s (nbgrader 0.9.6 needs "
            "3.11 or later; the course is tested up to 3.13). Install Python 3.12 (python.org, "
            "your package manager, or `pyenv install 3.12`) and run `make lab PYTHON=python3.12` "
            "(Windows: `py -3.12 scripts\\course_env.py install`)." % (version + (sys.executable, names)))


def torch_pin(requirements):
    """The version requirements.txt pins torch to, e.g. '2.13.0'. Read with a regex, not with
    ``packaging``: this script runs on a bare Python, before any package is installed."""
    for line in Path(requirements).read_text().splitlines():
        found = re.match(r"\s*torch\s*==\s*([^\s#;]+)", line)
        if found:
            return found.group(1)
    raise SystemExit("error: %s pins no torch version (a line `torch==X.Y.Z`)" % requirements)


def venv_python(venv, system=None):
    system = (system or platform.system()).lower()
    return Path(venv) / ("Scripts/python.exe" if system == "windows" else "bin/python")


def torch_commands(pip, version, system, torch_index=None):
    """Alternative commands that install PyTorch's CPU build, to try in order; [] when the rest of
    requirements.txt may install torch itself (PyPI's wheels are CPU builds there)."""
    system = system.lower()
    torch_index = torch_index or os.environ.get("TORCH_INDEX") or None
    if torch_index == "pypi" or system != "linux":
        return []
    wanted = "torch==%s+cpu" % version
    # --no-deps: torch's own dependencies (filelock, sympy, ...) come from the usual index with
    # the rest of requirements.txt, which the installed CPU build already satisfies.
    return [
        # a local wheel store pip is configured with (find-links): no network needed
        pip + PIP_INSTALL + ["--no-deps", "--no-index", wanted],
        pip + PIP_INSTALL + ["--no-deps", "--index-url", torch_index or TORCH_CPU_INDEX, wanted],
    ]


def install_plan(venv, requirements, package, system=None, torch_index=None, editable=False,
                 compile=False):
    """{"torch": [alternatives], "rest": [commands], "compile": command or None} for one system."""
    system = (system or platform.system()).lower()
    python = str(venv_python(venv, system))
    pip = [python, "-m", "pip"]
    torch = torch_commands(pip, torch_pin(requirements), system, torch_index)
    rest = [pip + PIP_INSTALL + ["-r", str(requirements)],
            pip + PIP_INSTALL + ["--no-deps"] + (["-e"] if editable else []) + [str(package)]]
    return {"torch": torch, "rest": rest,
            "compile": [python, "-c", COMPILE, ""] if compile else None}


def run(command):
    print("+ " + shlex.join(command), flush=True)
    return subprocess.run(command).returncode


def install(args):
    check_python()
    venv = Path(args.venv)
    if not venv_python(venv).exists():
        print("+ %s -m venv %s" % (sys.executable, venv), flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    plan = install_plan(venv, args.requirements, args.package, torch_index=args.torch_index,
                        editable=args.editable, compile=args.compile)
    if plan["torch"]:
        for n, command in enumerate(plan["torch"]):
            if run(command) == 0:
                break
            if n + 1 < len(plan["torch"]):
                print("  (not there; trying the next source)", flush=True)
        else:
            raise SystemExit(
                "error: could not install PyTorch's CPU build, neither from a local wheel store nor "
                "from %s (offline?). Connect and run `make env` again; or, to take PyPI's larger "
                "CUDA build instead, run `make env TORCH_INDEX=pypi`." % TORCH_CPU_INDEX)
    # torch's folder is compiled while pip installs the rest (pip uses one core)
    compiling = (subprocess.Popen(plan["compile"][:-1] + ["/torch"])
                 if plan["torch"] and plan["compile"] else None)
    for command in plan["rest"]:
        if run(command) != 0:
            raise SystemExit("error: `%s` failed (its messages are above)" % " ".join(command))
    if compiling:
        compiling.wait()
    if plan["compile"]:
        run(plan["compile"])  # the rest (compileall skips what is compiled already)
    # matplotlib builds its font cache on first use and says so on stderr: do it now, not in a
    # learner's first plotting cell (nor in a graded one, where stderr zeroes the cell).
    subprocess.run([str(venv_python(venv)), "-c", "import matplotlib.pyplot"], check=True)
    print("the course's environment is ready in %s" % venv)


def lab_command(venv, root, port, system=None, is_root=None):
    """(command, environment) that start the learners' JupyterLab."""
    system = (system or platform.system()).lower()
    if is_root is None:
        is_root = hasattr(os, "getuid") and os.getuid() == 0
    command = [str(venv_python(venv, system)), "-m", "jupyter", "lab",
               "--ServerApp.root_dir=%s" % root, "--port=%s" % port]
    if is_root:  # Jupyter refuses to run as root without it (containers, CI)
        command.append("--allow-root")
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(HERE / "jupyter-config"))
    return command, env


def lab(args):
    command, env = lab_command(args.venv, args.root, args.port)
    print("+ JUPYTER_CONFIG_PATH=%s %s" % (env["JUPYTER_CONFIG_PATH"], " ".join(command)), flush=True)
    raise SystemExit(subprocess.run(command, env=env).returncode)


def plan(args):
    steps = install_plan(args.venv, args.requirements, args.package, system=args.system,
                         torch_index=args.torch_index, compile=args.compile)
    if steps["torch"]:
        print("# PyTorch's CPU build: the first of these that works")
        for command in steps["torch"]:
            print(shlex.join(command))
    print("# the rest")
    for command in steps["rest"]:
        print(shlex.join(command))
    if steps["compile"]:
        print("# byte-compile the venv, on every core (pip was told not to, to save time)")
        print(shlex.join(steps["compile"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("install", "plan"):
        sub = commands.add_parser(name)
        sub.add_argument("--venv", default=".venv")
        sub.add_argument("--requirements", default="requirements.txt")
        sub.add_argument("--package", default=".")
        sub.add_argument("--torch-index", default=None,
                         help="where to get torch on Linux: a URL, or 'pypi' (the CUDA build)")
        sub.add_argument("--editable", action="store_true", help="install the package editable")
        sub.add_argument("--compile", action="store_true",
                         help="byte-compile the whole venv (the grader's: its sandbox cannot)")
        if name == "plan":
            sub.add_argument("--system", default=platform.system().lower(),
                             choices=["linux", "darwin", "windows"])
    sub = commands.add_parser("lab")
    sub.add_argument("--venv", default=".venv")
    sub.add_argument("--root", default="course")
    sub.add_argument("--port", default="8888")
    args = parser.parse_args(argv)
    {"install": install, "lab": lab, "plan": plan}[args.command](args)


if __name__ == "__main__":
    main()
