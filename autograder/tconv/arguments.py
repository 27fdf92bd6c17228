"""Argument checks shared by the reference implementations and the chapters' checks.

Every function here raises a ``TypeError`` or ``ValueError`` that names the argument and the
allowed range. It holds no answer, so the learners' copy of the course (``make publish``) ships it
as it is.
"""

from __future__ import annotations

import numbers

import numpy as np


def require_int(name: str, value, minimum: int | None) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and the allowed range (``minimum``
    None: any int)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        wanted = "an int" if minimum is None else f"an int >= {minimum}"
        raise TypeError(f"{name}={value!r} must be {wanted}, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value} must be an int >= {minimum}")
    return int(value)


def require_pair(name: str, value, minimum: int | None) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair of ints, as a pair; raise naming ``name`` and the range
    (``minimum`` None: any ints)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            ints = "ints" if minimum is None else f"ints >= {minimum}"
            raise ValueError(f"{name}={value!r} must be an int or a pair (h, w) of {ints}")
        return (require_int(f"{name}[0]", value[0], minimum),
                require_int(f"{name}[1]", value[1], minimum))
    value = require_int(name, value, minimum)
    return value, value



def pair(value) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair as a pair, for a value a case already holds."""
    return require_pair("value", value, None)
def require_array(name: str, value, ndim: int, layout: str) -> np.ndarray:
    """``value`` as a float64 array with ``ndim`` axes, none of them empty."""
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array of shape {layout}, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)
