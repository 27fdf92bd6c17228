"""The re-check's one wire format (tconv/grader/recheck/wire.py, wire.schema.json, codec.py): what
the grader encodes the child decodes to the same values, what the child encodes the grader plays
back as the same values, and a message out of form is refused with where and what. No sandbox:
the child's side is called in this process (the real child: test_recheck_blocks.py,
test_hidden_cases.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tconv.grader.recheck import child, codec, wire

ARGUMENTS = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, -2], dtype=np.int64),
             torch.linspace(0, 1, 4, dtype=torch.float64).reshape(1, 4), (1, 2.5, None),
             {"stride": (2, 1), "padding": [0, 1], "flag": True, "name": "same"}, [[1, 2], ()]]


def same(one, other) -> bool:
    if isinstance(one, torch.Tensor):
        return isinstance(other, torch.Tensor) and one.dtype == other.dtype and \
            torch.equal(one, other)
    if isinstance(one, np.ndarray):
        return isinstance(other, np.ndarray) and one.dtype == other.dtype and \
            np.array_equal(one, other)
    if isinstance(one, (list, tuple)):
        return type(one) is type(other) and len(one) == len(other) and \
            all(same(a, b) for a, b in zip(one, other))
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(same(one[k], other[k]) for k in one)
    return type(one) is type(other) and one == other


def test_arguments_arrive_as_they_were_sent():
    """encode (grader) -> the request, checked -> JSON -> decode (child): the same values, dtypes,
    shapes, tuples and lists apart."""
    message = wire.request(["x = 1"], [["f", codec.encode(ARGUMENTS), codec.encode({"k": 3})]])
    received = json.loads(json.dumps(message))
    name, args, kwargs = received["calls"][0]
    assert name == "f" and same(child.decode(args), ARGUMENTS) and child.decode(kwargs) == {"k": 3}
    assert received["marker"].startswith("ANSWERS-") and received["cells"] == ["x = 1"]


def test_answers_come_back_as_the_learners_code_returned_them():
    """encode_answer (child) -> one line of stdout -> answers_from (checked) -> played (grader)."""
    returned = [None, 3, np.int64(4), 2.5, np.arange(4.0).reshape(2, 2),
                torch.ones(2, 3, dtype=torch.float64), "not numbers", True]
    marker = "ANSWERS-" + "0" * 32 + ":"
    stdout = f"noise\n{marker}{json.dumps([child.encode_answer(v) for v in returned])}\n"
    answers = wire.answers_from(stdout.encode(), marker, len(returned))
    played = [wire.played(answer, "f") for answer in answers]
    assert played[:4] == [None, 3, 4, 2.5]
    assert same(played[4], np.arange(4.0).reshape(2, 2))
    assert same(played[5], torch.ones(2, 3, dtype=torch.float64))
    assert repr(played[6]) == "'not numbers'" and type(played[6]).__name__ == "str"
    assert repr(played[7]) == "True"  # a bool is described, not taken for a number


def test_an_error_comes_back_as_the_same_error():
    answer = json.loads(json.dumps(child.failure(ValueError("stride must be positive"))))
    assert wire.validate(answer) == 0
    with pytest.raises(ValueError, match="stride must be positive"):
        wire.played(answer, "f")


@pytest.mark.parametrize("message, said", [
    ('[["array", {"dtype": "float64", "shape": [2], "data": ["x", 1]}]]',
     "an answer's array holds something other than numbers"),
    ('[["array", {"dtype": "float64", "shape": [1], "data": [true]}]]',
     "an answer's array holds something other than numbers"),
    ('[["array", {"dtype": "object", "shape": [1], "data": [1]}]]',
     "answers[0][1]['dtype']: 'float64' was expected"),
    ('[["array", {"dtype": "float64", "shape": [3], "data": [1]}]]',
     "an answer of shape [3] holds 1 numbers"),
    ('[["int"]]', "answers[0]: ['int'] is too short"),
    ('[["pickle", "..."]]', "answers[0][0]: 'pickle' is not one of ['none', 'int', 'float', "
                            "'error', 'other', 'array', 'tensor', 'block']"),
    ('{"answers": []}', "answers (the whole message): {'answers': []} is not of type 'array'"),
    ('[["none"], ["none"]]', "expected 1 answers, 2 came back"),
])
def test_a_malformed_answer_is_refused_saying_where_and_what(message, said):
    """Shown to fail with the schema check taken out of answers_from (four of them then pass)."""
    marker = "ANSWERS-" + "0" * 32 + ":"
    with pytest.raises(wire.Malformed) as refused:
        wire.answers_from(f"{marker}{message}".encode(), marker, 1)
    assert str(refused.value) == said


def test_a_request_out_of_form_is_not_sent():
    with pytest.raises(wire.Malformed, match=r"request\['calls'\]\[0\]\[0\]: 'my function' does "
                                             r"not match"):
        wire.request(["x = 1"], [["my function", [], {}]])
    with pytest.raises(wire.Malformed, match=r"request\['calls'\]\[0\]\[1\]\[0\]\['__array__'\]: "
                                             r"'data' is a required property"):
        wire.request([], [["f", [{"__array__": {"dtype": "float64", "shape": [1]}}], {}]])


def test_the_child_keeps_the_schemas_limits():
    """child.py cannot read the schema (the course package is not in its sandbox): its limits are
    written there again, and must be the schema's."""
    block = wire.SCHEMA["$defs"]["block"]["properties"]
    settings = block["children"]["items"]["prefixItems"][2]["propertyNames"]["enum"]
    assert tuple(settings) == child.SETTINGS
    assert wire.SCHEMA["$defs"]["name"]["maxLength"] == child.MAX_NAME
    assert block["children"]["maxItems"] == block["state"]["maxItems"] == child.MAX_PARTS
    assert wire.SCHEMA["$defs"]["text"]["maxLength"] >= 500  # child.failure cuts at 500
    assert wire.CHILD_PROGRAM.startswith(open(codec.__file__).read())
