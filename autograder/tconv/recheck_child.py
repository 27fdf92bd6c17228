"""The child half of the re-check (see recheck.py): run a learner's code, call their functions.

    python -m tconv.recheck_child REQUEST.pkl ANSWERS.pkl

REQUEST holds the code cells to run, in order, and the calls to make: (function name, args,
kwargs). ANSWERS receives one encoded answer per call: numbers only (plain float64 arrays, ints,
floats), an error's type name and message, or the shortcut the call took. Nothing the learner's
code does here can change a verdict: the verdicts are given by the parent process, which never
runs learner code.
"""

from __future__ import annotations

import pickle
import sys


def encode(answer):
    """A learner's return value reduced to plain numbers (and the kind it was)."""
    import numpy as np

    if answer is None:
        return ("none",)
    if isinstance(answer, bool):
        return ("other", "bool", repr(answer))
    if isinstance(answer, int) or type(answer).__module__ == "numpy" and np.ndim(answer) == 0 \
            and np.issubdtype(np.asarray(answer).dtype, np.integer):
        return ("int", int(answer))
    if isinstance(answer, float) or (type(answer).__module__ == "numpy" and np.ndim(answer) == 0):
        return ("float", float(answer))
    if "torch" in sys.modules and isinstance(answer, sys.modules["torch"].Tensor):
        return ("tensor", np.array(answer.detach().cpu().numpy(), dtype=np.float64))
    try:
        return ("array", np.array(answer, dtype=np.float64))
    except Exception:
        return ("other", type(answer).__name__, repr(answer)[:200])


def main(request_path: str, answers_path: str) -> None:
    with open(request_path, "rb") as file:
        request = pickle.load(file)
    from IPython.core.inputtransformer2 import TransformerManager

    from tconv import guard

    namespace = {"__name__": "__main__"}
    transform = TransformerManager().transform_cell
    for source in request["cells"]:
        try:
            exec(compile(transform(source), "<learner cell>", "exec"), namespace)
        except BaseException:  # noqa: BLE001 - a failing cell fails here as it did in the notebook
            continue
    answers = []
    for name, args, kwargs in request["calls"]:
        function = namespace.get(name)
        if function is None:
            answers.append(("error", "NameError", f"name '{name}' is not defined"))
            continue
        try:
            with guard.watch() as shortcuts:
                answer = function(*args, **kwargs)
            answers.append(("shortcut", shortcuts[0]) if shortcuts else encode(answer))
        except BaseException as error:  # noqa: BLE001 - reported to the learner as their error
            answers.append(("error", type(error).__name__, str(error)[:500]))
    with open(answers_path, "wb") as file:
        pickle.dump(answers, file)


if __name__ == "__main__":
    main(*sys.argv[1:3])
