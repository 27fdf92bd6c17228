"""The re-check of chapter 06's ``DecoderBlock``: a class, judged from data like the functions.

A check of a function records the calls it makes and plays the learner's answers back (see
``verdicts.py``). A check of a class does more with what it is given: it builds blocks, reads their
submodules and parameter names, loads weights into them and runs them. So each block the check
builds is recorded as a *life*: the arguments it was built with, the weights loaded into it, the
inputs it was run on. The child (``child.py``) lives the same lives with the learner's class and
returns, for each, plain data: the submodules (class name and the settings the check reads), the
parameter names and shapes, an error if loading failed, and each output as numbers (or, where the
check needs only the shape, as a shape). Here a *stand-in* block is built from that data, an
``nn.Module`` whose submodules carry the reported names and settings and whose forward returns the
reported outputs in order, and the unchanged check runs on it. Nothing the learner wrote is
imported or run in this process.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

# The report's form is the child's: the settings it reads and how much of a block it reports.
from tconv.grader.child import MAX_NAME, MAX_PARTS, SETTINGS

MAX_ELEMENTS = 10**9    # a reported shape's product (a stand-in never allocates it)

# Which checks are re-checked this way is declared in the registry (``exercises.Exercise.answers``:
# "blocks", or "block shapes" where the check needs only each output's shape).


@dataclass
class Life:
    """One block the check built while recording: how, with which weights, run on what."""
    args: tuple
    kwargs: dict
    state: dict | None = None                      # name -> tensor, if weights were loaded
    forwards: list = field(default_factory=list)   # [(x, skip)] the block was run on
    values: bool = True                            # False: return only each output's shape

    def request(self, encode) -> dict:
        return {"state": None if self.state is None else encode(self.state),
                "forwards": [encode(list(inputs)) for inputs in self.forwards],
                "values": self.values}


def recorder(lives: list, values: bool, build):
    """A class to put in the learner's place while recording: ``build(*args)`` (the registry's
    reference) makes a reference block, which writes down its life in ``lives``."""
    class Recorder:
        def __new__(cls, *args, **kwargs):
            block = build(*args, **kwargs)
            life = Life(args, kwargs, values=values)
            lives.append(life)
            load = block.load_state_dict

            def load_state_dict(state, *more, **options):
                life.state = {name: value.detach().clone() for name, value in state.items()}
                return load(state, *more, **options)

            def remember(module, inputs):
                life.forwards.append(tuple(x.detach().clone() for x in inputs))

            block.load_state_dict = load_state_dict
            block.register_forward_pre_hook(remember)
            return block

    return Recorder


# --- what comes back ------------------------------------------------------------------------------

def validate(spec, validate_answer, malformed) -> int:
    """Raise ``malformed`` unless ``spec`` is one block's report; return how many numbers it has."""
    def name(value):
        return isinstance(value, str) and 0 < len(value) <= MAX_NAME

    def shape(value):
        if not (isinstance(value, list) and len(value) <= 8
                and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in value)):
            return False
        product = 1
        for n in value:
            product *= n
        return product <= MAX_ELEMENTS

    def setting(value):
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, list) and len(value) <= 3
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value))

    import torch

    taken = set(dir(torch.nn.Module()))  # names a submodule cannot have
    if not (isinstance(spec, dict) and set(spec) == {"children", "state", "load", "outputs"}):
        raise malformed("a block's report does not have the agreed fields")
    children, state, outputs = spec["children"], spec["state"], spec["outputs"]
    if not (isinstance(children, list) and len(children) <= MAX_PARTS and all(
            isinstance(c, list) and len(c) == 3 and name(c[0]) and name(c[1])
            and c[0].isidentifier() and c[0] not in taken and c[1].isidentifier() and isinstance(c[2], dict)
            and all(k in SETTINGS and setting(v) for k, v in c[2].items()) for c in children)):
        raise malformed("a block's submodules are not in the agreed form")
    if not (isinstance(state, list) and len(state) <= MAX_PARTS
            and all(isinstance(s, list) and len(s) == 2 and name(s[0]) and shape(s[1])
                    for s in state)):
        raise malformed("a block's parameters are not in the agreed form")
    if spec["load"] is not None:
        validate_answer(spec["load"])
    if not (isinstance(outputs, list) and len(outputs) <= MAX_PARTS):
        raise malformed("a block's outputs are not a list")
    total = 0
    for output in outputs:
        if isinstance(output, list) and output[:1] == ["shape"]:
            if not (len(output) == 2 and shape(output[1])):
                raise malformed("an output's shape is not in the agreed form")
        else:
            total += validate_answer(output)
    return total


def played_class(function: str, reports: list, played):
    """The learner's class, as the check sees it on replay: building it returns the next stand-in
    (or raises the error the learner's constructor raised). ``played`` turns an answer back into
    a value or raises its error (``verdicts._played``)."""
    queue = iter(reports)

    class Played:
        def __new__(cls, *args, **kwargs):
            report = next(queue)
            if report[0] != "block":
                return played(report, function)
            return stand_in(report[1], function, played)

    Played.__name__ = Played.__qualname__ = function
    return Played


def stand_in(spec: dict, function: str, played):
    """An ``nn.Module`` that shows the reported submodules and parameters and returns the
    reported outputs, in order."""
    import torch

    outputs = iter(spec["outputs"])

    def shaped(output):
        if isinstance(output, list) and output[:1] == ["shape"]:
            return torch.zeros(()).expand(*output[1])  # has the shape, allocates nothing
        return played(output, f"{function}.forward")

    class Block(torch.nn.Module):
        def forward(self, *args, **kwargs):
            return shaped(next(outputs))

        def state_dict(self, *args, **kwargs):
            return OrderedDict((key, torch.zeros(()).expand(*size)) for key, size in spec["state"])

        def load_state_dict(self, state, *args, **kwargs):
            if spec["load"] is not None:
                played(spec["load"], f"{function}.load_state_dict")

    Block.__name__ = Block.__qualname__ = function
    block = Block()
    for name, kind, settings in spec["children"]:
        part = type(kind, (torch.nn.Module,), {})()
        for setting, value in settings.items():
            setattr(part, setting, tuple(value) if isinstance(value, list) else value)
        block.add_module(name, part)
    return block
