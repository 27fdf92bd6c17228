"""Which installed packages learner code may see: the closure of what it needs to import.

A sandbox shows the Python installation but not its package folders whole: every
``site-packages`` / ``dist-packages`` folder on the machine is emptied, and only the entries that
the given modules import (found by importing them once, in a trusted process of the grader's)
are shown in it again, with their metadata and bundled libraries (``numpy.libs``). So the
re-check of a numpy exercise can import numpy and nothing else: not SciPy, not PyTorch, not the
course package, under any name.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

# The re-check child: numpy alone, or with PyTorch where an exercise takes tensors.
RECHECK = ("numpy",)
RECHECK_WITH_TORCH = ("numpy", "torch", "torch.nn", "torch.nn.functional")
# A graded notebook's kernel: ipykernel, the course package and what its chapters import, the
# inline backend for the picture of a wrong answer, the sliders of chapter 03.
KERNEL = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
          "ipykernel_launcher", "numpy", "torch", "torch.nn", "torch.nn.functional",
          "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline",
          "matplotlib.backends.backend_agg", "ipywidgets", "PIL.Image", "PIL.PngImagePlugin",
          "IPython.core.interactiveshell", "IPython.core.ultratb", "IPython.display",
          "stack_data", "executing", "pure_eval", "asttokens", "tconv", "*tconv")

_IMPORTS = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)  # what site imported (e.g. the finder of an editable install)
names = json.loads(sys.argv[1])
files = []
for name in names:
    if name == "*tconv":
        import tconv
        for info in pkgutil.iter_modules(tconv.__path__):
            if not info.ispkg:
                importlib.import_module(f"tconv.{info.name}")
    elif name == "ipykernel_launcher":  # found, not run: it would start a kernel
        files.append(importlib.util.find_spec(name).origin)
    else:
        importlib.import_module(name)
files += [getattr(module, "__file__", None) for name, module in list(sys.modules.items())
          if name not in before]
# ... and the distributions they declare they need (imported lazily, e.g. PyTorch's sympy when a
# model trains), with what those need in turn: every file of each
from importlib import metadata
import re
owners = metadata.packages_distributions()
wanted = {d for name in list(sys.modules) if name not in before
          for d in owners.get(name.split(".")[0], [])}
todo, seen = list(wanted), set()
while todo:
    name = todo.pop()
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen.add(key)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue
    files += [str(dist.locate_file(f)) for f in (dist.files or [])[:200]]
    for requirement in dist.requires or []:
        if "extra ==" not in requirement:
            todo.append(re.split(r"[ ;<>=!~\[(]", requirement.strip(), 1)[0])
with open("/proc/self/maps") as maps:  # shared libraries loaded, e.g. numpy.libs' OpenBLAS
    files += [line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6]
print(json.dumps([f for f in files if f and f.startswith("/")]))
"""


def site_folders() -> list[Path]:
    """Every folder of installed packages on this machine that Python could be pointed at."""
    found = {Path(p) for p in site.getsitepackages() + [site.getusersitepackages()]}
    found.add(Path(sysconfig.get_paths(vars={"base": sys.base_prefix,
                                             "platbase": sys.base_prefix})["purelib"]))
    for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                    "/usr/lib64/python3*/*-packages"):
        found.update(Path(p) for p in glob.glob(pattern))
    return sorted(p for p in found if p.is_dir())


# Entries handed over by the batch's coordinator (``found_once``, ``adopt``): modules -> entries
_ADOPTED: dict[tuple[str, ...], tuple[Path, ...]] = {}


@functools.cache
def fingerprint() -> str:
    """What ``entries`` depends on, cheaply: this Python, the names in every site folder (a
    distribution's ``.dist-info`` names its version) and the course package's sources (what its
    modules import). Two processes with the same fingerprint find the same entries."""
    import hashlib

    import tconv

    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}".encode())
    for folder in site_folders():
        digest.update(f"\0{folder}\0".encode() + "\0".join(sorted(os.listdir(folder))).encode())
    for path in sorted(Path(tconv.__file__).parent.rglob("*.py")):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def found_once(module_lists: list[tuple[str, ...]]) -> dict:
    """``entries`` of each of ``module_lists``, found side by side here, to hand to the workers
    of a batch (task.Settings): each would otherwise pay an import of everything (about 3 s of
    CPU for the kernel's) before its first notebook. Plain data, with this process's
    fingerprint: a worker whose installation differs finds its own (``adopt``)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, len(module_lists))) as pool:
        found = dict(zip(module_lists, pool.map(entries, module_lists)))
    return {"fingerprint": fingerprint(),
            "entries": {modules: tuple(map(str, paths)) for modules, paths in found.items()}}


def adopt(given: dict) -> bool:
    """Takes the entries ``found_once`` handed over, if they were found on an installation like
    this one; else (or when nothing was given) ``entries`` finds its own. Whether it took them."""
    if not given or given.get("fingerprint") != fingerprint():
        return False
    for modules, paths in given["entries"].items():
        _ADOPTED.setdefault(tuple(modules), tuple(Path(p) for p in paths))
    return True


def entries(modules: tuple[str, ...]) -> tuple[Path, ...]:
    """The top-level entries of the site folders that importing ``modules`` touches, with each
    one's ``.libs`` folder and ``.dist-info``, and the files that make them importable
    (``.pth`` files and their finders, for an editable install). Every ``.dist-info`` of a
    folder an entry is chosen from comes too: metadata only, which some packages read at import.
    Found once per process, or handed over by the batch's coordinator (``adopt``)."""
    return _ADOPTED.get(tuple(modules)) or _found(tuple(modules))


@functools.cache
def _found(modules: tuple[str, ...]) -> tuple[Path, ...]:
    ran = subprocess.run([sys.executable, "-c", _IMPORTS, json.dumps(list(modules))],
                         capture_output=True, text=True, timeout=300)
    if ran.returncode != 0:
        raise RuntimeError(f"importing {', '.join(modules)} failed:\n{ran.stderr[-2000:]}")
    folders = [(folder, f"{folder}{os.sep}") for folder in site_folders()]
    base = f"{Path(sys.base_prefix)}{os.sep}"
    chosen: set[Path] = set()
    elsewhere = False  # a module from outside every site folder and the standard library
    for file in json.loads(ran.stdout.strip().splitlines()[-1]):
        path = os.path.normpath(file)  # a distribution's scripts: site-packages/../../bin
        inside = [(folder, prefix) for folder, prefix in folders if path.startswith(prefix)]
        for folder, prefix in inside:
            chosen.add(folder / path[len(prefix):].split(os.sep, 1)[0])
        if not inside and path.endswith(".py") and not path.startswith(base):
            elsewhere = True
    for folder in {entry.parent for entry in chosen}:
        chosen.update(folder.glob("*.dist-info"))  # metadata only: some packages read theirs
    if elsewhere:  # an editable install (the course package): its .pth file and finder
        for folder, _ in folders:
            chosen.update(folder.glob("__editable__*"))
    return tuple(sorted(chosen))
