"""The re-check's wire: one declared format (``wire.schema.json``), validated with jsonschema on
the grader's side both ways: the request before it goes to the child, the answers when they come
back. What the schema cannot say, or not fast enough, is checked here (an answer's array holds
numbers, as many as its shape says; the answers' size is capped; a submodule's name is no
attribute of ``nn.Module``). Anything off is ``Malformed``, with where and what. Values are encoded and decoded by ``codec.py``; ``played``
turns one checked answer back into what the learner's code returned (or raises what it raised).
"""

from __future__ import annotations

import builtins
import functools
import json
import math
import secrets
from pathlib import Path

import numpy as np
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ...judge import shortcut as shortcut_failure
from . import codec

SCHEMA = json.loads(Path(__file__).with_name("wire.schema.json").read_text())
CHILD_PROGRAM = (Path(__file__).with_name("codec.py").read_text() + "\n\n"
                 + Path(__file__).with_name("child.py").read_text())

MAX_ANSWER_VALUES = 2_000_000   # all numbers of one notebook's answers together
MAX_ELEMENTS = 10**9            # a block output's reported shape (a stand-in never allocates it)
MAX_TEXT = 500                  # an error message or a description, as the learner sees it


class Malformed(ValueError):
    """A message that is not in the declared form; the text says where and what."""


@functools.cache
def _validator(definition: str) -> Draft202012Validator:
    return Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{definition}"})


def checked(message, definition: str):
    """``message`` if it is a ``definition`` of the schema ("request", "answers", "answer"),
    else Malformed naming the first place it is not."""
    error = best_match(_validator(definition).iter_errors(message))
    if error is not None:
        where = "".join(f"[{part!r}]" for part in error.absolute_path) or " (the whole message)"
        raise Malformed(f"{definition}{where}: {error.message[:200]}")
    return message


# --- the request -------------------------------------------------------------------------------

def request(cells: list[str], calls: list) -> dict:
    """The message to the child: a fresh marker, the code to run, the calls (already encoded
    with ``codec.encode``), checked against the schema."""
    return checked({"marker": f"ANSWERS-{secrets.token_hex(16)}:", "cells": cells,
                    "calls": calls}, "request")


# --- the answers -------------------------------------------------------------------------------

def answers_from(stdout: bytes, marker: str, count: int) -> list:
    """The child's ``count`` answers, from its one line that starts with ``marker``."""
    lines = [line for line in stdout.decode("utf-8", "replace").splitlines()
             if line.startswith(marker)]
    if len(lines) != 1:
        raise Malformed("no answers came back" if not lines else "answers came back twice")
    try:
        answers = json.loads(lines[0][len(marker):])
    except ValueError:
        raise Malformed("the answers are not JSON") from None
    checked(answers, "answers")
    if len(answers) != count:
        raise Malformed(f"expected {count} answers, {len(answers)} came back")
    total = 0
    for answer in answers:
        total += numbers_in(answer)
        if total > MAX_ANSWER_VALUES:
            raise Malformed("the answers hold too many numbers")
    return answers


def validate(answer) -> int:
    """Raise Malformed unless ``answer`` is one answer in the declared form; return how many
    numbers it holds."""
    return numbers_in(checked(answer, "answer"))


def numbers_in(answer) -> int:
    """How many numbers an answer the schema accepted holds, after the checks it cannot make."""
    kind = answer[0]
    if kind in ("int", "float"):
        return 1
    if kind in ("array", "tensor"):
        shape, data = _shape(answer[1]["shape"]), answer[1]["data"]
        if len(data) != math.prod(shape):
            raise Malformed(f"an answer of shape {shape} holds {len(data)} numbers")
        if not all(type(v) in (int, float) for v in data):  # not bool, str, list, None
            raise Malformed("an answer's array holds something other than numbers")
        return len(data)
    if kind == "block":
        return _numbers_in_block(answer[1])
    return 0


def _shape(shape: list) -> list:
    if not all(type(n) is int for n in shape) or math.prod(shape) > MAX_ELEMENTS:
        raise Malformed(f"a shape is not whole numbers of at most {MAX_ELEMENTS} elements")
    return shape


def _numbers_in_block(report: dict) -> int:
    import torch

    taken = set(dir(torch.nn.Module()))  # names a submodule cannot have
    if any(name in taken for name, _, _ in report["children"]):
        raise Malformed("a block's submodule has the name of an attribute of nn.Module")
    for _, size in report["state"]:
        _shape(size)
    total = 0 if report["load"] is None else numbers_in(report["load"])
    for output in report["outputs"]:
        if output[0] == "shape":
            _shape(output[1])
        else:
            total += numbers_in(output)
    return total


def played(answer, function: str):
    """One checked answer, turned back into the value the learner's ``function`` returned, or
    its error raised (an import of PyTorch or the course package: the guard's finding)."""
    kind = answer[0]
    if kind == "none":
        return None
    if kind in ("int", "float"):
        return answer[1]
    if kind in ("array", "tensor"):
        spec = answer[1]
        array = np.array(spec["data"], dtype=np.float64).reshape(spec["shape"])
        if kind == "tensor":
            import torch

            return torch.from_numpy(array)
        return array
    if kind == "error":
        _, name, message = answer
        if name == "ModuleNotFoundError" and any(f"'{m}" in message for m in ("torch", "tconv")):
            raise shortcut_failure(
                function, f"{function}(...)", "PyTorch or the course package, which are not "
                "available when your answer is re-checked (write it with numpy)")
        error_class = getattr(builtins, name, None) if name.isidentifier() else None
        if not (isinstance(error_class, type) and issubclass(error_class, Exception)):
            error_class = type(name if name.isidentifier() else "Error", (Exception,), {})
        raise error_class(message[:MAX_TEXT])
    if kind == "block":  # a block's report where a function's answer belongs
        return object()
    _, type_name, shown = answer
    name = type_name if type_name.isidentifier() else "object"
    return type(name, (), {"__repr__": lambda self: shown[:200]})()


__all__ = ["CHILD_PROGRAM", "Malformed", "SCHEMA", "answers_from", "checked", "codec", "played",
           "request", "validate"]
