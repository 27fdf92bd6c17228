"""The recorded values: every chapter's released notebook run with the answers filled in and the
recorder installed (``recording``), the chapters' tables merged into ``tconv/recorded.npz``, and
kept in build/publish-cache/ until something they depend on changes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

from .. import course, release
from ..cells import cell_id, is_solution, is_test
from . import PublishError, choosing


def answered_notebook(released: Path):
    """The released notebook with the instructors' answers in its solution cells."""
    answers = release.solution_sources()
    notebook = nbformat.read(released, as_version=4)
    for cell in notebook.cells:
        if is_solution(cell) and cell_id(cell) in answers:
            cell.source = answers[cell_id(cell)].strip("\n")
    return notebook


def visible_test_sources(notebook) -> list[str]:
    """The sources of the notebook's test cells (nbgrader's graded code cells)."""
    return [cell.source for cell in notebook.cells if is_test(cell)]


def record_chapter(released: Path, into: Path, prefix: str, timeout: int = 900) -> Path:
    """Run one released notebook with the answers filled in and the answer modules recorded;
    the table goes to ``into``/recorded.npz."""
    from nbclient import NotebookClient

    notebook = answered_notebook(released)
    table = into / "recorded.npz"
    tests = visible_test_sources(notebook)
    first = nbformat.v4.new_code_cell(
        "import tconv.grader.publish.recording as _recording\n"
        f"_recorder = _recording.Recorder(prefix={prefix!r}, test_sources={tests!r})\n"
        f"_recorder.install({choosing.answer_modules()!r})\n"
        "get_ipython().events.register('pre_run_cell', _recorder.before_cell)")
    last = nbformat.v4.new_code_cell(
        f"_recorder.perturb_checks(globals(), {tests!r})\n"
        f"_recorder.save({str(table)!r})\n"
        "import json as _json\n"
        "print('PROBLEMS' + _json.dumps(_recorder.problems))")
    notebook.cells = [first] + notebook.cells + [last]
    work = into / released.parent.name
    shutil.copytree(released.parent, work, dirs_exist_ok=True)
    # NBGRADER_EXECUTION=validate, as in nbgrader's Validate: chapters 06 and 07 shorten their
    # trainings (the calls to the answer modules are the same), and every picture is built, so
    # that its calls are recorded too (when grading, the course's pictures are not built). The
    # kernel gets these in its own environment; this process's is left as it is.
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore", NBGRADER_EXECUTION="validate")
    try:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        client.execute(env=env)
    except Exception as error:  # noqa: BLE001 - any failure of the run: named, with its output
        raise PublishError(f"{released.name}: running it with the answers failed, so nothing "
                           f"could be recorded:\n{str(error)[-3000:]}") from None
    output = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    problems = json.loads(output.split("PROBLEMS", 1)[1]) if "PROBLEMS" in output else ["no report"]
    if problems:
        raise PublishError(f"{released.name}: recording found problems:\n  " + "\n  ".join(problems))
    return table


def merge_tables(tables: list[Path], into: Path) -> int:
    """One recorded.npz from the chapters' tables; returns the number of entries. Beside it,
    context.json lists the entries that cells other than test cells needed (for the tests)."""
    index, arrays, context = {}, {}, set()
    for table in tables:
        with np.load(table, allow_pickle=False) as stored:
            part = {name: stored[name] for name in stored.files}
        for name, value in json.loads(str(part.pop("index"))).items():
            index.setdefault(name, value)
        context |= set(json.loads(str(part.pop("context"))))
        arrays.update(part)
    into.with_name("context.json").write_text(json.dumps(sorted(context)))
    used = set()
    _collect_arrays(list(index.values()), used)
    np.savez_compressed(into, index=np.array(json.dumps(index, sort_keys=True)),
                        **{name: arrays[name] for name in sorted(used)})
    return len(index)


def _collect_arrays(data, used: set) -> None:
    if isinstance(data, list):
        if len(data) == 2 and data[0] in ("ndarray", "scalar", "tensor") and isinstance(data[1], str):
            used.add(data[1])
            return
        for item in data:
            _collect_arrays(item, used)


def _inputs_digest() -> str:
    """What the recorded values depend on: the package, the notebooks, numpy's and torch's versions."""
    import hashlib

    import torch

    digest = hashlib.sha256(f"{np.__version__} {torch.__version__}".encode())
    modules = sorted(set(choosing.learner_modules()) | set(choosing.answer_modules()) | {"lookup"})
    publishing = sorted(Path(__file__).parent.glob("*.py"))  # this package: how values are recorded
    for path in [choosing.module_path(name) for name in modules] + publishing + sorted(
            course.COURSE.glob("*/*.ipynb")) + sorted(course.SOLUTIONS.glob("*/*.ipynb")):
        digest.update(str(path.relative_to(course.ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def cache_folder() -> Path:
    return course.BUILD / "publish-cache" / _inputs_digest()


def record_all(target: Path, scratch: Path | None = None, say=print) -> int:
    """Record every chapter into ``target`` (recorded.npz); reuse build/publish-cache/ when nothing
    it depends on changed. Returns the number of entries."""
    cached = cache_folder() / "recorded.npz"
    if not cached.exists():
        with tempfile.TemporaryDirectory() as temporary:
            work = Path(scratch or temporary)
            tables = []
            for n, released in enumerate(sorted(course.COURSE.glob("*/*.ipynb"))):
                started = time.perf_counter()
                chapter_dir = work / f"chapter{n}"
                chapter_dir.mkdir(parents=True, exist_ok=True)
                tables.append(record_chapter(released, chapter_dir, prefix=f"c{n}_"))
                say(f"recorded {released.parent.name} in {time.perf_counter() - started:.0f} s")
            cached.parent.mkdir(parents=True, exist_ok=True)
            merge_tables(tables, cached)
    else:
        say(f"recorded values unchanged since the last run: {cached}")
    shutil.copy2(cached, target)
    with np.load(target, allow_pickle=False) as stored:
        return len(json.loads(str(stored["index"])))
