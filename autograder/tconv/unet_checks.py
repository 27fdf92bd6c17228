"""Chapter 06's checks (center_crop, DecoderBlock, the optional autograd.Function): they take
tensors and classes, so they are written by hand; the notebook calls them as
``checks.check_<name>``, re-exported from the registry (``exercises``).

They use the same machinery as the other chapters: the learner's code runs through
``judge.call_learner``, a failure is a ``judge.CheckVerdict``, and a known mistake (written in
``unet_mistakes``, declared with its exercise in ``exercises``) is named when it explains every
case. PyTorch's own layers are not shortcuts here (a DecoderBlock is made of them); the course's
answers are. torch and the chapter's reference are imported inside the functions: the other
chapters' notebooks must not pay for them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import guard, judge
from .exercises import BY_CHECK
from .comparing import Outcome, conclude, equal_arrays, first_difference, same_array
from .judge import CheckVerdict


def _answers_only(shortcuts: guard.Guard | None) -> guard.Guard:
    """The guard for code built of PyTorch layers: only the course's answers are shortcuts."""
    return (guard.LEARNER if shortcuts is None else shortcuts).answers_only()


def _tensor_as_array(exercise: str, call: str, answer, kind="tensor") -> np.ndarray:
    import torch

    if answer is None:
        raise judge.fail(exercise, call, "returned None",
                         "returned None: did you forget to `return` the result?",
                         expected="a tensor", actual="None")
    if not isinstance(answer, torch.Tensor):
        raise judge.fail(exercise, call, "wrong type",
                         f"returned a {type(answer).__name__}; for a torch {kind} input it must "
                         f"return a torch tensor (slicing a tensor keeps it one).",
                         expected="a tensor", actual=type(answer).__name__)
    return np.array(answer.detach().cpu().numpy(), dtype=np.float64)  # a plain copy


@judge.published
def check_center_crop(fn, crop_cases, *, shortcuts: guard.Guard | None = None) -> None:
    """Check ``center_crop(x, height, width)`` on tensors, value by value, against the reference."""
    import torch

    from . import unet_reference

    outcomes = []
    for case in crop_cases:
        x = case.input()
        call = case.describe()
        got = judge.call_learner("center_crop", call, fn, torch.from_numpy(x.copy()), case.height,
                                 case.width, shortcuts=_answers_only(shortcuts))
        if got.error is not None:
            outcomes.append(Outcome(case.args, error=got.error,
                                     problem=judge.crash_verdict("center_crop", call, got.error)))
            continue
        outcome = Outcome(case.args, _tensor_as_array("center_crop", call, got.value))
        outcomes.append(outcome)
        actual = outcome.answer
        expected = np.asarray(unet_reference.center_crop(x, case.height, case.width), np.float64)
        n, c, full_height, full_width = case.shape
        top, left = (full_height - case.height) // 2, (full_width - case.width) // 2
        where = (f"The window starts at row top = (H - height) // 2 = ({full_height} - "
                 f"{case.height}) // 2 = {top} and column left = (W - width) // 2 = "
                 f"({full_width} - {case.width}) // 2 = {left}.")
        if actual.shape != expected.shape:
            outcome.problem = judge.wrong_shape(
                "center_crop", call, expected.shape, actual.shape,
                f"wrong shape: expected {expected.shape} = (N, C, height, width), got "
                f"{actual.shape}. Crop the last two axes only: "
                f"x[:, :, top:top + height, left:left + width].\n  {where}")
        elif first_difference(expected, actual) is not None:
            first = actual.flat[0]
            located = ""
            if first == int(first) and 0 <= first < x.size:  # x.flat[k] = k: find the corner
                _, _, row, column = np.unravel_index(int(first), case.shape)
                located = (f"  Your window's top-left value is x[0, 0, {row}, {column}]; "
                           f"the centered window's is x[0, 0, {top}, {left}].\n")
            outcome.problem = CheckVerdict(
                "center_crop", call, "wrong value",
                f"right shape {expected.shape}, wrong values (x is numbered: x.flat[k] = k).\n"
                f"{located}  {where}", expected=f"top-left x[0, 0, {top}, {left}]",
                actual=f"top-left value {first:g}")
    conclude("center_crop", crop_cases, ["the reference center crop"], outcomes,
             BY_CHECK["check_center_crop"].mistakes, same_array)


@judge.published
def check_center_crop_rejects_larger(fn, crop_cases, *, shortcuts: guard.Guard | None = None
                                     ) -> None:
    """Check that ``center_crop`` raises ``ValueError`` when the window does not fit."""
    import torch

    for case in crop_cases:
        call = case.describe()
        got = judge.call_learner("center_crop", call, fn, torch.from_numpy(case.input()),
                                 case.height, case.width, shortcuts=_answers_only(shortcuts))
        if isinstance(got.error, ValueError):
            continue
        if got.error is not None:
            name = type(got.error).__name__
            raise judge.fail(
                "center_crop", call, "wrong error",
                f"raised {name}: {got.error}\n  A window larger than the input must raise "
                f"ValueError (with a message saying which size is too large), not {name}.",
                expected="ValueError", actual=name)
        answer = got.value
        shape = tuple(answer.shape) if hasattr(answer, "shape") else type(answer).__name__
        raise judge.fail(
            "center_crop", call, "no error",
            f"returned {shape} instead of raising ValueError. Slicing past the end silently "
            f"returns a smaller window, so check first: if height > H or width > W, raise "
            f"ValueError(...) naming the size that is too large.",
            expected="ValueError", actual=str(shape))
    print(f"✓ center_crop: raises ValueError for {len(crop_cases)} window"
          f"{'s' if len(crop_cases) != 1 else ''} larger than the input.")


def _decoder_parts(in_channels: int, out_channels: int) -> dict:
    """What the checks expect of each submodule: its class name, settings, and how to write it."""
    return {
        "up": ("ConvTranspose2d",
               dict(in_channels=in_channels, out_channels=in_channels // 2, kernel_size=(2, 2),
                    stride=(2, 2), padding=(0, 0)),
               "nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)"),
        "conv1": ("Conv2d",
                  dict(in_channels=in_channels, out_channels=out_channels, kernel_size=(3, 3),
                       stride=(1, 1), padding=(0, 0)),
                  "nn.Conv2d(in_channels, out_channels, kernel_size=3)"),
        "conv2": ("Conv2d",
                  dict(in_channels=out_channels, out_channels=out_channels, kernel_size=(3, 3),
                       stride=(1, 1), padding=(0, 0)),
                  "nn.Conv2d(out_channels, out_channels, kernel_size=3)"),
    }


def _structure(what: str, detail: str) -> judge.CheckFailed:
    return judge.fail("DecoderBlock", "", "wrong structure", f"{what}{detail}")


def _build_decoder_block(block_class, in_channels: int, out_channels: int, shortcuts=None):
    """The learner's block, built, with the reference structure checked; a CheckFailed if not."""
    import torch

    from . import unet_reference

    what = f"DecoderBlock({in_channels}, {out_channels})"
    block = judge.call_learner("DecoderBlock", what, block_class, in_channels, out_channels,
                               shortcuts=_answers_only(shortcuts), kind="class"
                               ).value_or_fail("DecoderBlock", what)
    if not isinstance(block, torch.nn.Module):
        raise _structure(what, f" is a {type(block).__name__}: DecoderBlock must subclass "
                               f"torch.nn.Module (class DecoderBlock(nn.Module)) and call "
                               f"super().__init__() first.")
    parts = _decoder_parts(in_channels, out_channels)
    children = dict(block.named_children())
    listing = "\n".join(f"    self.{name} = {code}" for name, (_, _, code) in parts.items())
    missing = [name for name in parts if name not in children]
    if missing:
        found = ", ".join(f"{name} ({type(module).__name__})" for name, module in children.items())
        raise _structure(
            what, f" has no submodule named {' or '.join(missing)}. The checks give your block a "
                  f"reference block's weights, so its submodules must have exactly these names:\n"
                  f"{listing}\n  Your block's submodules are: {found or 'none'}.")
    for name, (kind, settings, code) in parts.items():
        module = children[name]
        if type(module).__name__ != kind:
            raise _structure(what, f": self.{name} is a {type(module).__name__}; it must be "
                                   f"{code}.")
        for setting, wanted in settings.items():
            got = getattr(module, setting)
            if tuple(np.atleast_1d(got)) != tuple(np.atleast_1d(wanted)):
                why = (" U-Net's 3x3 convolutions are unpadded: each one makes the map 2 pixels "
                       "smaller, which is why the skip map must be cropped."
                       if setting == "padding" else "")
                raise _structure(what, f": self.{name} has {setting}={got}, expected {wanted}: "
                                       f"it must be {code}.{why}")
    wanted = unet_reference.DecoderBlock(in_channels, out_channels).state_dict()
    have = block.state_dict()
    extra, lacking = sorted(set(have) - set(wanted)), sorted(set(wanted) - set(have))
    if extra or lacking:
        raise _structure(
            what, f"'s parameters are {sorted(have)}, expected {sorted(wanted)}"
                  + (f" (missing: {lacking}: keep the default bias=True)" if lacking else "")
                  + (f" (extra: {extra}: the block has only up, conv1 and conv2)" if extra else "")
                  + ".")
    return block


@judge.published
def check_decoder_block_submodules(block_class, sizes=((8, 4), (6, 5)), *,
                                   shortcuts: guard.Guard | None = None) -> None:
    """Check that ``DecoderBlock(in, out)`` has ``up``, ``conv1`` and ``conv2`` as the paper's."""
    for in_channels, out_channels in sizes:
        _build_decoder_block(block_class, in_channels, out_channels, shortcuts)
    print(f"✓ DecoderBlock: up, conv1 and conv2 are as U-Net's for "
          f"{', '.join(f'DecoderBlock{tuple(size)}' for size in sizes)}.")


def _run_decoder_block(block, case, x, skip, shortcuts):
    """The learner's forward pass on copies of the inputs, as a ``judge.Answer``."""
    import torch

    with torch.no_grad():
        return judge.call_learner("DecoderBlock", case.describe(), block, x.clone(), skip.clone(),
                                  shortcuts=_answers_only(shortcuts),
                                  stub="forward, or the center_crop it calls,")


def _forward_crash(case, error) -> CheckVerdict:
    return CheckVerdict("DecoderBlock", case.describe(), "crash",
                        f"forward(x, skip) raised {type(error).__name__}: {error}",
                        actual=type(error).__name__)


def _same_tensor(produced, answer) -> bool:
    return equal_arrays(np.asarray(produced.detach(), np.float64), answer)


@judge.published
def check_decoder_block(block_class, block_cases, picture=True, *,
                        shortcuts: guard.Guard | None = None) -> None:
    """Give the learner's block a reference block's weights; compare the outputs value by value."""
    import torch

    outcomes = []
    for case in block_cases:
        reference_block = case.reference_block()
        block = _build_decoder_block(block_class, case.in_channels, case.out_channels, shortcuts)
        block.load_state_dict(reference_block.state_dict())
        block.eval()
        x, skip = case.inputs()
        with torch.no_grad():
            expected = reference_block(x, skip).numpy().astype(np.float64)
        got = _run_decoder_block(block, case, x, skip, shortcuts)
        args = (reference_block, x, skip)
        if got.error is not None:
            outcomes.append(Outcome(args, error=got.error, problem=_forward_crash(case, got.error)))
            continue
        outcome = Outcome(args, _tensor_as_array("DecoderBlock", case.describe(), got.value))
        outcomes.append(outcome)
        actual = outcome.answer
        h, w = case.x_shape[2:]
        formula = (f"(N, out_channels, 2h - 4, 2w - 4) = ({case.x_shape[0]}, {case.out_channels}, "
                   f"2*{h} - 4, 2*{w} - 4): the up-convolution doubles, each 3x3 convolution "
                   f"takes 2 away")
        if actual.shape != expected.shape:
            outcome.problem = judge.wrong_shape(
                "DecoderBlock", case.describe(), expected.shape, actual.shape,
                f"wrong output shape: expected {expected.shape}, got {actual.shape}.\n  {formula}.")
            continue
        difference = first_difference(expected, actual)
        if difference is not None:
            index, want, value, count = difference
            outcome.picture = (expected, actual, "DecoderBlock output, first map: expected vs. yours")
            outcome.problem = CheckVerdict(
                "DecoderBlock", case.describe(), "wrong value",
                f"right shape, wrong values (your block was given the same weights as the "
                f"reference block): at index {index} expected {want:.6g}, got {value:.6g} "
                f"({count} of {expected.size} values differ).",
                expected=f"{want:.6g} at {index}", actual=f"{value:.6g}")
    with torch.no_grad():
        conclude("DecoderBlock", block_cases, ["the reference block given the same weights"],
                 outcomes, BY_CHECK["check_decoder_block"].mistakes, _same_tensor, picture)


@judge.published
def check_decoder_block_paper_sizes(block_class, steps, *,
                                    shortcuts: guard.Guard | None = None) -> None:
    """Run the block at the paper's four expanding steps; compare output shapes with the table."""
    import torch

    outcomes, cases = [], [case for case, _ in steps]
    for case, wanted in steps:
        block = _build_decoder_block(block_class, case.in_channels, case.out_channels, shortcuts)
        x, skip = case.inputs()
        args = (case.reference_block(), x, skip)
        got = _run_decoder_block(block, case, x, skip, shortcuts)
        if got.error is not None:
            outcomes.append(Outcome(args, error=got.error, problem=_forward_crash(case, got.error)))
            continue
        answer = got.value
        if not isinstance(answer, torch.Tensor):
            _tensor_as_array("DecoderBlock", case.describe(), answer)
        outcome = Outcome(args, tuple(answer.shape))
        outcomes.append(outcome)
        if tuple(answer.shape) != tuple(wanted):
            outcome.problem = judge.wrong_shape(
                "DecoderBlock", case.describe(), wanted, answer.shape,
                f"output shape {tuple(answer.shape)}, but the paper's size table says {wanted}: "
                f"up-convolution {case.x_shape[2]} -> {2 * case.x_shape[2]}, crop the skip map to "
                f"that, then two unpadded 3x3 convolutions -> {2 * case.x_shape[2] - 4}.")
    steps_text = ", ".join(f"{case.x_shape[2]} -> {wanted[2]}" for case, wanted in steps)
    with torch.no_grad():
        conclude("DecoderBlock", cases, [], outcomes,
                 BY_CHECK["check_decoder_block_paper_sizes"].mistakes,
                 lambda produced, shape: tuple(produced.shape) == shape, passed=(
                     f"✓ DecoderBlock: {len(steps)} of the paper's expanding steps give the "
                     f"table's sizes ({steps_text})."))


@judge.published
def check_scatter_add_function(function_class, strides=(1, 2), *,
                               shortcuts: guard.Guard | None = None) -> None:
    """Optional exercise of chapter 06: a ``torch.autograd.Function`` whose forward runs the
    learner's numpy scatter-add and whose backward is the adjoint. Forward values and both
    gradients are compared with PyTorch's ``conv_transpose2d``; then ``torch.autograd.gradcheck``."""
    import torch
    import torch.nn.functional as F

    name = getattr(function_class, "__name__", "ScatterAddConvTranspose2d")
    if not (isinstance(function_class, type) and issubclass(function_class, torch.autograd.Function)):
        raise judge.fail(name, "", "not a class",
                         f"{function_class!r} is not a torch.autograd.Function subclass: run the "
                         f"cell that defines it.")
    answers_only = _answers_only(shortcuts)
    # In forward, PyTorch's transposed convolution is a shortcut too: the point is YOUR scatter-add.
    forward_guard = replace(answers_only, builtins=("conv_transpose",))
    generator = torch.Generator().manual_seed(6)
    for stride in strides:
        x = torch.randn(2, 2, 3, 4, dtype=torch.float64, generator=generator, requires_grad=True)
        weight = torch.randn(2, 3, 3, 2, dtype=torch.float64, generator=generator,
                             requires_grad=True)
        what = (f"{name}.apply(x of shape {tuple(x.shape)}, weight of shape "
                f"{tuple(weight.shape)}, stride={stride})")
        out = judge.call_learner(
            name, what, function_class.apply, x, weight, stride, shortcuts=forward_guard,
            stub="forward or backward (paste your chapter 04 function into forward)",
            where=" in the forward pass",
            advice="The point is to run YOUR scatter-add there (conv_transpose2d_nchw, in numpy)."
        ).value_or_fail(name, what)
        expected = F.conv_transpose2d(x, weight, stride=stride)
        actual = _tensor_as_array(name, what, out)
        if actual.shape != tuple(expected.shape):
            raise judge.CheckFailed(judge.wrong_shape(
                name, what, expected.shape, actual.shape,
                f"forward: expected shape {tuple(expected.shape)}, got {actual.shape}."))
        difference = first_difference(expected.detach().numpy(), actual)
        if difference is not None:
            raise judge.fail(name, what, "wrong value",
                             f"forward: at index {difference[0]} expected {difference[1]:.6g}, got "
                             f"{difference[2]:.6g}: check your conv_transpose2d_nchw (chapter 04).",
                             expected=f"{difference[1]:.6g} at {difference[0]}",
                             actual=f"{difference[2]:.6g}")
        if not out.requires_grad:
            raise judge.fail(name, what, "wrong type", "the output does not require a gradient: "
                             "call the Function through .apply(...), and return a tensor from "
                             "forward.")
        upstream = torch.randn(expected.shape, dtype=torch.float64, generator=generator)
        want = torch.autograd.grad(expected, (x, weight), upstream)
        backward = f"{what}: the backward pass"
        got = judge.call_learner(name, backward, torch.autograd.grad, out, (x, weight), upstream,
                                 allow_unused=True, shortcuts=answers_only,
                                 stub="backward").value_or_fail(name, backward)
        for part, w, g, formula in [
                ("x", want[0], got[0], "the direct convolution F.conv2d(grad_output, weight, "
                                       "stride=stride): the adjoint of the transposed one"),
                ("weight", want[1], got[1], "for every kernel tap (a, b), the sum over the batch "
                                            "and the positions of x times the grad_output value "
                                            "that tap reached")]:
            if g is None:
                raise judge.fail(name, what, "returned None", f"backward returned None for "
                                 f"{part}'s gradient: return it as {formula}.")
            have = np.array(g.detach().numpy(), np.float64)
            if have.shape != tuple(w.shape):
                raise judge.CheckFailed(judge.wrong_shape(
                    name, what, w.shape, have.shape, f"the gradient for {part} has shape "
                    f"{have.shape}, expected {tuple(w.shape)} ({part}'s own shape)."))
            difference = first_difference(w.numpy(), have)
            if difference is not None:
                raise judge.fail(name, what, "wrong value",
                                 f"the gradient for {part} differs from PyTorch's at index "
                                 f"{difference[0]}: expected {difference[1]:.6g}, got "
                                 f"{difference[2]:.6g}. It is {formula}.",
                                 expected=f"{difference[1]:.6g} at {difference[0]}",
                                 actual=f"{difference[2]:.6g}")
        checked = f"{what}: torch.autograd.gradcheck"
        passed = judge.call_learner(
            name, checked, torch.autograd.gradcheck,
            lambda a, b: function_class.apply(a, b, stride), (x, weight), raise_exception=False,
            shortcuts=answers_only, stub="backward").value_or_fail(name, checked)
        if not passed:
            raise judge.fail(name, what, "wrong value", "torch.autograd.gradcheck disagrees with "
                             "your backward (its finite differences give other gradients).")
    print(f"✓ {name}: forward matches F.conv_transpose2d, backward matches its gradients, and "
          f"torch.autograd.gradcheck passes (strides {', '.join(map(str, strides))}).")


__all__ = ["check_center_crop", "check_center_crop_rejects_larger", "check_decoder_block",
           "check_decoder_block_paper_sizes", "check_decoder_block_submodules",
           "check_scatter_add_function"]
