"""Build the learners' repository: the course without its answers.

    python -m tconv.grader.publish --dest DIR [--edition graded|self-paced] [--repo OWNER/NAME]
                                   [--ref TAG]

(``make publish DEST=DIR [EDITION=self-paced] [REPO=owner/name] [REF=tag]``.) DIR receives the
released notebooks (course/), the learners' package (tconv/ with pyproject.toml), their environment
(requirements.txt, Makefile, scripts/, binder/, jupyter-config/), a README with the Binder and
Colab badges of REPO, and the licences (the front door: ``front_door``).

**graded** (the default) ships no answer: no solutions/, no hidden test, and no reference
implementation of a graded function. The package's answer modules (``reference``,
``unet_reference``, ``mistakes``: those ``guard`` watches, and the known mistakes) are replaced by
generated modules of the same names that look their values up in ``tconv/recorded.npz``. That
table is recorded here, by running every released notebook with the instructors' answers filled
in and the answer modules wrapped: every call the notebook makes (checks, pictures, examples) is
recorded with its result, and every visible check is run again once per case with an answer that
is wrong at that case only, so that every known mistake's result on every visible case is
recorded too (the checks then still name the mistake). For arguments not in the table the
published modules ask PyTorch where the answer is a PyTorch operation; otherwise they say the case
is checked at grading time. ``scan`` then looks for any answer in the tree and the build fails if
it finds one.

**self-paced** ships the answer modules as they are (the checks work on any input) and the worked
solutions: solutions/<chapter>/<chapter>.ipynb, the learners' notebooks with the answers filled
in; in both, the hidden tests run with the visible ones (unmarked), and a note says what the
edition is.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

from .. import lookup
from . import course, front_door, release

PACKAGE = Path(__file__).resolve().parents[1]  # tconv/: the learners' modules
EDITIONS = ("graded", "self-paced")
PLACEHOLDER_REPOS = {"owner/repo", "owner/name", "user/repo", "username/repo", "org/repo"}
REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
# Lines of requirements.txt whose comment starts with one of these are not for learners: the
# project's own tests' tools, and the instructors' grading tools.
TESTS_ONLY = "tests only"
NOT_FOR_LEARNERS = (TESTS_ONLY, "instructors only")
# Files of the instructors' repository that the learners' copy takes as they are.
COPIED = {"LICENSE": "LICENSE", "LICENSE-CC-BY-4.0": "LICENSE-CC-BY-4.0",
          "binder/environment.yml": "binder/environment.yml", "binder/postBuild": "binder/postBuild",
          "binder/start": "binder/start", "scripts/course_env.py": "scripts/course_env.py",
          "scripts/find_python.sh": "scripts/find_python.sh",
          "jupyter-config/jupyter_server_config.json": "jupyter-config/jupyter_server_config.json",
          "jupyter-config/labconfig/page_config.json": "jupyter-config/labconfig/page_config.json",
          "jupyter-config/nbgrader_config.py": "jupyter-config/nbgrader_config.py"}


class PublishError(RuntimeError):
    """The learners' copy cannot be built as asked; the message says why and what to do."""


# --- which modules go out, and which are replaced ------------------------------------------------

def _imported_tconv_modules(source: str) -> set[str]:
    """The tconv modules a piece of code imports (``from tconv import x``, ``from .x import y``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or base.split(".")[0] == "tconv":
                inner = base.split(".")[1:] if base.startswith("tconv") else base.split(".")
                inner = [part for part in inner if part]
                if inner:
                    found.add(inner[0])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "tconv" and len(parts) > 1:
                    found.add(parts[1])
    return {name for name in found if (PACKAGE / f"{name}.py").exists()}


def _code_cells(path: Path):
    return [cell.source for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code"]


def learner_modules() -> list[str]:
    """Every tconv module a released notebook needs: what the notebooks import, and what those
    modules import, transitively."""
    wanted = set()
    for notebook in sorted(course.COURSE.glob("*/*.ipynb")):
        for source in _code_cells(notebook):
            wanted |= _imported_tconv_modules(source)
    done: set[str] = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        wanted |= _imported_tconv_modules((PACKAGE / f"{name}.py").read_text())
    return sorted(done)


def module_path(name: str) -> Path:
    """The file of ``tconv.<name>`` (found as Python finds it, not by a folder and a name)."""
    spec = importlib.util.find_spec(f"tconv.{name}")
    if spec is None or not spec.origin:
        raise PublishError(f"tconv.{name} is not a module of the package")
    return Path(spec.origin)


def answer_modules() -> list[str]:
    """The modules that hold answers, as the registry declares them: the references' (the answers
    the shortcut guard watches) and the known mistakes' (``exercises.answer_modules``)."""
    from .. import exercises

    return list(exercises.answer_modules())


# --- recording -------------------------------------------------------------------------------------

def _perturbed(value):
    """A wrong answer of the same kind as ``value``: the checks then diagnose it."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().double() + 1000.0
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000
    try:
        return np.asarray(value, dtype=np.float64) + 1000.0
    except (TypeError, ValueError):
        return "a wrong answer"


def _children_settings(module) -> list:
    """[(attribute, torch.nn class name, constructor settings)] of a module made of torch layers."""
    import torch

    if any(True for _ in module.parameters(recurse=False)) or any(
            True for _ in module.buffers(recurse=False)):
        raise PublishError(f"{type(module).__name__} has parameters of its own: the learners' copy "
                           f"can only rebuild modules made of torch.nn layers")
    parts = []
    for attribute, child in module.named_children():
        kind = type(child)
        if getattr(torch.nn, kind.__name__, None) is not kind:
            raise PublishError(f"{type(module).__name__}.{attribute} is a {kind.__name__}, not a "
                               f"torch.nn layer: the learners' copy cannot rebuild it")
        settings = {}
        for name, parameter in inspect.signature(kind.__init__).parameters.items():
            if name in ("self", "device", "dtype") or parameter.kind in (
                    parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if name == "bias":
                settings[name] = getattr(child, "bias", None) is not None
            elif hasattr(child, name):
                value = getattr(child, name)
                settings[name] = list(value) if isinstance(value, tuple) else value
            elif parameter.default is parameter.empty:
                raise PublishError(f"cannot read {kind.__name__}'s setting {name!r} back")
        parts.append([attribute, kind.__name__, settings])
    return parts


class Recorder:
    """Wraps the answer modules in place and records what every call returns (or raises)."""

    def __init__(self, prefix: str = "a", test_sources=()):
        self.prefix = prefix
        self.test_sources = set(test_sources)
        self.in_test = False
        self.context: set[str] = set()  # keys recorded by cells that are not test cells
        self.depth = 0  # calls of answer modules inside others are not recorded: never looked up
        self.index: dict[str, list] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.problems: list[str] = []

    # what a call gave
    def before_cell(self, info) -> None:
        """IPython's pre_run_cell event: is the next cell a test cell?"""
        self.in_test = info.raw_cell in self.test_sources

    def put(self, table_key: str, outcome) -> None:
        if not self.in_test:
            self.context.add(table_key)
        if table_key in self.index:
            return
        scratch: dict = {}
        try:
            data = lookup.encode(outcome, scratch)
        except TypeError as error:
            self.problems.append(f"{error}")
            return
        renamed = {name: f"{self.prefix}{len(self.arrays) + n}" for n, name in enumerate(scratch)}
        for old, new in renamed.items():
            self.arrays[new] = scratch[old]
        self.index[table_key] = _rename(data, renamed)

    def _wrap_function(self, qualname: str, function):
        recorder = self

        @functools.wraps(function)
        def recording(*args, **kwargs):
            if recorder.depth:
                return function(*args, **kwargs)
            try:
                table_key = lookup.key(qualname, lookup.bound(function, args, kwargs))
            except TypeError:
                return function(*args, **kwargs)
            recorder.depth += 1
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                recorder.put(table_key, error)
                raise
            finally:
                recorder.depth -= 1
            recorder.put(table_key, result)
            return result
        return recording

    def _wrap_mistake(self, qualname: str, compute):
        recorder = self

        @functools.wraps(compute)
        def recording(*args):
            try:
                table_key = lookup.key(qualname, tuple(args))
            except TypeError:
                return compute(*args)
            try:
                result = compute(*args)
            except Exception as error:
                recorder.put(table_key, error)
                raise
            recorder.put(table_key, result)
            return result
        return recording

    def _wrap_module_class(self, qualname: str, cls) -> None:
        import torch

        recorder, original_init = self, cls.__init__

        def __init__(self, *args, **kwargs):
            arguments = lookup.bound(original_init, (self,) + args, kwargs)
            arguments.pop("self")
            before = torch.random.get_rng_state()
            original_init(self, *args, **kwargs)
            after = torch.random.get_rng_state()
            parts = _children_settings(self)
            # The learners' copy rebuilds the layers from these settings: same weights, same
            # random numbers drawn, or the recorded outputs would not match.
            torch.random.set_rng_state(before)
            rebuilt = [getattr(torch.nn, kind)(**settings) for _, kind, settings in parts]
            same = all(torch.equal(a, b) for (_, child), part in zip(self.named_children(), rebuilt)
                       for a, b in zip(child.state_dict().values(), part.state_dict().values()))
            if not (same and torch.equal(torch.random.get_rng_state(), after)):
                recorder.problems.append(f"{qualname}: rebuilding its layers from their settings "
                                         f"gives other weights")
            torch.random.set_rng_state(after)
            recorder.index.setdefault(lookup.key(qualname + ".__init__", arguments),
                                      ["structure", parts])

        cls.__init__ = __init__
        cls.forward = self._wrap_function(qualname + ".forward", cls.forward)

    def install(self, modules: list[str]) -> None:
        """Wrap the functions, known mistakes and layer classes of the answer ``modules`` in place
        (named by the caller: the registry, imported here first, would keep the unwrapped ones)."""
        import torch

        for name in modules:
            module = importlib.import_module(f"tconv.{name}")
            for attribute, value in list(vars(module).items()):
                if attribute.startswith("_"):
                    continue
                qualname = f"{name}.{attribute}"
                if inspect.isfunction(value) and value.__module__ == module.__name__:
                    setattr(module, attribute, self._wrap_function(qualname, value))
                elif is_mistake_list(value):
                    for n, mistake in enumerate(value):
                        value[n] = dataclasses.replace(
                            mistake, compute=self._wrap_mistake(f"{qualname}[{n}]", mistake.compute))
                elif (inspect.isclass(value) and value.__module__ == module.__name__
                      and issubclass(value, torch.nn.Module)):
                    self._wrap_module_class(qualname, value)

    # every visible check once more per case, wrong at that case
    def perturb_checks(self, namespace: dict, sources: list[str]) -> None:
        self.in_test = True
        for source in sources:
            for statement in ast.parse(source).body:
                call = statement.value if isinstance(statement, ast.Expr) else None
                if not (isinstance(call, ast.Call) and call.args
                        and isinstance(call.args[0], ast.Name)):
                    self.problems.append(f"a test cell statement that is not a check call: "
                                         f"{ast.unparse(statement)[:80]}")
                    continue
                check = eval(compile(ast.Expression(call.func), "<test>", "eval"), namespace)
                learner = namespace[call.args[0].id]
                args = [eval(compile(ast.Expression(a), "<test>", "eval"), namespace)
                        for a in call.args[1:]]
                kwargs = {k.arg: eval(compile(ast.Expression(k.value), "<test>", "eval"), namespace)
                          for k in call.keywords}
                if "picture" in inspect.signature(check).parameters:
                    kwargs["picture"] = False
                self._perturb(check, learner, args, kwargs)

    def _perturb(self, check, learner, args, kwargs) -> None:
        counted = _wrong_at(learner, None, "count")
        with contextlib.redirect_stdout(io.StringIO()):
            check(counted, *args, **kwargs)
        modes = ("value", "raise") if inspect.isclass(learner) else ("value",)
        for mode in modes:
            for k in range(counted.calls[0]):
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        check(_wrong_at(learner, k, mode), *args, **kwargs)
                except AssertionError:  # CheckFailed: the wrong answer was found, as it must be
                    continue
                # passed: this check does not compare values (a shape, an error raised)

    def save(self, path) -> None:
        np.savez_compressed(path, index=np.array(json.dumps(self.index)),
                            context=np.array(json.dumps(sorted(self.context))), **self.arrays)


def _rename(data, names: dict):
    if isinstance(data, list):
        if len(data) == 2 and data[0] in ("ndarray", "scalar", "tensor") and data[1] in names:
            return [data[0], names[data[1]]]
        return [_rename(item, names) for item in data]
    return data


def is_mistake_list(value) -> bool:
    return (isinstance(value, list) and len(value) > 0
            and all(dataclasses.is_dataclass(item) and hasattr(item, "compute")
                    and hasattr(item, "name") for item in value))


def _wrong_at(learner, k, mode):
    """``learner`` answering right, except at call ``k`` (wrong value, or raising); counts calls."""
    calls = [0]
    if inspect.isclass(learner):
        def forward(self, *args, **kwargs):
            n = calls[0]
            calls[0] += 1
            if n == k and mode == "raise":
                raise RuntimeError("a deliberately failing forward pass (publishing)")
            out = learner.forward(self, *args, **kwargs)
            return _perturbed(out) if n == k else out
        wrong = type(learner.__name__, (learner,), {"forward": forward,
                                                     "__module__": learner.__module__})
    else:
        def wrong(*args, **kwargs):
            n = calls[0]
            calls[0] += 1
            out = learner(*args, **kwargs)
            return _perturbed(out) if n == k else out
    wrong.calls = calls
    return wrong


# --- recording one chapter: its released notebook with the answers, in a kernel ------------------

def _answered_notebook(released: Path):
    """The released notebook with the instructors' answers in its solution cells."""
    answers = release.solution_sources()
    notebook = nbformat.read(released, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]].strip("\n")
    return notebook


def visible_test_sources(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")]


def record_chapter(released: Path, into: Path, prefix: str, timeout: int = 900) -> Path:
    """Run one released notebook with the answers filled in and the answer modules recorded;
    the table goes to ``into``/recorded.npz."""
    from nbclient import NotebookClient

    notebook = _answered_notebook(released)
    table = into / "recorded.npz"
    tests = visible_test_sources(notebook)
    first = nbformat.v4.new_code_cell(
        "import tconv.grader.publish as _publish\n"
        f"_recorder = _publish.Recorder(prefix={prefix!r}, test_sources={tests!r})\n"
        f"_recorder.install({answer_modules()!r})\n"
        "get_ipython().events.register('pre_run_cell', _recorder.before_cell)")
    last = nbformat.v4.new_code_cell(
        f"_recorder.perturb_checks(globals(), {tests!r})\n"
        f"_recorder.save({str(table)!r})\n"
        "import json as _json\n"
        "print('PROBLEMS' + _json.dumps(_recorder.problems))")
    notebook.cells = [first] + notebook.cells + [last]
    work = into / released.parent.name
    shutil.copytree(released.parent, work, dirs_exist_ok=True)
    env_before = dict(os.environ)
    # NBGRADER_EXECUTION=validate, as in nbgrader's Validate: chapters 06 and 07 shorten their
    # trainings (the calls to the answer modules are the same), and every picture is built, so
    # that its calls are recorded too (when grading, the course's pictures are not built).
    os.environ.update(MPLBACKEND="Agg", PYTHONWARNINGS="ignore", NBGRADER_EXECUTION="validate")
    try:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        client.execute()
    except Exception as error:  # noqa: BLE001 - any failure of the run: named, with its output
        raise PublishError(f"{released.name}: running it with the answers failed, so nothing "
                           f"could be recorded:\n{str(error)[-3000:]}") from None
    finally:
        os.environ.clear()
        os.environ.update(env_before)
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


# --- the generated answer modules -----------------------------------------------------------------

_BANNER = ('"""{summary}\n\nGenerated by ``tconv.grader.publish`` for the learners\' copy of the course: '
           'the course\'s own\nimplementation is not here. Values come from ``recorded.npz`` '
           '(see ``tconv.lookup``){fallback}.\nDo not edit: run `make publish` in the '
           'instructors\' repository.\n"""\n')
_FALLBACK_NOTE = ",\nand from PyTorch for other arguments where PyTorch computes the answer"

# Answers a PyTorch operation gives, beyond the exercises' twins (the registry's): for the
# pictures' helper functions, when a learner calls them with arguments the notebooks do not use.
EXTRA_FALLBACKS = {
    "reference.conv_transpose1d_contributions": '''\
def _contributions_1d(x, w, stride=1):
    # row j: the transposed convolution of x with every entry but x[j] set to 0
    x = np.asarray(x, dtype=np.float64)
    return np.stack([_pytorch.conv_transpose1d(np.where(np.arange(len(x)) == j, x, 0.0), w,
                                               stride) for j in range(len(x))])
''',
    "reference.conv_transpose2d_contributions": '''\
def _contributions_2d(x, w, stride=1):
    # entry [i, j]: the transposed convolution (no crop) of x with only x[i, j] kept
    x = np.asarray(x, dtype=np.float64)
    rows = []
    for i in range(x.shape[0]):
        row = []
        for j in range(x.shape[1]):
            one = np.zeros_like(x)
            one[i, j] = x[i, j]
            row.append(_pytorch.conv_transpose2d(one, w, stride, 0))
        rows.append(np.stack(row))
    return np.stack(rows)
''',
    "reference.conv_transpose2d_full": '''\
def _full_2d(x, w, stride=1):
    return _pytorch.conv_transpose2d(x, w, stride, 0)
''',
}


def _signature_text(function, skip_first=False) -> tuple[str, str]:
    """("(x, w, stride=1)", '{"x": x, ...}') for a generated function with ``function``'s
    parameters, without annotations."""
    parameters = list(inspect.signature(function).parameters.values())
    shown, passed = [], []
    for parameter in parameters[1 if skip_first else 0:]:
        clean = parameter.replace(annotation=inspect.Parameter.empty)
        shown.append(str(clean))
        passed.append(f"{parameter.name!r}: {parameter.name}")
    if skip_first:
        shown.insert(0, parameters[0].name)
        passed.insert(0, f"{parameters[0].name!r}: {parameters[0].name}")
    return f"({', '.join(shown)})", "{" + ", ".join(passed) + "}"


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.splitlines()[0] if doc else ""


def stand_in_source(name: str) -> str:
    """The learners' copy of answer module ``name``: the same public names, answering from the
    recorded table (and PyTorch where it is the answer)."""
    import torch

    from .. import exercises

    module = importlib.import_module(f"tconv.{name}")
    head, body, uses_pytorch, uses_torch = [], [], False, False
    extras, twin_homes = [], set()
    for attribute, value in vars(module).items():
        if attribute.startswith("_") and attribute != "__all__":
            continue
        qualname = f"{name}.{attribute}"
        if attribute == "__all__":
            body.append(f"__all__ = {list(value)!r}\n")
        elif inspect.isfunction(value) and value.__module__ == module.__name__:
            signature, passed = _signature_text(value)
            fallback = "None"
            twin = exercises.pytorch_twin(qualname)
            if twin is not None:
                if list(inspect.signature(twin).parameters) != list(
                        inspect.signature(value).parameters):
                    raise PublishError(f"{qualname}'s PyTorch twin {twin.__module__}."
                                       f"{twin.__name__} takes other parameters: the learners' "
                                       f"copy calls it with the answer's, by name")
                home = exercises.home_of(twin)
                fallback, uses_pytorch = f"_{home}.{twin.__name__}", True
                twin_homes.add(home)
            elif qualname in EXTRA_FALLBACKS:
                code = EXTRA_FALLBACKS[qualname]
                extras.append(code)
                fallback, uses_pytorch = re.match(r"def (\w+)", code).group(1), True
            doc = _first_line(value)
            body.append(f"def {attribute}{signature}:\n"
                        + (f"    {json.dumps(doc, ensure_ascii=False)}\n" if doc else "")
                        + f"    return _lookup.call({qualname!r}, {passed}, {fallback})\n")
        elif is_mistake_list(value):
            fields = [f.name for f in dataclasses.fields(value[0]) if f.name != "compute"]
            cls = type(value[0]).__name__
            home = type(value[0]).__module__
            if home != module.__name__ and f"from {home} import {cls}\n" not in head:
                head.append(f"from {home} import {cls}\n")  # e.g. Mistake, from tconv.mistakes
            items = []
            for n, mistake in enumerate(value):
                shown = ", ".join(f"{field}={getattr(mistake, field)!r}" for field in fields)
                items.append(f"    {cls}({shown},\n        compute=_recorded({f'{qualname}[{n}]'!r})),")
            body.append(f"{attribute} = [\n" + "\n".join(items) + "\n]\n")
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            if issubclass(value, torch.nn.Module):
                uses_torch = True
                init_signature, init_passed = _signature_text(value.__init__, skip_first=True)
                forward_signature, forward_passed = _signature_text(value.forward, skip_first=True)
                init_passed = init_passed.replace("'self': self, ", "")
                body.append(
                    f"class {attribute}(nn.Module):\n"
                    f"    {json.dumps(_first_line(value), ensure_ascii=False)}\n\n"
                    f"    def __init__{init_signature}:\n"
                    f"        super().__init__()\n"
                    f"        for name, layer in _lookup.structure({qualname!r}, {init_passed}):\n"
                    f"            setattr(self, name, layer)\n\n"
                    f"    def forward{forward_signature}:\n"
                    f"        return _lookup.call({qualname + '.forward'!r}, {forward_passed})\n")
            elif dataclasses.is_dataclass(value):
                fields = "\n".join(f"    {f.name}: object" for f in dataclasses.fields(value))
                doc = _first_line(value)
                doc = "" if doc.startswith(f"{attribute}(") else f"    {json.dumps(doc)}\n"
                head.append(f"@dataclass(frozen=True)\nclass {attribute}:\n{doc}{fields}\n")
            else:
                raise PublishError(f"tconv.{name}.{attribute} is a class the learners' copy "
                                   f"cannot stand in for: teach tconv.grader.publish.stand_in_source")
        elif isinstance(value, (int, float, str, bool, type(None))) or (
                isinstance(value, tuple) and all(isinstance(v, (int, float, str)) for v in value)):
            body.append(f"{attribute} = {value!r}\n")
        elif inspect.ismodule(value) or getattr(value, "__module__", module.__name__) != module.__name__:
            continue  # imported names
        else:
            raise PublishError(f"tconv.{name}.{attribute} ({type(value).__name__}) has no stand-in "
                               f"in the learners' copy: teach tconv.grader.publish.stand_in_source")
    fallback_note = _FALLBACK_NOTE if uses_pytorch else ""
    summary = (f"The learners' stand-in for ``tconv.{name}``: the same names, expected values "
               f"instead of code.")
    header = _BANNER.format(summary=summary, fallback=fallback_note)
    header += "\nfrom __future__ import annotations\n\n"
    header += "from dataclasses import dataclass\n\n" if head else ""
    header += "import numpy as np\n" + ("from torch import nn\n" if uses_torch else "")
    header += "\nfrom . import lookup as _lookup\n"
    if extras:
        twin_homes.add("pytorch")  # the extra fallbacks' code calls tconv.pytorch
    header += "".join(f"from . import {home} as _{home}\n" for home in sorted(twin_homes))
    parts = list(head) + extras + body
    if any(is_mistake_list(v) for v in vars(module).values()):
        parts.insert(0, "def _recorded(name):\n    def compute(*args):\n"
                        "        return _lookup.call_positional(name, args)\n    return compute\n")
    code = header + "\n\n" + "\n\n".join(part.rstrip("\n") + "\n" for part in parts)
    return code.rstrip("\n") + "\n"


# --- the tree ---------------------------------------------------------------------------------------

def check_repo(repo: str | None) -> str | None:
    """``owner/name`` for the Binder badge, or None (no badge); a placeholder is refused."""
    if repo is None or repo == "":
        return None
    if repo.lower() in PLACEHOLDER_REPOS or repo.split("/")[0].lower() in {"owner", "user", "username"}:
        raise PublishError(f"REPO={repo} is a placeholder: give the GitHub owner and name of the "
                           f"learners' repository, e.g. REPO=jdoe/transposed-convolution")
    if not REPO_PATTERN.fullmatch(repo):
        raise PublishError(f"REPO={repo!r} is not a GitHub owner/name (letters, digits and - in "
                           f"the owner; letters, digits, '.', '_' and '-' in the name)")
    return repo


def learner_requirements() -> str:
    """requirements.txt without the lines marked as not for learners (tests', instructors')."""
    kept = []
    for line in (course.ROOT / "requirements.txt").read_text().splitlines():
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        if comment.startswith(NOT_FOR_LEARNERS):
            continue
        kept.append(line)
    text = "\n".join(kept) + "\n"
    return re.sub(r"\A(#[^\n]*\n)+", "# The learners' packages; `make lab` (scripts/course_env.py) "
                                    "installs them into .venv.\n", text)


def chapters() -> list[tuple[str, str]]:
    """[(folder, title)] of the released chapters, in order; the title is the first heading."""
    found = []
    for notebook in sorted(course.COURSE.glob("*/*.ipynb")):
        title = notebook.stem
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "markdown":
                heading = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
                if heading:
                    title = heading.group(1).strip()
                    break
        title = re.sub(r"^Chapter\s+\d+\s*[·:.-]\s*", "", title)
        found.append((notebook.parent.name, title))
    return found


def _inputs_digest() -> str:
    """What the recorded values depend on: the package, the notebooks, numpy's and torch's versions."""
    import hashlib

    import torch

    digest = hashlib.sha256(f"{np.__version__} {torch.__version__}".encode())
    modules = sorted(set(learner_modules()) | set(answer_modules()) | {"lookup"})
    for path in [module_path(name) for name in modules] + [Path(__file__)] + sorted(
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


def build(dest: Path, edition: str = "graded", repo: str | None = None, scratch: Path | None = None,
          quiet: bool = False, ref: str | None = None) -> Path:
    """Write the learners' repository into ``dest`` (which must be empty or absent); ``ref``: the
    tag of that repository that Colab opens and installs (default: ``course-<commit>``)."""
    if edition not in EDITIONS:
        raise PublishError(f"EDITION={edition} must be one of {', '.join(EDITIONS)}")
    repo = check_repo(repo)
    outdated = release.stale()
    if outdated:
        raise PublishError(
            f"course/ is older than solutions/: {', '.join(outdated[:3])}"
            f"{f' and {len(outdated) - 3} more' if len(outdated) > 3 else ''} "
            f"{'differs' if len(outdated) == 1 else 'differ'} from what `make release` writes "
            f"now. Run `make release` (and commit course/), then `make publish` again.")
    try:
        ref = front_door.check_ref(ref) if repo else None
    except front_door.RefError as error:
        raise PublishError(str(error)) from None
    dest = dest.resolve()
    if dest == course.ROOT or course.ROOT in dest.parents and dest.parent == course.ROOT:
        if dest.name in {"course", "solutions", "autograder"} or dest == course.ROOT:
            raise PublishError(f"DEST={dest} is a folder of the instructors' repository")
    if dest.exists() and any(dest.iterdir()):
        if not (dest / ".tconv-published").exists():
            raise PublishError(f"DEST={dest} exists and is not empty, and is not an earlier "
                               f"published copy: choose a new folder")
        for entry in dest.iterdir():
            if entry.name != ".git":  # keep the learners' repository's history
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))

    # notebooks: the Colab cell (with REPO); self-paced: what the edition is, hidden tests run
    shutil.copytree(course.COURSE, dest / "course", ignore=shutil.ignore_patterns(
        ".ipynb_checkpoints", "__pycache__"))
    for released in sorted(course.COURSE.glob("*/*.ipynb")):
        folder = released.parent.name
        made = {"course": nbformat.read(released, as_version=4)}
        if edition == "self-paced":
            made["solutions"] = _answered_notebook(released)
        for top, notebook in made.items():
            (dest / top / folder).mkdir(parents=True, exist_ok=True)
            nbformat.write(front_door.prepare(notebook, folder, edition, repo, ref),
                           dest / top / folder / released.name)

    # the package
    package = dest / "tconv"
    package.mkdir()
    answers = set(answer_modules())
    modules = learner_modules() + ["progress"]  # `make progress`, which no notebook imports
    for name in modules:
        if name in answers and edition == "graded":
            continue
        shutil.copy2(PACKAGE / f"{name}.py", package / f"{name}.py")
    if edition == "graded":
        shutil.copy2(PACKAGE / "lookup.py", package / "lookup.py")
        for name in sorted(answers & set(modules)):
            (package / f"{name}.py").write_text(stand_in_source(name))
        count = record_all(package / "recorded.npz", scratch, say)
        say(f"recorded {count} expected values")
    (package / "__init__.py").write_text(_package_init(sorted(p.stem for p in package.glob("*.py")
                                                              if p.stem != "__init__")))
    (dest / "pyproject.toml").write_text(_PYPROJECT)

    # environment, front door, licences
    for source, target in COPIED.items():
        (dest / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(course.ROOT / source, dest / target)
    (dest / "requirements.txt").write_text(learner_requirements())
    shutil.copy2(front_door.MAKEFILE, dest / "Makefile")
    (dest / "README.md").write_text(front_door.readme(edition, repo, ref, chapters()))
    (dest / ".gitignore").write_text(".venv/\n__pycache__/\n*.egg-info/\nbuild/\n"
                                     ".ipynb_checkpoints/\n")
    (dest / ".tconv-published").write_text(f"edition = {edition}\nrepo = {repo}\nref = {ref}\n")

    leaks = scan(dest) if edition == "graded" else []
    if leaks:
        raise PublishError("the learners' copy would hold answers:\n  " + "\n  ".join(leaks[:20]))
    say(f"published the {edition} edition into {dest}")
    if repo is None:
        print("note: no Binder or Colab badges in README.md, no Colab cell in the notebooks: pass "
              "REPO=owner/name (the learners' GitHub repository) to get them", file=sys.stderr)
    else:
        say(f"Colab opens and installs version {ref} of {repo}: after committing, tag it and push "
            f"the tag: git tag {ref} && git push origin HEAD {ref}")
    return dest


def _package_init(names: list[str]) -> str:
    lines = ['"""tconv: the course\'s checks, cases and pictures (the learners\' copy).\n']
    for name in names:
        summary = ""
        path = PACKAGE / f"{name}.py"
        if name in answer_modules() or not path.exists():
            summary = "looked-up expected values (generated)" if name != "lookup" else \
                "expected values looked up by argument"
        else:
            summary = _first_line(importlib.import_module(f"tconv.{name}"))
        lines.append(f"- ``tconv.{name}``: {summary}")
    return "\n".join(lines) + '\n"""\n'


_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tconv"
version = "0.1.0"
description = "Checks, cases and pictures for the transposed-convolution course (learners' copy)"
requires-python = ">=3.11"
license = "MIT"
# requirements.txt (or binder/environment.yml) provides numpy, matplotlib and torch.
dependencies = []

[tool.setuptools]
packages = ["tconv"]

[tool.setuptools.package-data]
tconv = ["recorded.npz"]
"""

# --- the scan: is there any answer in the tree? -----------------------------------------------------

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _normalized_lines(code: str) -> list[str]:
    lines = []
    for line in code.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith(("'", '"')) else line.strip()
        if line:
            lines.append(re.sub(r"\s+", " ", line))
    return lines


def _bodies(source: str) -> dict[str, str]:
    """{ast dump of a function body (docstring dropped): function name}, bodies of 2+ statements."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
                body = body[1:]
            if len(body) >= 2:
                found[ast.dump(ast.Module(body=body, type_ignores=[]))] = getattr(node, "name", "lambda")
    return found


def published_code(dest: Path) -> dict[str, str]:
    """{file (relative): its code}: Python files, and notebooks' code cells."""
    code = {}
    for path in sorted(dest.rglob("*")):
        if ".git" in path.parts or not path.is_file():
            continue
        relative = str(path.relative_to(dest))
        if path.suffix == ".py" or path.name in ("postBuild", "start"):
            code[relative] = path.read_text(errors="replace")
        elif path.suffix == ".ipynb":
            code[relative] = "\n".join(_code_cells(path))
        elif path.suffix in (".md", ".txt", ".json", ".yml", ".toml", ""):
            code[relative] = path.read_text(errors="replace")
    return code


SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", re.DOTALL | re.MULTILINE)


def solution_blocks() -> dict[str, str]:
    """{grade_id: the code between the markers of its solution cell} (a cell may hold several)."""
    blocks = {}
    for solution in sorted(course.SOLUTIONS.glob("*/*.ipynb")):
        for cell in nbformat.read(solution, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                blocks[meta["grade_id"]] = "\n".join(SOLUTION_BLOCK.findall(cell.source))
    return blocks


def scan(dest: Path) -> list[str]:
    """Every answer found in the published tree, as one line each (an empty list: none)."""
    leaks = []
    published = published_code(dest)
    if (dest / "solutions").exists():
        leaks.append("solutions/ is there")
    for name, text in published.items():
        for marker in MARKERS:
            if marker in text:
                leaks.append(f"{name}: holds a '### {marker}' marker")

    # the answers' function bodies: the answer modules' and the solution cells'
    secret: dict[str, str] = {}
    for name in answer_modules():
        for dump, function in _bodies(module_path(name).read_text()).items():
            secret[dump] = f"tconv.{name}.{function}"
    answers = release.solution_sources()
    for grade_id, code in answers.items():
        for dump, function in _bodies(code).items():
            secret[dump] = f"the answer {grade_id} ({function})"
    for name, text in published.items():
        if name.endswith((".py", ".ipynb")):
            for dump in _bodies(text):
                if dump in secret:
                    leaks.append(f"{name}: holds the body of {secret[dump]}")

    # the answers' code as text: any 3 consecutive lines of what a solution cell holds between
    # its BEGIN and END SOLUTION markers
    flat = {name: "\n".join(_normalized_lines(text)) for name, text in published.items()}
    for grade_id, code in solution_blocks().items():
        lines = _normalized_lines(code)
        size = min(3, len(lines))  # a one-line answer is looked for line by line
        for n in range(len(lines) - size + 1):
            window = "\n".join(lines[n:n + size])
            for name, text in flat.items():
                if window in text:
                    leaks.append(f"{name}: holds lines of the answer {grade_id}: {lines[n]!r}")
                    break

    # an answer's line in a docstring, comment or message; a near answer
    leaks += answers_in_prose(published) + near_answers(published)

    # hidden tests: any line of one that is not also a visible test
    visible = set()
    for released in course.COURSE.glob("*/*.ipynb"):
        for source in visible_test_sources(nbformat.read(released, as_version=4)):
            visible |= set(_normalized_lines(source))
    for solution in course.SOLUTIONS.glob("*/*.ipynb"):
        for source in _code_cells(solution):
            for block in HIDDEN.findall(source):
                for line in set(_normalized_lines(block)) - visible:
                    for name, text in flat.items():
                        if line in text:
                            leaks.append(f"{name}: holds the hidden test {line[:70]!r}")
    return sorted(set(leaks))


# --- answers written as text, and near answers -----------------------------------------------------

MIN_STATEMENT = 16  # characters (spaces removed): shorter statements (``return out``) say nothing


def _without_docstrings(node):
    """A copy of ``node`` without the docstrings of its functions and classes."""
    node = ast.parse(ast.unparse(node)).body[0]
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if (isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            inner.body = body[1:] or [ast.Pass()]
    return node


def _answer_definitions() -> dict[str, ast.AST]:
    """{where: definition} of every answer: the answer modules' functions and classes, and the
    functions and classes of the solution cells."""
    found = {}
    sources = {f"tconv.{name}": module_path(name).read_text() for name in answer_modules()}
    sources.update({f"the answer {grade_id}": code
                    for grade_id, code in release.solution_sources().items()})
    for where, source in sources.items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            computes = isinstance(node, ast.FunctionDef) or (isinstance(node, ast.ClassDef) and any(
                isinstance(inner, ast.FunctionDef) for inner in node.body))  # not a record
            if computes:
                found[f"{where}.{node.name}"] = node
    return found


def _says_something(statement) -> bool:
    """Not a bare call on plain names (``conv_output_size(i, k, stride)``): that is how a
    docstring names a function, not a line of its answer."""
    value = getattr(statement, "value", None)
    return not (isinstance(statement, (ast.Expr, ast.Return)) and isinstance(value, ast.Call)
                and all(isinstance(a, ast.Name) for a in value.args)
                and all(isinstance(k.value, ast.Name) for k in value.keywords))


def answer_statements() -> dict[str, str]:
    """{statement, spaces removed: the answer it comes from}: every statement an answer computes
    with. Not the ``__init__`` of a layer class (the checks state the submodules a block must
    have: they are the exercise's specification), nor argument checks and errors."""
    found = {}
    for where, definition in _answer_definitions().items():
        tree = _without_docstrings(definition)
        for inner in ast.walk(tree):
            if isinstance(inner, ast.FunctionDef) and inner.name == "__init__":
                inner.body = [ast.Pass()]
        for statement in ast.walk(tree):
            if not (isinstance(statement, (ast.Assign, ast.AugAssign, ast.Return, ast.Expr))
                    and _says_something(statement)):
                continue
            text = re.sub(r"\s+", "", ast.unparse(statement))
            if len(text) >= MIN_STATEMENT and "_require" not in text:
                found.setdefault(text, where)
    return found


def _prose(text: str) -> list[str]:
    """The docstrings, other strings and comments of a piece of Python code."""
    found = []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [text]
    found += [node.value for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    import tokenize

    with contextlib.suppress(tokenize.TokenError, IndentationError):
        found += [token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
                  if token.type == tokenize.COMMENT]
    return found


def answers_in_prose(published: dict[str, str]) -> list[str]:
    """An answer's statement written in a docstring, a comment or a message of a published file
    (the learners read those as they read code)."""
    statements = answer_statements()
    leaks = []
    for name, text in published.items():
        if not name.endswith((".py", ".ipynb")):
            continue
        for fragment in _prose(text):
            flat = re.sub(r"\s+", "", fragment)
            for statement, where in statements.items():
                if statement in flat:
                    leaks.append(f"{name}: a docstring, comment or message holds a line of "
                                 f"{where}: {statement[:60]!r}")
    return leaks


NEAR = 0.75  # share of an answer's code (tokens) a published definition may have in common


def _tokens(node) -> list[str]:
    import tokenize

    text = ast.unparse(_without_docstrings(node))
    return [token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
            if token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                                  tokenize.ENDMARKER, tokenize.COMMENT)]


def near_answers(published: dict[str, str]) -> list[str]:
    """A published function or class that is most of an answer of the same kind: a few edits
    from it (like a padded DecoderBlock that becomes the graded one once its padding is dropped
    and its output_size= swapped for a crop)."""
    import difflib

    answers = [(where, type(node), _tokens(node)) for where, node in _answer_definitions().items()]
    leaks = []
    for name, text in published.items():
        if not name.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            mine = _tokens(node)
            for where, kind, theirs in answers:
                if kind is not type(node) or min(len(mine), len(theirs)) < 0.5 * max(
                        len(mine), len(theirs)):
                    continue
                matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
                if matcher.quick_ratio() >= NEAR and matcher.ratio() >= NEAR:
                    leaks.append(f"{name}: {node.name} is {matcher.ratio():.0%} the code of "
                                 f"{where}")
    return leaks


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True, help="the folder to write (DEST)")
    parser.add_argument("--edition", default="graded", choices=EDITIONS)
    parser.add_argument("--repo", default=None, help="the learners' GitHub owner/name (REPO)")
    parser.add_argument("--ref", default=None,
                        help="the tag Colab opens and installs (REF; default course-<commit>)")
    args = parser.parse_args(argv)
    try:
        build(args.dest, args.edition, args.repo or None, ref=args.ref or None)
    except PublishError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
