"""Notice when an exercise answer calls a ready-made transposed convolution.

The scatter-add exercises ask learners to write the operation themselves. ``watch()`` runs around
one call of a learner's function and lists the shortcuts it took: PyTorch's transposed
convolutions (functional, module or ``torch.*`` forms), its gradient machinery (``torch.autograd``,
``torch.nn.grad``, ``convolution_backward``), and the course's own reference code. It sees calls
however they were imported or renamed, because it looks at the code being entered, not at names.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# Modules that hold the answers: entering one of them from a learner's function is a shortcut.
_ANSWER_FILES = {str(_PACKAGE / name): name[:-3] for name in
                 ("reference.py", "pytorch.py", "unet_reference.py", "checkerboard_reference.py")}
_TORCH_GRADIENT_PARTS = (("torch", "autograd"), ("torch", "nn", "grad.py"))
_GRADIENT_CALLS = {"grad", "backward", "vjp"}
_BUILTIN_SHORTCUTS = ("conv_transpose", "convolution_backward", "pixel_shuffle")


def _torch_gradient_module(filename: str) -> bool:
    parts = Path(filename).parts
    return any(tuple(parts[n:n + len(p)]) == p for p in _TORCH_GRADIENT_PARTS
               for n in range(len(parts)))


@contextmanager
def watch():
    """``with watch() as shortcuts: fn(...)`` leaves a list of what ``fn`` should not have used."""
    found: list[str] = []

    def profile(frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if filename in _ANSWER_FILES:
                found.append(f"the course's answer tconv.{_ANSWER_FILES[filename]}."
                             f"{frame.f_code.co_name}")
            elif ("torch" in filename and _torch_gradient_module(filename)
                  and (filename.endswith("grad.py") or frame.f_code.co_name in _GRADIENT_CALLS)):
                found.append("PyTorch's gradient machinery (torch.autograd / torch.nn.grad)")
        elif event == "c_call":
            name = getattr(arg, "__name__", "") or ""
            if any(part in name for part in _BUILTIN_SHORTCUTS):
                found.append(f"PyTorch's {name}")

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield found
    finally:
        sys.setprofile(previous)
