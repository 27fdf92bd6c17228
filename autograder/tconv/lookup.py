"""Expected values looked up by argument: how the learners' copy checks answers without the answers.

The learners' copy of the course (``make publish``) ships no reference implementation of a graded
exercise. In its place, ``tconv.grader.publish`` records, while the course's own notebooks run, what the
reference implementations and the known mistakes return for every argument the learners'
notebooks give them (their visible checks, pictures and examples), and stores it in
``recorded.npz`` beside this file. The published answer modules (``reference``, ``mistakes``,
``unet_reference``, ...: those the registry declares) answer from that table; for arguments not in
it they ask the exercise's PyTorch twin (``tconv.pytorch``), and otherwise say that the case is
checked at grading time.

This module is shared by both sides: ``tconv.grader.publish`` uses ``key`` and ``encode`` to record,
the published modules use ``call`` and ``structure`` to look up. It holds no answer.
"""

from __future__ import annotations

import builtins
import hashlib
import inspect
import json
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).with_name("recorded.npz")
GRADED_LATER = ("this case is checked when your notebook is graded: the learners' copy of the "
                "course holds expected values only for the cases its notebooks use")


class NotPublished(LookupError):
    """No expected value for these arguments in the learners' copy."""


# --- keys: a digest of the arguments, the same in the instructors' and the learners' copy ------

def _feed(value, digest) -> None:
    torch = sys.modules.get("torch")
    if isinstance(value, np.generic):  # first: np.float64 is a float too
        digest.update(f"np.{value.dtype.str}:{value.item()!r};".encode())
    elif value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("an array of Python objects")
        digest.update(f"nd:{value.dtype.str}:{value.shape};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (tuple, list)):
        digest.update(f"{type(value).__name__}[{len(value)}];".encode())
        for item in value:
            _feed(item, digest)
    elif isinstance(value, dict):
        digest.update(f"dict[{len(value)}];".encode())
        for name in sorted(value, key=str):
            _feed(str(name), digest)
            _feed(value[name], digest)
    elif torch is not None and isinstance(value, torch.Tensor):
        _feed(("tensor", str(value.dtype), value.detach().cpu().numpy()), digest)
    elif torch is not None and isinstance(value, torch.nn.Module):
        # a module is known by its weights (and its mode), not by its class or identity
        _feed(("module", value.training, dict(value.state_dict())), digest)
    else:
        raise TypeError(f"an argument of type {type(value).__name__}")


def key(name: str, arguments) -> str:
    """The table's key for calling ``name`` with ``arguments`` (a tuple, or a dict of them)."""
    digest = hashlib.sha256(name.encode() + b"\0")
    _feed(arguments, digest)
    return digest.hexdigest()[:40]


def bound(function, args: tuple, kwargs: dict) -> dict:
    """``{parameter: value}`` of one call, defaults filled in: keyword or positional, one key."""
    signature = inspect.signature(function)
    binding = signature.bind(*args, **kwargs)
    binding.apply_defaults()
    return dict(binding.arguments)


# --- values: numbers and arrays as JSON plus named arrays ---------------------------------------

def encode(value, arrays: dict):
    """``value`` as JSON-able data; arrays go into ``arrays`` under the names the data holds.
    A numpy scalar is kept as one, with its dtype (np.float64 is a float too: it is looked at
    first), and a raised exception as what ``decode`` raises again."""
    torch = sys.modules.get("torch")
    if isinstance(value, BaseException):
        return ["raise", type(value).__name__, str(value)]
    if isinstance(value, (np.ndarray, np.generic)):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return ["ndarray" if isinstance(value, np.ndarray) else "scalar", name]
    if torch is not None and isinstance(value, torch.Tensor):
        name = f"a{len(arrays)}"
        arrays[name] = value.detach().cpu().numpy().copy()
        return ["tensor", name]
    if value is None or isinstance(value, (bool, str)):
        return ["plain", value]
    if isinstance(value, int):
        return ["int", int(value)]
    if isinstance(value, float):
        return ["float", repr(float(value))]
    if isinstance(value, (tuple, list)):
        return [type(value).__name__, [encode(item, arrays) for item in value]]
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


# what ``encode`` writes: its kind, then these items (the arrays' kinds name one of ``arrays``)
_ITEMS = {"raise": (str, str), "plain": ((type(None), bool, str),), "int": (int,),
          "float": (str,), "ndarray": (str,), "scalar": (str,), "tensor": (str,),
          "tuple": (list,), "list": (list,)}


def decode(data, arrays):
    """The value ``encode`` wrote as ``data`` (an exception it recorded is raised). Data that
    ``encode`` cannot have written (a damaged or hand-edited recorded.npz, or one of another
    version of the course) is a ValueError that says what is wrong with it."""
    kind = data[0] if isinstance(data, list) and data else None
    items = _ITEMS.get(kind) if isinstance(kind, str) else None
    if items is None:
        raise _malformed(data, "not a recorded value (a list that starts with a known kind: "
                               f"{', '.join(_ITEMS)})")
    if len(data) != 1 + len(items) or not all(
            isinstance(item, wanted) and not (wanted is int and isinstance(item, bool))
            for item, wanted in zip(data[1:], items)):
        raise _malformed(data, f"a recorded {kind} is [{kind!r}, "
                               f"{', '.join(_names(wanted) for wanted in items)}]")
    if kind == "raise":
        _, name, message = data
        error = getattr(builtins, name, None)
        if not (isinstance(error, type) and issubclass(error, Exception)):
            error = type(name, (Exception,), {})
        raise error(message)
    if kind in ("plain", "int"):
        return data[1]
    if kind == "float":
        try:
            return float(data[1])
        except ValueError:
            raise _malformed(data, f"{data[1]!r} is not a number") from None
    if kind in ("ndarray", "scalar", "tensor"):
        if data[1] not in arrays:
            raise _malformed(data, f"it names an array {data[1]!r} the table does not hold")
        array = arrays[data[1]]
        if kind == "scalar":
            if array.shape != ():
                raise _malformed(data, f"a scalar's array has the shape {array.shape}")
            return array[()]
        if kind == "tensor":
            import torch

            return torch.from_numpy(array.copy())
        return array.copy()
    items = [decode(item, arrays) for item in data[1]]
    return tuple(items) if kind == "tuple" else items


def _malformed(data, why: str) -> ValueError:
    shown = repr(data)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return ValueError(f"recorded.npz holds a malformed value {shown}: {why}. This copy of the "
                      f"course is damaged or out of date: download it again (instructors: "
                      f"`make publish` again)")


def _names(types) -> str:
    return " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))


# --- the learners' side -------------------------------------------------------------------------

_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        if not DATA.exists():
            raise NotPublished(f"{DATA} is missing: reinstall the course package")
        with np.load(DATA, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        index = json.loads(str(arrays.pop("index")))
        _TABLE = (index, arrays)
    return _TABLE


def _shown(arguments) -> str:
    parts = []
    for name, value in arguments.items():
        if isinstance(value, np.ndarray) or hasattr(value, "shape"):
            parts.append(f"{name}=<array of shape {tuple(value.shape)}>")
        else:
            text = repr(value)
            parts.append(f"{name}={text if len(text) < 40 else text[:37] + '...'}")
    return ", ".join(parts)


def call(name: str, arguments: dict, fallback=None):
    """What the course's ``name`` returns (or raises) for ``arguments``, from the table; else
    ``fallback(**arguments)`` (PyTorch) if there is one; else ``NotPublished``."""
    index, arrays = _table()
    try:
        found = index.get(key(name, arguments))
    except TypeError:
        found = None
    if found is not None:
        return decode(found, arrays)
    if fallback is not None:
        try:
            return fallback(**arguments)
        except (RuntimeError, ValueError) as error:  # PyTorch's own words, as a ValueError
            raise ValueError(f"PyTorch rejects these arguments: "
                             f"{str(error).splitlines()[0]}") from None
    raise NotPublished(f"{name.split('.')[-1]}({_shown(arguments)}): {GRADED_LATER}.")


def call_positional(name: str, args: tuple):
    """Like ``call`` for a known mistake, which is called with the case's arguments in order.
    A mistake with no recorded value is skipped by the checks (it cannot be told apart)."""
    index, arrays = _table()
    try:
        found = index.get(key(name, tuple(args)))
    except TypeError:
        found = None
    if found is None:
        raise NotPublished(f"{name}: {GRADED_LATER}.")
    return decode(found, arrays)


def structure(name: str, arguments: dict) -> list:
    """The submodules a course module class builds for ``arguments``: [(attribute, module)]."""
    import torch

    index, arrays = _table()
    found = index.get(key(name + ".__init__", arguments))
    if found is None:
        raise NotPublished(f"{name.split('.')[-1]}({_shown(arguments)}): {GRADED_LATER}.")
    parts = []
    for attribute, class_name, settings in found[1]:
        parts.append((attribute, getattr(torch.nn, class_name)(**settings)))
    return parts
