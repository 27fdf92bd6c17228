"""The re-check of chapter 06's ``DecoderBlock``: a class, judged from data like the functions.

A check of a function records the calls it makes and plays the learner's answers back (see
``judge.py``). A check of a class does more with what it is given: it builds blocks, reads their
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

from .codec import encode
from .wire import played

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

    def request(self) -> dict:
        """The life as the child reads it (a block's part of the request)."""
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


# --- what comes back (its form: wire.schema.json's "block") ---------------------------------

def played_class(function: str, reports: list):
    """The learner's class, as the check sees it on replay: building it returns the next stand-in
    (or raises the error the learner's constructor raised)."""
    queue = iter(reports)

    class Played:
        def __new__(cls, *args, **kwargs):
            report = next(queue)
            if report[0] != "block":
                return played(report, function)
            return stand_in(report[1], function)

    Played.__name__ = Played.__qualname__ = function
    return Played


def stand_in(spec: dict, function: str):
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
