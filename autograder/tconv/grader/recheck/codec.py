"""The re-check's values on the wire, both ways, in one place: the arguments the grader sends
(``encode``, read back by the child with ``decode``) and the answers the child sends back
(``encode_answer``; the grader turns them back into values with ``wire.played``). Their form is
declared in ``wire.schema.json``.

Standalone on purpose (numpy, and PyTorch only when a value is a tensor): the child's program is
this file's text followed by ``child.py``'s, as the course package is not importable in its
sandbox.
"""

import sys


def encode(value):
    """Arguments as JSON: arrays and tensors with their dtype and shape, tuples kept apart."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return {"__array__": {"dtype": str(value.dtype), "shape": list(value.shape),
                              "data": value.ravel().tolist()}}
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        return {"__tensor__": encode(value.detach().numpy())["__array__"]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


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
