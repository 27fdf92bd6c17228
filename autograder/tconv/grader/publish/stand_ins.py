"""The graded copy's answer modules: for each module the registry says holds answers, a generated
module of the same public names whose functions look their values up in ``recorded.npz``, fall
back to the exercise's PyTorch twin (``exercises.pytorch_twin``) for arguments not recorded, and
otherwise say the case is checked at grading. The module's text is the template
``templates/stand_in.py.j2``; this module says what goes into it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json

from ... import exercises
from .. import front_door
from . import PublishError
from .recording import is_mistake_list


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


def first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.splitlines()[0] if doc else ""


def _docstring(text: str) -> str:
    return json.dumps(text, ensure_ascii=False) if text else ""


def _function(name: str, attribute: str, function, twins: set) -> dict:
    qualname = f"{name}.{attribute}"
    signature, passed = _signature_text(function)
    fallback = "None"
    twin = exercises.pytorch_twin(qualname)
    if twin is not None:
        if not exercises.accepts(twin, function):
            raise PublishError(f"{qualname}'s PyTorch twin {twin.__module__}.{twin.__name__} does "
                               f"not take its parameters: the learners' copy calls it with the "
                               f"answer's arguments, by name")
        home = exercises.home_of(twin)
        fallback = f"_{home}.{twin.__name__}"
        twins.add(home)
    return dict(kind="function", name=attribute, signature=signature, passed=passed,
                qualname=qualname, fallback=fallback, doc=_docstring(first_line(function)))


def _mistakes(name: str, attribute: str, value: list, imported: set) -> dict:
    kind = type(value[0])
    fields = [f.name for f in dataclasses.fields(kind) if f.name != "compute"]
    imported.add((kind.__module__.split(".")[-1], kind.__name__))  # Mistake, from tconv.judge
    entries = [dict(fields=", ".join(f"{field}={getattr(mistake, field)!r}" for field in fields),
                  key=f"{name}.{attribute}[{n}]") for n, mistake in enumerate(value)]
    return dict(kind="mistakes", name=attribute, cls=kind.__name__, entries=entries)


def _layer(name: str, attribute: str, cls) -> dict:
    init_signature, init_passed = _signature_text(cls.__init__, skip_first=True)
    forward_signature, forward_passed = _signature_text(cls.forward, skip_first=True)
    return dict(kind="layer", name=attribute, qualname=f"{name}.{attribute}",
                doc=_docstring(first_line(cls)), init_signature=init_signature,
                init_passed=init_passed.replace("'self': self, ", ""),
                forward_signature=forward_signature, forward_passed=forward_passed)


def stand_in_source(name: str) -> str:
    """The learners' copy of answer module ``name``: the same public names, answering from the
    recorded table (and from the exercises' PyTorch twins)."""
    import torch

    module = importlib.import_module(f"tconv.{name}")
    parts, records, twins, imported = [], [], set(), set()
    for attribute, value in vars(module).items():
        if attribute.startswith("_") and attribute != "__all__":
            continue
        mine = getattr(value, "__module__", None) == module.__name__
        if attribute == "__all__":
            parts.append(dict(kind="constant", name=attribute, value=list(value)))
        elif inspect.isfunction(value) and mine:
            parts.append(_function(name, attribute, value, twins))
        elif is_mistake_list(value):
            parts.append(_mistakes(name, attribute, value, imported))
        elif inspect.isclass(value) and mine and issubclass(value, torch.nn.Module):
            parts.append(_layer(name, attribute, value))
        elif inspect.isclass(value) and mine and dataclasses.is_dataclass(value):
            doc = first_line(value)
            records.append(dict(name=attribute, fields=[f.name for f in dataclasses.fields(value)],
                                doc="" if doc.startswith(f"{attribute}(") else _docstring(doc)))
        elif inspect.isclass(value) and mine:
            raise PublishError(f"tconv.{name}.{attribute} is a class the learners' copy cannot "
                               f"stand in for: teach tconv.grader.publish.stand_ins")
        elif isinstance(value, (int, float, str, bool, type(None))) or (
                isinstance(value, tuple) and all(isinstance(v, (int, float, str)) for v in value)):
            parts.append(dict(kind="constant", name=attribute, value=value))
        elif inspect.ismodule(value) or getattr(value, "__module__", module.__name__) != module.__name__:
            continue  # imported names
        else:
            raise PublishError(f"tconv.{name}.{attribute} ({type(value).__name__}) has no stand-in "
                               f"in the learners' copy: teach tconv.grader.publish.stand_ins")
    return front_door.render(
        "stand_in.py.j2", name=name, parts=parts, records=records, twins=sorted(twins),
        imported=sorted(imported), mistakes=any(p["kind"] == "mistakes" for p in parts),
        layers=any(p["kind"] == "layer" for p in parts))
