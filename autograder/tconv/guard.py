"""Notice when an exercise answer calls a ready-made transposed convolution.

The scatter-add exercises ask learners to write the operation themselves. ``Guard.watch()`` runs
around one call of a learner's function and lists the shortcuts it took: the course's own answer
modules (``answer_modules``: by default the modules of the references and of PyTorch's twins that
the registry, ``exercises``, declares), PyTorch's built-in transposed convolutions and kin (``builtins``:
functional, module or ``torch.*`` forms), and its gradient machinery (``gradients``:
``torch.autograd``, ``torch.nn.grad``). It sees calls however they were imported or renamed,
because it looks at the code being entered, not at names.

What counts as a shortcut is the Guard's own (frozen) settings, passed by argument: nothing is
read from or written to module state while watching, so guards with different settings may run
at the same time in different threads. ``LEARNER`` is what a learner's answer is held to.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
BUILTIN_SHORTCUTS = ("conv_transpose", "convolution_backward", "pixel_shuffle")
_TORCH_GRADIENT_PARTS = (("torch", "autograd"), ("torch", "nn", "grad.py"))
_GRADIENT_CALLS = {"grad", "backward", "vjp"}


def registry_answer_modules() -> tuple[str, ...]:
    """The modules the registry declares answers and PyTorch twins in (imported when first
    watched: the registry imports the chapters' modules, which import this one)."""
    from . import exercises

    return tuple(sorted(set(exercises.reference_modules()) | set(exercises.twin_modules())))


@functools.lru_cache(maxsize=None)
def _files_of(name: str) -> tuple[str, ...]:
    """The file of ``tconv.<name>`` as its code names it, and resolved; found without importing
    the module (chapter 06's imports PyTorch)."""
    spec = importlib.util.find_spec(f"{__package__}.{name}")
    origin = spec.origin if spec and spec.origin else str(_PACKAGE / f"{name}.py")
    return tuple({origin, str(Path(origin).resolve())})


def _torch_gradient_module(filename: str) -> bool:
    parts = Path(filename).parts
    return any(tuple(parts[n:n + len(p)]) == p for p in _TORCH_GRADIENT_PARTS
               for n in range(len(parts)))


@dataclass(frozen=True)
class Guard:
    """What counts as a shortcut: calls into ``answer_modules`` (of tconv; None: the registry's
    references and twins), C functions whose name holds one of ``builtins``, and (``gradients``)
    PyTorch's gradient machinery."""
    answer_modules: tuple[str, ...] | None = None
    builtins: tuple[str, ...] = BUILTIN_SHORTCUTS
    gradients: bool = True

    def answers_only(self) -> "Guard":
        """The same answer modules, PyTorch allowed (its layers are the exercise's material)."""
        return replace(self, builtins=(), gradients=False)

    def allowing_answers(self) -> "Guard":
        """The same, with the course's answers allowed (to record the reference's calls)."""
        return replace(self, answer_modules=())

    @contextmanager
    def watch(self):
        """``with guard.watch() as shortcuts: fn(...)`` leaves a list of what ``fn`` should not
        have used."""
        found: list[str] = []
        names = registry_answer_modules() if self.answer_modules is None else self.answer_modules
        answers = {path: name for name in names for path in _files_of(name)}
        builtins, gradients = self.builtins, self.gradients

        def profile(frame, event, arg):
            if event == "call":
                filename = frame.f_code.co_filename
                if filename in answers:
                    found.append(f"the course's answer tconv.{answers[filename]}."
                                 f"{frame.f_code.co_name}")
                elif (gradients and "torch" in filename and _torch_gradient_module(filename)
                      and (filename.endswith("grad.py") or frame.f_code.co_name in _GRADIENT_CALLS)):
                    found.append("PyTorch's gradient machinery (torch.autograd / torch.nn.grad)")
            elif event == "c_call" and builtins:
                name = getattr(arg, "__name__", "") or ""
                if any(part in name for part in builtins):
                    found.append(f"PyTorch's {name}")

        previous = sys.getprofile()
        sys.setprofile(profile)
        try:
            yield found
        finally:
            sys.setprofile(previous)


LEARNER = Guard()           # a learner's answer: no answer module, no ready-made PyTorch
REFERENCES = LEARNER.allowing_answers()  # the course's references may run (recording, tests)
