"""Every exercise of the course, declared once.

An ``Exercise`` is one check a notebook's test cells call, ``checks.<check>(<learner>, ...)``: the
chapter, the learner's function or class, the course's reference with the learner's signature
(the grader's re-check records the checks' calls with it), what the answer is compared with (the
reference, then PyTorch), the formula that explains the right shape, the known mistakes, and the
cases the tests run it on (visible and hidden alike). From these, ``checks`` makes the
``check_*`` functions of chapters 01-05 and 07 (``compare`` "arrays" or "ints") and re-exports
the ones written by hand (``compare`` "by hand": chapter 06's take tensors and classes, in
``unet_checks``); ``grader.recheck`` re-checks exactly the exercises with ``recheck`` True; and
the tests parametrise over ``EXERCISES``. Adding an exercise means adding its entry here.

It is also the only place that knows where the answers are: ``reference_modules`` (the course's
answers, which the shortcut guard watches), ``mistake_modules``, ``answer_modules`` (both: what
the learners' graded copy replaces by recorded values), ``twin_modules`` (PyTorch's twins, which
the copy ships and falls back to: ``pytorch_twin``) and ``cases_modules`` (what the test cells'
arguments may name) are read off the declared objects, never off file names.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import cases, checkerboard_cases, checkerboard_reference, mistakes, pytorch, reference
from . import checkerboard_mistakes, layer_cases, layer_mistakes, unet_mistakes
from .arguments import pair
from .case import Case


@dataclass(frozen=True)
class Exercise:
    chapter: str                 # "01" ... "07": the notebook's number
    check: str                   # the check the test cells call, "check_<...>"
    learner: str                 # the learner's function or class, as the notebook names it
    reference: Callable | None   # the course's answer, with the learner's signature
    twins: tuple = ()            # ((what it is, compute), ...): reference first, then PyTorch's
    formula: Callable | None = None  # case -> the right shape, explained with the case's numbers
    mistakes: tuple = ()         # known mistakes (``judge.Mistake``)
    compare: str = "arrays"      # "arrays", "ints", or "by hand" (the check is in ``module``)
    what: str = "output length"  # what ``formula`` gives
    recheck: bool = True         # re-checked outside the kernel (its answers come back as data)
    answers: str = "values"      # what comes back: "values" (each call's result), "blocks" (each
    #                              block the check builds, its parts and outputs: grader/blocks.py)
    #                              or "block shapes" (the same, outputs as shapes only)
    module: str = ""             # "by hand": the module that defines the check
    doc: str = ""                # the check's docstring
    test_cases: Callable | None = None  # -> the cases the tests run the check on
    cases_module: str = ""       # the tconv module whose functions make its cases in the test cells
    axes: str = ""               # what an answer's axes are, e.g. "(row, column)" (default: by
    #                              its number of dimensions: ``comparing.AXES``)
    # a known mistake's code (numpy in, numpy out) as the learner's function is called
    in_learners_form: Callable = staticmethod(lambda compute: compute)

    def __post_init__(self):
        if self.compare not in ("arrays", "ints", "by hand"):
            raise ValueError(f"{self.check}: compare is 'arrays', 'ints' or 'by hand'")
        if (self.compare == "by hand") != bool(self.module):
            raise ValueError(f"{self.check}: a check written by hand names its module, only it")
        if self.answers not in ("values", "blocks", "block shapes"):
            raise ValueError(f"{self.check}: answers are 'values', 'blocks' or 'block shapes'")
        if self.recheck and self.reference is None:
            raise ValueError(f"{self.check}: a re-checked exercise needs its reference")

    @property
    def pytorch_twin(self) -> Callable | None:
        """PyTorch's computation of the answer (the last twin; the first is a course answer)."""
        return self.twins[-1][1] if len(self.twins) > 1 else None

    def answer(self):
        """The reference as a learner's answer is handed to the check: for chapter 06's
        DecoderBlock, the class itself (``reference`` imports it at its first call)."""
        load = getattr(self.reference, "load", None)
        return self.reference if load is None else load()


def _later(module: str, name: str) -> Callable:
    """``tconv.<module>.<name>``, imported at its first call (chapter 06's reference imports
    PyTorch, which the other chapters' notebooks must not pay for); ``.load()`` gives the object
    itself (a class, for ``Exercise.answer``)."""
    def load():
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)

    def answer(*args, **kwargs):
        return load()(*args, **kwargs)

    answer.__name__ = answer.__qualname__ = name
    answer.__module__ = f"{__package__}.{module}"  # where the answer is, for the guard and publish
    answer.load = load
    return answer


def _unet_cases():
    return importlib.import_module(f"{__package__}.unet_cases")  # it imports PyTorch


def _on_tensors(compute: Callable) -> Callable:
    """A numpy crop as a function of a tensor, as the learner's center_crop is called."""
    def crop(x, height, width):
        import torch

        return torch.as_tensor(np.ascontiguousarray(compute(x.numpy(), height, width)))
    return crop


_CENTER_CROP = _later("unet_reference", "center_crop")
_DECODER_BLOCK = _later("unet_reference", "DecoderBlock")
# check_center_crop compares with the reference; the learners' copy falls back to PyTorch's crop
_CROP_TWINS = (("the reference center crop", _CENTER_CROP),
               ("F.pad with negative amounts", pytorch.center_crop))


# --- the shape formulas: the right shape, explained with the case's numbers --------------------

def _length_formula_1d(case: Case) -> str:
    length, kernel, stride = len(case.value("x")), len(case.value("w")), case.value("stride")
    return (f"(L - 1)*stride + K = ({length} - 1)*{stride} + {kernel} = "
            f"{(length - 1) * stride + kernel}")


def _conv_size_formula(case: Case) -> str:
    i, k, s, p, d = case.args
    return (f"floor((i + 2p - d(k - 1) - 1) / s) + 1 = "
            f"floor(({i} + 2*{p} - {d}*({k} - 1) - 1) / {s}) + 1 = "
            f"{reference.conv_output_size(*case.args)}")


def _transpose_size_formula(case: Case) -> str:
    i, k, s, p, d, op = case.args
    return (f"(i - 1)s - 2p + d(k - 1) + output_padding + 1 = "
            f"({i} - 1)*{s} - 2*{p} + {d}*({k} - 1) + {op} + 1 = "
            f"{reference.conv_transpose_output_size(*case.args)}")


def _shape_formula_2d(case: Case) -> str:
    (height, width), (k_h, k_w) = np.shape(case.value("x")), np.shape(case.value("w"))
    (s_h, s_w), (p_h, p_w) = pair(case.value("stride")), pair(case.value("padding"))
    size = reference.conv_transpose_output_size
    return (f"((H - 1)*stride_h + kH - 2*padding_h, (W - 1)*stride_w + kW - 2*padding_w) = "
            f"(({height} - 1)*{s_h} + {k_h} - 2*{p_h}, ({width} - 1)*{s_w} + {k_w} - 2*{p_w}) = "
            f"{(size(height, k_h, s_h, p_h), size(width, k_w, s_w, p_w))}; "
            f"before the crop the full output is "
            f"{(size(height, k_h, s_h, 0), size(width, k_w, s_w, 0))}")


def _shape_formula_matrix(case: Case) -> str:
    n, kernel, stride = case.value("n"), len(case.value("w")), case.value("stride")
    return (f"(m, n) with m = floor((n - K) / stride) + 1 = floor(({n} - {kernel}) / {stride}) + 1 "
            f"= {(n - kernel) // stride + 1}, the direct convolution's output length")


REFERENCE = "the reference implementation"

EXERCISES = (
    # --- chapter 01 ---
    Exercise("01", "check_conv_transpose1d", "conv_transpose1d", reference.conv_transpose1d,
             ((REFERENCE, reference.conv_transpose1d),
              ("PyTorch's conv_transpose1d", pytorch.conv_transpose1d)),
             _length_formula_1d, tuple(mistakes.CONV_TRANSPOSE1D),
             doc="Check ``conv_transpose1d(x, w, stride)`` against the reference and PyTorch.",
             cases_module="cases",
             test_cases=lambda: cases.seed_example_1d() + cases.random_1d(5, 1) + cases.edge_1d()),
    # --- chapter 02 ---
    Exercise("02", "check_conv_output_size", "conv_output_size", reference.conv_output_size,
             ((REFERENCE, reference.conv_output_size),
              ("the length of PyTorch's conv1d output", pytorch.conv_output_size)),
             _conv_size_formula, tuple(mistakes.CONV_OUTPUT_SIZE), compare="ints", cases_module="cases",
             doc="Check ``conv_output_size(i, k, stride, padding, dilation)`` on ``cases``.",
             test_cases=lambda: (cases.conv_size_examples() + cases.random_conv_sizes(50, 1)
                                 + cases.edge_conv_sizes())),
    Exercise("02", "check_conv_transpose_output_size", "conv_transpose_output_size",
             reference.conv_transpose_output_size,
             ((REFERENCE, reference.conv_transpose_output_size),
              ("the length of PyTorch's conv_transpose1d output",
               pytorch.conv_transpose_output_size)),
             _transpose_size_formula, tuple(mistakes.CONV_TRANSPOSE_OUTPUT_SIZE), compare="ints",
             cases_module="cases",
             doc="Check ``conv_transpose_output_size(i, k, stride, padding, dilation, "
                 "output_padding)``.",
             test_cases=lambda: (cases.transpose_size_examples() + cases.random_transpose_sizes(50, 1)
                                 + cases.edge_transpose_sizes())),
    # --- chapter 03 ---
    Exercise("03", "check_conv_transpose2d", "conv_transpose2d", reference.conv_transpose2d,
             ((REFERENCE, reference.conv_transpose2d),
              ("PyTorch's conv_transpose2d", pytorch.conv_transpose2d)),
             _shape_formula_2d, tuple(mistakes.CONV_TRANSPOSE2D), what="output shape",
             cases_module="cases",
             doc="Check ``conv_transpose2d(x, w, stride, padding)`` against the reference and "
                 "PyTorch.",
             test_cases=lambda: (cases.seed_example_2d() + cases.edge_2d()
                                 + cases.random_2d(10, 2026, pairs=True))),
    # --- chapter 04 ---
    Exercise("04", "check_conv_transpose2d_nchw", "conv_transpose2d_nchw",
             reference.conv_transpose2d_nchw,
             ((REFERENCE, reference.conv_transpose2d_nchw),
              ("torch.nn.functional.conv_transpose2d", pytorch.conv_transpose2d_nchw)),
             layer_cases.shape_formula_nchw, tuple(layer_mistakes.CONV_TRANSPOSE2D_NCHW),
             what="output shape",
             cases_module="cases",
             doc="Check ``conv_transpose2d_nchw(x, weight, bias, stride, padding, output_padding, "
                 "groups, dilation)`` against the reference and "
                 "``torch.nn.functional.conv_transpose2d``.",
             test_cases=lambda: (cases.seed_example_nchw() + cases.edge_nchw_channels()
                                 + cases.edge_nchw_geometry() + cases.edge_nchw_small()
                                 + cases.combined_nchw())),
    # --- chapter 05 ---
    Exercise("05", "check_conv1d_matrix", "conv1d_matrix", reference.conv1d_matrix,
             ((REFERENCE, reference.conv1d_matrix),
              ("the matrix of PyTorch's conv1d", pytorch.conv1d_matrix)),
             _shape_formula_matrix, tuple(mistakes.CONV1D_MATRIX), what="matrix's shape",
             cases_module="cases",
             doc="Check ``conv1d_matrix(n, w, stride)`` against the reference and PyTorch's conv1d.",
             test_cases=lambda: (cases.matrix_examples() + cases.edge_matrices()
                                 + cases.random_matrices(5, 3))),
    Exercise("05", "check_conv_transpose2d_by_zero_insertion", "conv_transpose2d_by_zero_insertion",
             reference.conv_transpose2d_by_zero_insertion,
             (("the scatter-add reference", reference.conv_transpose2d),
              ("PyTorch's conv_transpose2d", pytorch.conv_transpose2d)),
             _shape_formula_2d, tuple(mistakes.CONV_TRANSPOSE2D_BY_ZERO_INSERTION),
             what="output shape", cases_module="cases",
             doc="Check ``conv_transpose2d_by_zero_insertion(x, w, stride, padding)``: it must give "
                 "chapter 03's scatter-add result (and PyTorch's).",
             test_cases=lambda: (cases.seed_example_2d() + cases.edge_2d()
                                 + cases.large_padding_2d())),
    # --- chapter 06: checks written by hand (tensors and classes), in unet_checks ---
    Exercise("06", "check_center_crop", "center_crop", _CENTER_CROP, _CROP_TWINS,
             mistakes=tuple(unet_mistakes.CENTER_CROP), compare="by hand", module="unet_checks",
             cases_module="unet_cases",
             in_learners_form=_on_tensors,
             test_cases=lambda: (_unet_cases().crop_even_margins() + _unet_cases().crop_odd_margins()
                                 + _unet_cases().crop_edge_cases() + _unet_cases().crop_random(20, 61))),
    Exercise("06", "check_center_crop_rejects_larger", "center_crop", _CENTER_CROP,
             compare="by hand", module="unet_checks", cases_module="unet_cases",
             test_cases=lambda: _unet_cases().crop_too_large()),
    # A DecoderBlock is a class: the re-check builds the learner's blocks as the check does and
    # brings back their parts and outputs (grader/blocks.py).
    Exercise("06", "check_decoder_block_submodules", "DecoderBlock", _DECODER_BLOCK,
             compare="by hand", module="unet_checks", answers="blocks",
             test_cases=lambda: [(8, 4), (6, 5), (4, 4), (2, 1)]),
    Exercise("06", "check_decoder_block", "DecoderBlock", _DECODER_BLOCK,
             mistakes=tuple(unet_mistakes.DECODER_BLOCK), compare="by hand", module="unet_checks",
             answers="blocks", cases_module="unet_cases", in_learners_form=unet_mistakes.as_block,
             test_cases=lambda: (_unet_cases().block_small() + _unet_cases().block_odd_margins()
                                 + _unet_cases().block_random(10, 3))),
    Exercise("06", "check_decoder_block_paper_sizes", "DecoderBlock", _DECODER_BLOCK,
             mistakes=tuple(unet_mistakes.DECODER_BLOCK_SHAPES), compare="by hand",
             module="unet_checks", cases_module="unet_cases", answers="block shapes", in_learners_form=unet_mistakes.as_block,
             test_cases=lambda: _unet_cases().block_paper_steps()),
    # Optional and ungraded: an autograd Function, checked in the kernel only.
    Exercise("06", "check_scatter_add_function", "ScatterAddConvTranspose2d", None,
             compare="by hand", module="unet_checks", recheck=False),
    # --- chapter 07 ---
    Exercise("07", "check_overlap_counts_1d", "overlap_counts_1d",
             checkerboard_reference.overlap_counts_1d,
             ((REFERENCE, checkerboard_reference.overlap_counts_1d),
              ("F.conv_transpose1d of ones with a kernel of ones",
               pytorch.overlap_counts_1d)),
             checkerboard_cases.counts_formula, tuple(checkerboard_mistakes.OVERLAP_COUNTS_1D),
             cases_module="checkerboard_cases",
             doc="Check ``overlap_counts_1d(k, s, n)`` against the reference and PyTorch (ones "
                 "through ones).",
             test_cases=lambda: (checkerboard_cases.counts_example() + checkerboard_cases.counts_random(40, 2027)
                                 + checkerboard_cases.counts_edge())),
    Exercise("07", "check_phase_sums", "phase_sums", checkerboard_reference.phase_sums,
             ((REFERENCE, checkerboard_reference.phase_sums),
              ("the inside of F.conv_transpose2d of a map of ones",
               pytorch.phase_sums)),
             checkerboard_cases.phases_formula, tuple(checkerboard_mistakes.PHASE_SUMS),
             what="output shape", cases_module="checkerboard_cases",
             doc="Check ``phase_sums(w, s)`` against the reference and the interior of PyTorch's "
                 "``conv_transpose2d`` of a map of ones.",
             test_cases=lambda: (checkerboard_cases.phases_chapter_kernels() + checkerboard_cases.phases_edge()
                                 + checkerboard_cases.phases_random(40, 2028))),
    Exercise("07", "check_conv_transpose1d_polyphase", "conv_transpose1d_polyphase",
             checkerboard_reference.conv_transpose1d_polyphase,
             (("chapter 01's scatter-add reference", reference.conv_transpose1d),
              ("PyTorch's conv_transpose1d", pytorch.conv_transpose1d)),
             checkerboard_cases.polyphase_formula,
             tuple(checkerboard_mistakes.CONV_TRANSPOSE1D_POLYPHASE), cases_module="checkerboard_cases",
             doc="Check ``conv_transpose1d_polyphase(x, w, stride)``: it must give chapter 01's "
                 "scatter-add result and PyTorch's ``conv_transpose1d``.",
             test_cases=lambda: (checkerboard_cases.polyphase_example()
                                 + checkerboard_cases.polyphase_random(40, 2029, False)
                                 + checkerboard_cases.polyphase_edge())),
    Exercise("07", "check_pixel_shuffle", "pixel_shuffle", checkerboard_reference.pixel_shuffle,
             ((REFERENCE, checkerboard_reference.pixel_shuffle),
              ("torch.nn.PixelShuffle", pytorch.pixel_shuffle)),
             checkerboard_cases.shuffle_formula, tuple(checkerboard_mistakes.PIXEL_SHUFFLE),
             what="output shape", cases_module="checkerboard_cases",
             doc="Check ``pixel_shuffle(x, r)`` against the reference and ``torch.nn.PixelShuffle``.",
             test_cases=lambda: (checkerboard_cases.shuffle_example() + checkerboard_cases.shuffle_random(30, 2030)
                                 + checkerboard_cases.shuffle_edge())),
    Exercise("07", "check_icnr", "icnr", checkerboard_reference.icnr,
             ((REFERENCE, checkerboard_reference.icnr),
              ("torch's repeat_interleave over the output channels", pytorch.icnr)),
             checkerboard_cases.icnr_formula, tuple(checkerboard_mistakes.ICNR),
             what="output shape", cases_module="checkerboard_cases",
             axes="(output channel, input channel, row, column)",
             doc="Check ``icnr(w, s)`` (the sub-pixel weight that starts as convolution, then "
                 "nearest resize) against the reference and PyTorch's ``repeat_interleave``.",
             test_cases=lambda: (checkerboard_cases.icnr_example() + checkerboard_cases.icnr_random(30, 2032)
                                 + checkerboard_cases.icnr_edge())),
)

BY_CHECK = {exercise.check: exercise for exercise in EXERCISES}
if len(BY_CHECK) != len(EXERCISES):
    raise RuntimeError("two exercises declare the same check")


def home_of(obj) -> str:
    """The tconv module that defines ``obj``: "reference" for ``tconv.reference.conv_transpose1d``."""
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith(f"{__package__}."):
        raise RuntimeError(f"{obj!r} is not defined in a module of {__package__}")
    return module[len(__package__) + 1:]


def reference_modules() -> tuple[str, ...]:
    """The modules of the course's answers: every reference, and every first twin (the answer a
    check compares with first, e.g. chapter 01's scatter-add for chapter 07's polyphase)."""
    return tuple(sorted({home_of(e.reference) for e in EXERCISES if e.reference is not None}
                        | {home_of(e.twins[0][1]) for e in EXERCISES if e.twins}))


def mistake_modules() -> tuple[str, ...]:
    """The modules that write the known mistakes out (a mistake's code is a wrong answer too)."""
    return tuple(sorted({home_of(m.compute) for e in EXERCISES for m in e.mistakes}))


def answer_modules() -> tuple[str, ...]:
    """What the learners' graded copy replaces by recorded values: the answers and the mistakes."""
    return tuple(sorted(set(reference_modules()) | set(mistake_modules())))


def twin_modules() -> tuple[str, ...]:
    """The modules of PyTorch's twins: shipped in the learners' copy, but still shortcuts."""
    return tuple(sorted({home_of(e.pytorch_twin) for e in EXERCISES if e.pytorch_twin}
                        | {home_of(twin) for twin in HELPER_TWINS.values()}))


def cases_modules() -> tuple[str, ...]:
    """The modules the test cells make their cases with (the re-check's namespace)."""
    return tuple(sorted({e.cases_module for e in EXERCISES if e.cases_module}))


# The reference's helpers that the pictures call (not exercises), and PyTorch's twins of them: the
# learners' copy computes a picture of the learner's own arguments with these.
HELPER_TWINS = {
    reference.conv_transpose1d_contributions: pytorch.conv_transpose1d_contributions,
    reference.conv_transpose2d_contributions: pytorch.conv_transpose2d_contributions,
    reference.conv_transpose2d_full: pytorch.conv_transpose2d,  # padding 0: the uncropped output
}


def accepts(twin: Callable, answer: Callable) -> bool:
    """Can ``twin`` be called as ``answer`` is, by keyword: it takes each of the answer's
    parameters, in the same order, and has a default for any other."""
    mine = list(inspect.signature(twin).parameters.values())
    theirs = [p.name for p in inspect.signature(answer).parameters.values()]
    return ([p.name for p in mine[:len(theirs)]] == theirs
            and all(p.default is not p.empty for p in mine[len(theirs):]))


def pytorch_twin(qualified: str) -> Callable | None:
    """PyTorch's twin of the answer ``qualified`` ("reference.conv_transpose1d"), or None: what the
    learners' copy computes a case with when it has no recorded value for it."""
    for helper, twin in HELPER_TWINS.items():
        if f"{home_of(helper)}.{helper.__name__}" == qualified:
            return twin
    for exercise in EXERCISES:
        for answer in [exercise.reference] + [compute for _, compute in exercise.twins[:1]]:
            if (answer is not None and exercise.pytorch_twin is not None
                    and f"{home_of(answer)}.{answer.__name__}" == qualified):
                return exercise.pytorch_twin
    return None


_SHIPPED_TWINS = set(twin_modules()) & set(answer_modules())
if _SHIPPED_TWINS:
    raise RuntimeError(f"PyTorch twins in {sorted(_SHIPPED_TWINS)}, a module of answers: the "
                       f"learners' copy replaces it, so they belong in tconv.pytorch")


def recheckable() -> dict:
    """check -> the reference with the learner's signature, for every re-checked exercise."""
    return {e.check: e.reference for e in EXERCISES if e.recheck}
