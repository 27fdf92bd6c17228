"""The learners' copy's table of recorded values (tconv/lookup.py): every kind of value the answer
modules return comes back from recorded.npz as it went in, its type and dtype included, and a
table that ``encode`` cannot have written is refused with what is wrong and what to do."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tconv import lookup

VALUES = {
    "int": 7, "negative int": -3, "large int": 2 ** 40, "float": 1.5, "negative zero": -0.0,
    "infinity": float("inf"), "bool": True, "false": False, "None": None, "string": "text",
    "empty string": "",
    "np.float64": np.float64(0.1), "np.float32": np.float32(0.25), "np.float16": np.float16(2.5),
    "np.int64": np.int64(-5), "np.int8": np.int8(-2), "np.uint16": np.uint16(7),
    "np.bool_": np.bool_(True), "np.complex128": np.complex128(1 + 2j),
    "array": np.arange(6, dtype=np.float64).reshape(2, 3), "float32 array": np.ones(3, np.float32),
    "int array": np.array([1, -2], dtype=np.int32), "bool array": np.array([True, False]),
    "0-d array": np.array(3.0), "empty array": np.zeros((0, 4)),
    "empty int array": np.array([], dtype=np.int64),
    "tensor": torch.arange(4, dtype=torch.float32).reshape(2, 2),
    "tuple": (1, 2.5), "empty tuple": (), "list": [1, "a", None], "empty list": [],
    "not a number": float("nan"),
    "nested": ([np.ones(2), (np.float32(1.0), [np.int64(2), (np.array(0.5),)])],
               [[None, (True, "x")], 3, np.zeros((1, 0))]),
}


def stored(data, arrays: dict, tmp_path):
    """``data`` and ``arrays`` through recorded.npz as publish writes it and the learners' copy
    reads it (JSON in an array named index; no pickles)."""
    path = tmp_path / "recorded.npz"
    np.savez_compressed(path, index=np.array(json.dumps({"k": data})), **arrays)
    with np.load(path, allow_pickle=False) as table:
        read = {name: table[name] for name in table.files}
    return json.loads(str(read.pop("index")))["k"], read


def same(one, other) -> bool:
    """Equal, and of the same type (and dtype) all the way down."""
    if type(one) is not type(other):
        return False
    if isinstance(one, (np.ndarray, np.generic)):
        return one.dtype == other.dtype and one.shape == other.shape and \
            np.array_equal(one, other)
    if isinstance(one, torch.Tensor):
        return one.dtype == other.dtype and torch.equal(one, other)
    if isinstance(one, (tuple, list)):
        return len(one) == len(other) and all(same(a, b) for a, b in zip(one, other))
    if isinstance(one, float) and math.isnan(one):
        return math.isnan(other)
    return one == other and (not isinstance(one, float) or
                             math.copysign(1, one) == math.copysign(1, other))


@pytest.mark.parametrize("value", VALUES.values(), ids=VALUES.keys())
def test_every_kind_of_value_comes_back_as_it_went_in(value, tmp_path):
    """Shown to fail on the encoder that looked at Python's types first: an np.float64 is a
    float, so it was written as ["float", "np.float64(0.1)"], which no float() reads."""
    arrays: dict = {}
    data = lookup.encode(value, arrays)
    assert same(lookup.decode(*stored(data, arrays, tmp_path)), value)


def test_a_decoded_array_is_the_callers_own():
    arrays: dict = {}
    data = lookup.encode(np.zeros(3), arrays)
    lookup.decode(data, arrays)[0] = 1.0
    assert not lookup.decode(data, arrays).any()


def test_a_recorded_exception_is_raised_again():
    arrays: dict = {}
    with pytest.raises(ValueError, match="^stride must be positive$"):
        lookup.decode(lookup.encode(ValueError("stride must be positive"), arrays), arrays)

    class CourseError(Exception):
        pass

    with pytest.raises(Exception, match="^its own words$") as raised:
        lookup.decode(lookup.encode(CourseError("its own words"), arrays), arrays)
    assert type(raised.value).__name__ == "CourseError"


@pytest.mark.parametrize("value", [object(), {1, 2}, 1j, b"bytes"], ids=repr)
def test_what_cannot_be_recorded_is_refused_by_name(value):
    with pytest.raises(TypeError, match=f"cannot record a value of type {type(value).__name__}"):
        lookup.encode(value, {})


ARRAYS = {"a0": np.zeros(2), "a1": np.array(1.0)}
MALFORMED = [
    ({"kind": "int"}, "not a recorded value (a list that starts with a known kind"),
    ([], "not a recorded value"),
    ([3, 1], "not a recorded value"),
    (["complex", "1j"], "not a recorded value"),
    (["int"], "a recorded int is ['int', int]"),
    (["int", "3"], "a recorded int is ['int', int]"),
    (["int", True], "a recorded int is ['int', int]"),
    (["plain", [1]], "a recorded plain is ['plain', NoneType or bool or str]"),
    (["raise", "ValueError"], "a recorded raise is ['raise', str, str]"),
    # what the encoder that looked at Python's types first wrote for an np.float64
    (["float", "np.float64(0.1)"], "'np.float64(0.1)' is not a number"),
    (["ndarray", "a9"], "it names an array 'a9' the table does not hold"),
    (["scalar", "a0"], "a scalar's array has the shape (2,)"),
    (["tensor", 0], "a recorded tensor is ['tensor', str]"),
    (["tuple", "a0"], "a recorded tuple is ['tuple', list]"),
    (["list", [["int", 1], ["bogus"]]], "value ['bogus']: not a recorded value"),
]


@pytest.mark.parametrize("data, why", MALFORMED, ids=[repr(d) for d, _ in MALFORMED])
def test_a_malformed_table_is_refused_with_what_is_wrong_and_what_to_do(data, why):
    """Shown to fail on the decoder that trusted its data: a KeyError, TypeError or IndexError
    from deep inside it, or a ValueError saying nothing of the table."""
    with pytest.raises(ValueError) as raised:
        lookup.decode(data, ARRAYS)
    message = str(raised.value)
    assert message.startswith("recorded.npz holds a malformed value ") and why in message
    assert message.endswith("download it again (instructors: `make publish` again)")


def test_a_learner_looking_up_a_damaged_entry_is_told_to_download_the_copy_again(tmp_path, monkeypatch):
    arguments = {"x": np.arange(3.0)}
    entry = lookup.key("reference.triple", arguments)
    np.savez_compressed(tmp_path / "recorded.npz",
                        index=np.array(json.dumps({entry: ["ndarray", "a7"]})))
    monkeypatch.setattr(lookup, "DATA", tmp_path / "recorded.npz")
    monkeypatch.setattr(lookup, "_TABLE", None)
    with pytest.raises(ValueError, match=r"names an array 'a7' .* download it again"):
        lookup.call("reference.triple", arguments)
