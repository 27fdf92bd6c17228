"""The re-check child: run a learner's code cells, call their functions, print the answers.

    python -c "$(cat codec.py child.py)" < request.json     (in a Sandbox; see judge.py)

Standalone on purpose: it imports nothing of the course, because inside its sandbox the course
package (and, for numpy-only exercises, PyTorch) is not there to import. The request on stdin is
JSON, in the form ``wire.schema.json`` declares (the grader validates it before sending; jsonschema
is not importable here): {"marker": str, "cells": [source, ...], "calls": [[function, args,
kwargs], ...]}, values in ``codec.py``'s form (its text runs before this file's). A call with a
fourth element is a block's life (``blocks.py``): build the learner's class with args
and kwargs, report its submodules and parameters, load the given weights, run it on each input.
The answer is one line on the original stdout: the marker, then a JSON list with one encoded
answer per call. Whatever the learner's code prints goes nowhere.
"""

import json
import os
import sys

try:  # in the package (the tests); in the sandbox, codec.py's text comes before this file's
    from .codec import decode, encode_answer
except ImportError:
    pass


# What a block's report holds (wire.schema.json declares the same limits): the submodule settings
# the checks read (see unet_checks._decoder_parts), and at most MAX_PARTS submodules and parameters,
# each name cut to MAX_NAME characters.
SETTINGS = ("in_channels", "out_channels", "kernel_size", "stride", "padding")
MAX_NAME = 100
MAX_PARTS = 64


def setting(value):
    """A submodule's setting as JSON, if it is an int or a short tuple of ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, tuple) and len(value) <= 3 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def failure(raised):
    return ["error", type(raised).__name__, str(raised)[:500]]


def live(block_class, args, kwargs, plan):
    """One block's life (see blocks.py): ["block", report], or the error building it raised."""
    import torch

    block = block_class(*args, **kwargs)
    if not isinstance(block, torch.nn.Module):
        return ["other", type(block).__name__, repr(block)[:200]]
    children = []
    for name, module in list(block.named_children())[:MAX_PARTS]:
        found = {key: setting(getattr(module, key, None)) for key in SETTINGS}
        children.append([str(name)[:MAX_NAME], type(module).__name__[:MAX_NAME],
                         {key: value for key, value in found.items() if value is not None}])
    state = [[str(key)[:MAX_NAME], [int(n) for n in value.shape]]
             for key, value in list(block.state_dict().items())[:MAX_PARTS]]
    report = {"children": children, "state": state, "load": None, "outputs": []}
    if plan["state"] is not None:
        try:
            block.load_state_dict(decode(plan["state"]))
            block.eval()
        except BaseException as raised:  # noqa: BLE001 - reported as the learner's error
            report["load"] = failure(raised)
    for inputs in plan["forwards"]:
        try:
            with torch.no_grad():
                output = block(*decode(inputs))
        except BaseException as raised:  # noqa: BLE001 - reported as the learner's error
            report["outputs"].append(failure(raised))
            continue
        if not plan["values"] and isinstance(output, torch.Tensor):
            report["outputs"].append(["shape", [int(n) for n in output.shape]])
        else:
            report["outputs"].append(encode_answer(output))
    return ["block", report]


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
    for name, args, kwargs, *plan in request["calls"]:
        function = namespace.get(name)
        if function is None:
            answers.append(blocked or ["error", "NameError", f"name '{name}' is not defined"])
            continue
        try:
            if plan:
                answers.append(live(function, decode(args), decode(kwargs), plan[0]))
            else:
                answers.append(encode_answer(function(*decode(args), **decode(kwargs))))
        except BaseException as raised:  # noqa: BLE001 - reported to the learner as their error
            answers.append(failure(raised))
    answers_out.write(request["marker"] + json.dumps(answers) + "\n")
    answers_out.flush()


if __name__ == "__main__":
    main()
