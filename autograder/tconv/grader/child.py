"""The re-check child: run a learner's code cells, call their functions, print the answers.

    python child.py < request.json     (inside a Sandbox; see verdicts.py)

Standalone on purpose: it imports nothing of the course, because inside its sandbox the course
package (and, for numpy-only exercises, PyTorch) is not there to import. The request on stdin is
JSON: {"marker": str, "cells": [source, ...], "calls": [[function, args, kwargs], ...]} with
arrays encoded by ``codec.py``'s rules (repeated below, as this file cannot import it). The answer
is one line on the original stdout: the marker, then a JSON list with one encoded answer per call.
Whatever the learner's code prints goes nowhere.
"""

import json
import os
import sys

MAX_ARRAY = 1_000_000   # values in one answer; more is reported as a wrong answer


def decode(value):
    import numpy as np

    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__array__" in value or "__tensor__" in value:
            spec = value.get("__array__") or value.get("__tensor__")
            array = np.array(spec["data"], dtype=spec["dtype"]).reshape(spec["shape"])
            if "__tensor__" in value:
                import torch

                return torch.from_numpy(array)
            return array
        return {k: decode(v) for k, v in value.items()}
    return value


def encode_answer(answer):
    import numpy as np

    if answer is None:
        return ["none"]
    if isinstance(answer, bool):
        return ["other", "bool", repr(answer)]
    if isinstance(answer, int) or (type(answer).__module__ == "numpy" and np.ndim(answer) == 0
                                   and np.issubdtype(np.asarray(answer).dtype, np.integer)):
        return ["int", int(answer)]
    if isinstance(answer, float) or (type(answer).__module__ == "numpy" and np.ndim(answer) == 0):
        return ["float", float(answer)]
    kind = "array"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(answer, torch.Tensor):
        kind, answer = "tensor", answer.detach().cpu().numpy()
    try:
        array = np.array(answer, dtype=np.float64)
    except Exception:  # noqa: BLE001 - not numbers: described, not judged as numbers
        return ["other", type(answer).__name__, repr(answer)[:200]]
    if array.size > MAX_ARRAY:
        return ["other", type(answer).__name__, f"an array of {array.size} values"]
    return [kind, {"dtype": "float64", "shape": list(array.shape),
                   "data": [float(v) for v in array.ravel().tolist()]}]


def main():
    request = json.loads(sys.stdin.read())
    answers_out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        transform = TransformerManager().transform_cell
    except Exception:  # noqa: BLE001 - plain Python then
        def transform(source):
            return source
    namespace = {"__name__": "__main__"}
    blocked = None  # a cell that stopped at an import of a hidden package
    for source in request["cells"]:
        try:
            exec(compile(transform(source), "<learner cell>", "exec"), namespace)
        except ImportError as error:
            blocked = blocked or ["error", "ModuleNotFoundError", str(error)[:500]]
        except BaseException:  # noqa: BLE001 - a failing cell fails here as in the notebook
            continue
    answers = []
    for name, args, kwargs in request["calls"]:
        function = namespace.get(name)
        if function is None:
            answers.append(blocked or ["error", "NameError", f"name '{name}' is not defined"])
            continue
        try:
            answers.append(encode_answer(function(*decode(args), **decode(kwargs))))
        except BaseException as error:  # noqa: BLE001 - reported to the learner as their error
            answers.append(["error", type(error).__name__, str(error)[:500]])
    answers_out.write(request["marker"] + json.dumps(answers) + "\n")
    answers_out.flush()


if __name__ == "__main__":
    main()
