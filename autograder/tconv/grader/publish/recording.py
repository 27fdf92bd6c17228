"""The recorder: run inside a chapter's kernel, it wraps the answer modules and records what
every call returns, then calls every visible check once more per case with an answer wrong at
that case, so that the known mistakes' results are recorded too (``tables.record_chapter``).

Imported in the kernel before the notebook's own imports, and importing nothing of the registry:
the registry keeps the functions it imports, so the answer modules must be wrapped first.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import sys

import numpy as np

from ... import lookup
from . import PublishError


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
