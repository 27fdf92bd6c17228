"""The checks pass right answers, in any form, and reject wrong ones with a message that says
what is wrong: the named mistake where one is known, else the first differing position."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import checks_on_references as checks
from helpers import Padded  # the course's block with a padded first 3x3 convolution
from tconv import cases, comparing, exercises, judge, mistakes, plots, unet_reference
from tconv import checks as learner_checks  # the guard as in a learner's notebook
from tconv.grader import recheck

CASES_1D = cases.seed_example_1d() + cases.random_1d(5, 1) + cases.edge_1d()
CASES_CONV = cases.conv_size_examples() + cases.random_conv_sizes(50, 1) + cases.edge_conv_sizes()
CASES_TRANSPOSE = (cases.transpose_size_examples() + cases.random_transpose_sizes(50, 1)
                   + cases.edge_transpose_sizes())


def failure(check, fn, case_list) -> str:
    with pytest.raises(checks.CheckFailed) as raised:
        check(fn, case_list)
    return str(raised.value)


def no_picture(fn, case_list):
    checks.check_conv_transpose1d(fn, case_list, picture=False)


# --- right answers pass, whatever their form ---------------------------------------------------

def gather(x, w, stride=1):
    """Each output position collects what reaches it: a gather, not a scatter."""
    out = np.zeros((len(x) - 1) * stride + len(w))
    for n in range(len(out)):
        for j in range(len(x)):
            t = n - j * stride
            if 0 <= t < len(w):
                out[n] += x[j] * w[t]
    return out


def add_at(x, w, stride=1):
    out = np.zeros((len(x) - 1) * stride + len(w))
    index = (np.arange(len(x))[:, None] * stride + np.arange(len(w))[None, :]).ravel()
    np.add.at(out, index, (np.asarray(x, float)[:, None] * np.asarray(w, float)[None, :]).ravel())
    return out


def scatter(x, w, stride=1):
    """A learner's right answer (the checks treat calls into tconv.reference as shortcuts)."""
    out = np.zeros((len(x) - 1) * stride + len(w))
    for j in range(len(x)):
        out[j * stride:j * stride + len(w)] += x[j] * np.asarray(w, dtype=float)
    return out


def in_float32(x, w, stride=1):
    out = np.zeros((len(x) - 1) * stride + len(w), dtype=np.float32)
    for j in range(len(x)):
        out[j * stride:j * stride + len(w)] += np.float32(x[j]) * np.asarray(w, dtype=np.float32)
    return out


def as_list(x, w, stride=1):
    return scatter(x, w, stride).tolist()


def conv_size(i, k, stride=1, padding=0, dilation=1):
    return (i + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def transpose_size(i, k, stride=1, padding=0, dilation=1, output_padding=0):
    return (i - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


@pytest.mark.parametrize("answer", [scatter, gather, add_at, in_float32, as_list])
def test_right_answers_pass(answer, capsys):
    no_picture(answer, CASES_1D)
    assert capsys.readouterr().out.startswith("✓ conv_transpose1d: 16 cases")


def test_size_checks_pass_the_references(capsys):
    checks.check_conv_output_size(conv_size, CASES_CONV)
    checks.check_conv_transpose_output_size(transpose_size, CASES_TRANSPOSE)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"✓ conv_output_size: {len(CASES_CONV)} cases")
    assert printed[1].startswith(f"✓ conv_transpose_output_size: {len(CASES_TRANSPOSE)} cases")


def test_numpy_integers_count_as_ints(capsys):
    checks.check_conv_output_size(lambda *a: np.int64(conv_size(*a)), CASES_CONV)
    assert capsys.readouterr().out.startswith(f"✓ conv_output_size: {len(CASES_CONV)} cases")
    with pytest.raises(checks.CheckFailed):  # and a float is not one
        checks.check_conv_output_size(lambda *a: float(conv_size(*a)), CASES_CONV)


# --- every known mistake is rejected and named ----------------------------------------------------

def named_alone(mistake, failure: checks.CheckFailed) -> bool:
    """The message names ``mistake`` as the one known mistake its answers reproduce, and the
    verdict record names it (the grader reads the record, never the message)."""
    message = str(failure)
    return (f"This looks like a known mistake, {mistake.name}:" in message
            and "each of these known mistakes" not in message
            and failure.verdict.mistakes == (mistake.name,))


# Every exercise of the registry with cases to run: its reference passes, each of its known
# mistakes is rejected and named (alone), and a wrong answer is rejected.
WITH_CASES = [e for e in exercises.EXERCISES if e.test_cases is not None]
KNOWN = [(e, m) for e in WITH_CASES for m in e.mistakes]


def run(exercise, answer, case_list=None):
    """Run ``exercise``'s check on ``answer`` over its test cases, without pictures."""
    check = getattr(checks, exercise.check)
    case_list = exercise.test_cases() if case_list is None else case_list
    extra = {"picture": False} if "picture" in inspect.signature(check).parameters else {}
    check(answer, case_list, **extra)


@pytest.mark.parametrize("exercise", WITH_CASES, ids=lambda e: e.check)
def test_every_exercise_passes_its_reference(exercise, capsys):
    run(exercise, exercise.answer())
    assert capsys.readouterr().out.startswith(f"✓ {exercise.learner}:")


@pytest.mark.parametrize("exercise, mistake", KNOWN, ids=[f"{e.check}-{m.name}" for e, m in KNOWN])
def test_every_known_mistake_is_rejected_and_named(exercise, mistake):
    with pytest.raises(checks.CheckFailed) as failure:
        run(exercise, exercise.in_learners_form(mistake.compute))
    assert named_alone(mistake, failure.value), str(failure.value)


class OneMore(unet_reference.DecoderBlock):
    def forward(self, x, skip):
        return super().forward(x, skip) + 1


class OneRowAndColumnShort(unet_reference.DecoderBlock):
    def forward(self, x, skip):
        return super().forward(x, skip)[..., 1:, 1:]


# Where "one more than the reference" is not a wrong answer its check can see: the wrong answer,
# and the finding its check must make.
WRONG = {
    "check_center_crop": (lambda x, height, width: x[:, :, :height, :width] + 1, "wrong value"),
    "check_center_crop_rejects_larger": (lambda x, height, width: x, "no error"),
    "check_decoder_block_submodules": (Padded, "wrong structure"),
    "check_decoder_block": (OneMore, "wrong value"),
    "check_decoder_block_paper_sizes": (OneRowAndColumnShort, "wrong shape"),
}


def _wrong(exercise):
    """An answer that is wrong on every case, and the finding that says so: one more than the
    reference, or what WRONG says."""
    if exercise.check in WRONG:
        return WRONG[exercise.check]
    if exercise.compare == "ints":
        return (lambda *args: int(exercise.reference(*args)) + 1), "wrong value"
    return (lambda *args: np.asarray(exercise.reference(*args), dtype=float) + 1), "wrong value"


@pytest.mark.parametrize("exercise", WITH_CASES, ids=lambda e: e.check)
def test_every_exercise_rejects_a_wrong_answer(exercise):
    answer, finding = _wrong(exercise)
    with pytest.raises(checks.CheckFailed) as failure:
        run(exercise, answer)
    verdict = failure.value.verdict
    assert (verdict.exercise, verdict.finding) == (exercise.learner, finding), str(failure.value)
    assert str(failure.value) == verdict.message and verdict.call in verdict.message


def test_a_failing_check_renders_as_its_message_in_ipython():
    """IPython shows CheckFailed as its message: no frames of the course's checking code."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.io import capture_output

    shell = InteractiveShell.instance()
    shell.user_ns.update(checks=learner_checks, cases=cases, np=np)
    with capture_output() as shown:
        shell.run_cell("def conv1d_matrix(n, w, stride=1):\n"
                       "    return np.zeros(((n - len(w)) // stride + 1, n))\n"
                       "checks.check_conv1d_matrix(conv1d_matrix, cases.matrix_examples(), "
                       "picture=False)")
    text = shown.stdout + shown.stderr
    assert "CheckFailed" in text and "conv1d_matrix(n=4, w=[1, 2, 3], stride=1)" in text
    assert "wrong value at index (0, 0)" in text
    assert "Traceback" not in text and "comparing.py" not in text


def test_the_registry_declares_every_check_once_and_checks_makes_them_all():
    made = {name for name in dir(learner_checks) if name.startswith("check_")}
    assert made == set(exercises.BY_CHECK)
    for exercise in exercises.EXERCISES:
        assert getattr(learner_checks, exercise.check).__name__ == exercise.check
        assert exercise.recheck == (exercise.check in recheck.RECHECKABLE)


def test_the_re_check_re_checks_exactly_what_graded_cells_call_with_the_registrys_references():
    """What the re-check re-checks, held against the notebooks, not against the registry's own
    list: every check a graded cell calls, each with its exercise's reference; chapter 06's
    optional autograd Function, which no graded cell calls, is not re-checked."""
    graded = {check for _, _, check, _ in graded_calls()}
    assert set(recheck.RECHECKABLE) == graded
    assert "check_scatter_add_function" not in recheck.RECHECKABLE
    for check, reference in recheck.RECHECKABLE.items():
        assert reference is exercises.BY_CHECK[check].reference, check


def test_the_span_slip_d_times_k_is_named_and_not_mistaken_for_others():
    """d*k instead of d*(k - 1) + 1 coincides with other mistakes on single cases (the + 1
    forgotten, i * stride); only the mistake that reproduces every case is named."""
    def span_dk(i, k, stride=1, padding=0, dilation=1, output_padding=0):
        return (i - 1) * stride - 2 * padding + dilation * k + output_padding

    message = failure(checks.check_conv_transpose_output_size, span_dk, CASES_TRANSPOSE)
    assert "known mistake, span d*k instead of d*(k - 1) + 1:" in message
    assert "i * stride instead" not in message and "+ 1 forgotten" not in message
    # On one case each, the other two mistakes give the same number as d*k:
    coincide = {m.name for m in mistakes.CONV_TRANSPOSE_OUTPUT_SIZE for case in CASES_TRANSPOSE
                if m.compute(*case.args) == span_dk(*case.args) != transpose_size(*case.args)}
    assert "i * stride instead of (i - 1) * stride" in coincide


def test_a_mistake_that_explains_only_some_failing_cases_is_not_named():
    def partly_forgot_the_plus_one(i, k, stride=1, padding=0, dilation=1):
        right = conv_size(i, k, stride, padding, dilation)
        return right - 1 if i % 2 else right + 7  # the + 1 forgotten only on odd inputs

    message = failure(checks.check_conv_output_size, partly_forgot_the_plus_one, CASES_CONV)
    assert "known mistake" not in message
    assert f"of {len(CASES_CONV)} cases fail; this is the first." in message


def test_a_mistake_must_also_agree_where_the_answer_is_right():
    """Overwriting and adding agree when copies do not overlap; an answer right on every case
    but one is not 'overwriting' just because that one case looks like it."""
    overwrite = mistakes.CONV_TRANSPOSE1D[0].compute
    stride_large = cases.case_1d([1.0, 2.0], [1.0, 1.0, 1.0], 1, "overlap")

    def overwrites_only_here(x, w, stride=1):
        if len(x) == 2 and stride == 1:
            return overwrite(x, w, stride)
        return scatter(x, w, stride)  # right everywhere else, overlapping copies included

    others = cases.random_1d(5, 1)
    assert any(not np.allclose(overwrite(*c.args), scatter(*c.args)) for c in others)
    message = failure(no_picture, overwrites_only_here, [stride_large] + others)
    assert "1 of 6 cases fail" in message and "known mistake" not in message


# --- what a failure says --------------------------------------------------------------------------

def test_a_wrong_value_names_the_call_the_position_and_both_values():
    def off_at_the_end(x, w, stride=1):
        out = scatter(x, w, stride)
        out[-1] += 1
        return out

    message = failure(no_picture, off_at_the_end, cases.seed_example_1d())
    assert "conv_transpose1d(x=[2, 3], w=[1, 2, 3], stride=2)" in message
    assert "wrong value at index 4: expected 9, got 10" in message
    assert "1 of 5 values differ" in message


def test_a_wrong_shape_gives_the_formula_with_the_numbers():
    message = failure(no_picture, lambda x, w, stride=1: np.zeros(6), cases.seed_example_1d())
    assert "wrong shape: expected (5,), got (6,)" in message
    assert "(L - 1)*stride + K = (2 - 1)*2 + 3 = 5" in message


def test_the_stub_says_to_write_the_function():
    def stub(x, w, stride=1):
        raise NotImplementedError()

    assert "not written yet" in failure(no_picture, stub, CASES_1D)


def test_a_missing_return_is_named():
    assert "did you forget to `return`" in failure(no_picture, lambda x, w, stride=1: None, CASES_1D)


def test_an_exception_is_reported_with_the_call():
    def broken(x, w, stride=1):
        return np.zeros(1)[5]

    message = failure(no_picture, broken, CASES_1D)
    assert "raised IndexError" in message and "conv_transpose1d(x=" in message


def test_integer_dtype_in_place_add_gets_a_hint():
    def zeros_like(x, w, stride=1):
        out = np.zeros((len(x) - 1) * stride + len(w), dtype=np.asarray(x).dtype)
        for j in range(len(x)):
            out[j * stride:j * stride + len(w)] += x[j] * w
        return out

    assert "holds integers" in failure(no_picture, zeros_like, cases.edge_1d())


def test_a_float_size_is_refused_even_when_its_value_is_right():
    message = failure(checks.check_conv_output_size,
                      lambda *a: float(conv_size(*a)), CASES_CONV)
    assert "must be an int" in message


def test_an_answer_that_lies_about_equality_is_judged_by_its_numbers():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), dtype=bool)

        def __sub__(self, other):
            return np.zeros(np.shape(other))

    def liar(x, w, stride=1):
        return np.zeros((len(x) - 1) * stride + len(w)).view(Liar)

    assert "wrong value at index 0" in failure(no_picture, liar, cases.seed_example_1d())


@pytest.mark.parametrize("line", [
    "out[j * stride:j * stride + len(w) + 1] += x[j] * w",   # numpy 2: operands could not ...
    "out[j * stride:j * stride + len(w) + 1] = x[j] * w",    # could not broadcast input array
    "np.add(out[j * stride:j * stride + len(w)], x[j] * w[:, None], out=out[j * stride:j * stride + len(w)])",
])
def test_a_slice_of_the_wrong_length_gets_the_broadcast_hint(line):
    namespace = {"np": np}
    exec("def slipped(x, w, stride=1):\n"
         "    out = np.zeros((len(x) - 1) * stride + len(w) + 5)\n"
         "    w = np.asarray(w, dtype=float)\n"
         "    for j in range(len(x)):\n"
         f"        {line}\n"
         "    return out\n", namespace)
    message = failure(no_picture, namespace["slipped"], cases.seed_example_1d())
    assert "raised ValueError" in message and "differ in shape" in message, message


def test_an_index_past_the_end_names_the_array_it_ran_past():
    def past_the_output(x, w, stride=1):
        out = np.zeros((len(x) - 1) * stride + len(w) - 1)
        for j in range(len(x)):
            for t in range(len(w)):
                out[j * stride + t] += x[j] * w[t]
        return out

    message = failure(no_picture, past_the_output, cases.seed_example_1d())
    assert "index 4 is out of bounds" in message
    assert "An index ran past the end of an array whose axis 0 has only 4 entries" in message
    assert "the output is (5,)" in message


def test_try_it_prints_the_result_or_the_error_and_never_raises(capsys):
    assert checks.try_it(scatter, np.array([2, 3]), [1.0, 2.0, 3.0], stride=2) is None
    assert capsys.readouterr().out == "[2. 4. 9. 6. 9.]\n"

    def stub(x, w, stride=1):
        raise NotImplementedError()

    checks.try_it(stub, [1.0], [1.0])
    assert "stub stopped at `raise NotImplementedError()`" in capsys.readouterr().out

    def broken(x, w, stride=1):
        out = np.zeros(3)
        out[0:2] += np.ones(3)
        return out

    checks.try_it(broken, [1.0], [1.0])
    shown = capsys.readouterr().out
    assert "broken raised ValueError" in shown and "differ in shape" in shown
    assert "The checks below run anyway" in shown
    checks.try_it(np.zeros, (20, 20))
    assert capsys.readouterr().out == "ndarray of shape (20, 20)\n"


def test_a_failing_value_check_draws_expected_yours_and_difference(monkeypatch):
    shown = []
    monkeypatch.setattr(comparing, "show_comparison", lambda *args: shown.append(args))
    failure(checks.check_conv_transpose1d, mistakes.CONV_TRANSPOSE1D[0].compute,
            cases.seed_example_1d())
    expected, actual, _ = shown[0]
    assert expected.tolist() == [2, 4, 9, 6, 9] and actual.tolist() == [2, 4, 3, 6, 9]


def test_when_grading_the_courses_pictures_are_not_drawn_and_the_learners_are(monkeypatch,
                                                                              capsys):
    """In nbgrader's grading run a course picture is not built: it prints one line instead of a
    PNG. The picture of a failing answer is still drawn, and so is every picture in Validate."""
    import IPython.display

    drawn = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **how: drawn.append(data))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    figure = plots.scatter_steps_1d(np.array([2.0, 3.0]), np.array([1.0, 2.0, 3.0]), stride=2)
    assert figure is None
    plots.display(figure)
    assert drawn == [] and capsys.readouterr().out == plots.NOT_DRAWN + "\n"
    failure(checks.check_conv_transpose1d, mistakes.CONV_TRANSPOSE1D[0].compute,
            cases.seed_example_1d())
    assert len(drawn) == 1 and "image/png" in drawn[0]  # expected / yours / difference
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    plots.display(plots.scatter_steps_1d(np.array([2.0]), np.array([1.0]), stride=1))
    assert len(drawn) == 2
    with pytest.raises(TypeError, match="given None, not a figure"):  # not "not drawn when grading"
        plots.display(None)
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_a_graded_kernel_that_draws_nothing_never_imports_matplotlib():
    """Every module of pictures the notebooks import, and a course picture asked for while
    grading: matplotlib stays unimported (it costs a graded kernel 1.1 s of CPU). A wrong answer's
    picture then imports it."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from tconv import checkerboard_plots, checks, explorer, mistakes, plots, unet_plots, cases
        plots.display(plots.scatter_steps_1d(np.array([2.0]), np.array([1.0])))
        explorer.show_explorer()
        print("before", "matplotlib" in sys.modules)
        try:
            checks.check_conv_transpose1d(mistakes.CONV_TRANSPOSE1D[0].compute,
                                          cases.seed_example_1d())
        except AssertionError:
            pass
        print("after", "matplotlib" in sys.modules)
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=dict(os.environ, NBGRADER_EXECUTION="autograde", MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(plots.NOT_DRAWN) == 2, result.stdout
    assert "before False" in result.stdout and "after True" in result.stdout, result.stdout


# --- shortcuts: a ready-made transposed convolution earns nothing ---------------------------------

def _torch_functional(x, w, stride=1):
    import torch
    from torch.nn.functional import conv_transpose1d as renamed

    return renamed(torch.tensor(x, dtype=torch.float64)[None, None],
                   torch.tensor(w, dtype=torch.float64)[None, None], stride=stride)[0, 0].numpy()


def _torch_module(x, w, stride=1):
    import torch

    layer = torch.nn.ConvTranspose1d(1, 1, len(w), stride=stride, bias=False).double()
    layer.weight.data[:] = torch.tensor(w, dtype=torch.float64)
    return layer(torch.tensor(x, dtype=torch.float64)[None, None])[0, 0].detach().numpy()


def _torch_autograd(x, w, stride=1):
    import torch

    y = torch.zeros((len(x) - 1) * stride + len(w), dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.conv1d(y[None, None], torch.tensor(w, dtype=torch.float64)[None, None],
                                     stride=stride)[0, 0]
    return torch.autograd.grad(out, y, torch.tensor(x, dtype=torch.float64))[0].numpy()


def _torch_gradient_helper(x, w, stride=1):
    import torch

    length = (len(x) - 1) * stride + len(w)
    return torch.nn.grad.conv1d_input((1, 1, length), torch.tensor(w, dtype=torch.float64)[None, None],
                                      torch.tensor(x, dtype=torch.float64)[None, None],
                                      stride=stride)[0, 0].numpy()


def _course_reference(x, w, stride=1):
    import tconv.reference as answers

    return answers.conv_transpose1d(x, w, stride)


@pytest.mark.parametrize("shortcut, named", [
    (_torch_functional, "PyTorch's conv_transpose1d"),
    (_torch_module, "PyTorch's conv_transpose1d"),
    (_torch_autograd, "gradient machinery"),
    (_torch_gradient_helper, "gradient machinery"),
    (_course_reference, "the course's answer tconv.reference.conv_transpose1d"),
], ids=lambda v: getattr(v, "__name__", "")[:30])
def test_a_ready_made_transposed_convolution_earns_nothing(shortcut, named):
    message = failure(learner_checks.check_conv_transpose1d, shortcut, cases.seed_example_1d())
    assert named in message and "earns no credit" in message


def test_calling_the_reference_size_function_is_a_shortcut_too():
    from tconv import reference as answers

    message = failure(learner_checks.check_conv_output_size, lambda *a: answers.conv_output_size(*a),
                      CASES_CONV)
    assert "tconv.reference.conv_output_size" in message


def test_no_two_mistakes_of_an_exercise_share_a_name():
    """The grading report counts mistakes by name (from the verdict record)."""
    for exercise in exercises.EXERCISES:
        names = [m.name for m in exercise.mistakes]
        assert len(names) == len(set(names)), exercise.check


# --- the verdict record reaches the grading report as data ------------------------------------

def kernel_outputs(failure: checks.CheckFailed) -> list:
    """A failing test cell's outputs as the kernel records them: the record published by the
    check, then the error whose text the learner reads."""
    from tconv import judge

    return [{"output_type": "display_data", "data": judge.output_data(failure.verdict),
             "metadata": {}},
            {"output_type": "error", "ename": "CheckFailed", "evalue": str(failure),
             "traceback": [str(failure)]}]


def test_the_report_counts_mistakes_by_name_however_the_explanation_is_worded(tmp_path):
    """The report's 'most common problems' column comes from the record's mistake names: an
    explanation reworded (even to look like another mistake's message) changes nothing."""
    import nbformat

    from tconv.grader import grading
    from tconv.grader import records, report

    mistake = mistakes.CONV_TRANSPOSE1D[1]  # stride ignored
    original = mistake.explanation
    object.__setattr__(mistake, "explanation", "Reworded: this looks like a known mistake, "
                                               "bogus name: nothing to parse here")
    try:
        with pytest.raises(checks.CheckFailed) as raised:
            no_picture(mistake.compute, CASES_1D)
    finally:
        object.__setattr__(mistake, "explanation", original)
    assert "Reworded" in str(raised.value)
    cell = nbformat.v4.new_code_cell("checks.check_conv_transpose1d(conv_transpose1d, cases)")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "random_cases", "points": 2}
    cell.outputs = [nbformat.from_dict(o) for o in kernel_outputs(raised.value)]
    problem = report.cell_problems(nbformat.v4.new_notebook(cells=[cell]))["random_cases"]
    assert problem.found == ("stride ignored",) and problem.note == "stride ignored"

    result = records.Result("ada", "01_scatter_add_1d", "01_scatter_add_1d", cells=[
        records.CellResult("random_cases", 0.0, 2.0, 0.0, problem=problem.note,
                           found=problem.found)])
    rows = [{"student_id": "ada", "assignment": "01_scatter_add_1d", "notebook": "n",
             "grade_id": "random_cases", "score": 0.0, "max_score": 2.0}]
    notes, counted = grading.readings([result])
    report.write_report(rows, notes, counted, tmp_path / "report.md")
    row = [line for line in (tmp_path / "report.md").read_text().splitlines()
           if line.startswith("| 01_scatter_add_1d | random_cases |")]
    assert row and row[0].endswith("| stride ignored (1) |"), row
    assert "bogus" not in (tmp_path / "report.md").read_text()
    # the feedback keeps the learner's message and drops the record, which shows nothing
    notebook = nbformat.v4.new_notebook(cells=[cell])
    report.make_safe(notebook)
    assert [o.output_type for o in notebook.cells[0].outputs] == ["error"]


def test_a_record_that_is_not_one_is_ignored_and_the_error_read_instead():
    import nbformat

    from tconv import judge
    from tconv.grader import report

    cell = nbformat.v4.new_code_cell("checks.check_conv_transpose1d(conv_transpose1d, cases)")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "g"}
    cell.outputs = [nbformat.from_dict(o) for o in [
        {"output_type": "display_data", "metadata": {},
         "data": {judge.VERDICT_MIMETYPE: {"exercise": "x", "finding": "invented"}}},
        {"output_type": "error", "ename": "CheckFailed", "evalue": "conv_transpose1d(...)\n  x",
         "traceback": []}]]
    problem = report.cell_problems(nbformat.v4.new_notebook(cells=[cell]))["g"]
    assert problem.found == ("CheckFailed",) and problem.note == "CheckFailed: conv_transpose1d(...)"


# --- a failing check in a kernel: shown without stopping Run All, raised under nbgrader ------------

def run_in_a_kernel(environment: str | None):
    """A two-cell notebook, a wrong answer checked then a cell after it, executed by nbclient as
    JupyterLab's Run All does (it stops at the first cell whose execution reply is an error),
    with ``NBGRADER_EXECUTION`` as given (None: unset, a learner's own kernel)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom tconv import checkerboard_cases, checks\n"
            "def overlap_counts_1d(k, s, n):\n    return np.ones((n - 1) * s + k, dtype=int)\n"
            "checks.check_overlap_counts_1d(overlap_counts_1d, checkerboard_cases.counts_example())\n"
            "print('the same cell goes on')"),
        nbformat.v4.new_code_cell("print('the next cell ran')")])
    environment_before = os.environ.pop("NBGRADER_EXECUTION", None)
    if environment is not None:
        os.environ["NBGRADER_EXECUTION"] = environment
    try:
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)
        if environment_before is not None:
            os.environ["NBGRADER_EXECUTION"] = environment_before
    return notebook


@pytest.mark.slow
def test_in_a_learners_kernel_a_failing_check_shows_its_error_and_run_all_goes_on():
    """The failure is the same error output as a raised CheckFailed (red, the message alone),
    with the record before it, but the cell's execution succeeds: the next cell runs. The grading
    report reads such a cell as it reads a raised failure."""
    import nbformat

    from tconv.grader import report

    notebook = run_in_a_kernel(None)  # NotebookClient raises CellExecutionError on a raise
    outputs = notebook.cells[0].outputs
    errors = [o for o in outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "CheckFailed"
    assert "overlap_counts_1d(" in errors[0].evalue and "Traceback" not in "".join(errors[0].traceback)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert "the next cell ran" in notebook.cells[1].outputs[0].text
    cell = notebook.cells[0]
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "counts"}
    problem = report.cell_problems(nbformat.v4.new_notebook(cells=[cell]))["counts"]
    assert problem.found and problem.found != ("CheckFailed",), problem


@pytest.mark.parametrize("environment", ["autograde", "validate"])
@pytest.mark.slow
def test_under_nbgrader_a_failing_check_raises_and_stops_its_cell(environment):
    """Autograde and Validate (both set NBGRADER_EXECUTION) see the failure raised: the cell's
    execution fails (nbgrader scores it 0; Validate reports it)."""
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as raised:
        run_in_a_kernel(environment)
    assert "CheckFailed" in str(raised.value)


# --- the notebooks call only what the registry knows ----------------------------------------------

def graded_calls():
    """(notebook, grade_id, check, learner name) of every statement of every graded cell."""
    import ast

    import nbformat

    from tconv.grader import course

    found = []
    for path in sorted(course.SOLUTIONS.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade"):
                continue
            for statement in ast.parse(cell.source).body:
                call = statement.value if isinstance(statement, ast.Expr) else None
                is_check = (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                            and isinstance(call.func.value, ast.Name)
                            and call.func.value.id == "checks" and call.args
                            and isinstance(call.args[0], ast.Name))
                found.append((path.stem, meta["grade_id"], call.func.attr if is_check else None,
                               call.args[0].id if is_check else ast.unparse(statement)))
    return found


def test_every_graded_cell_calls_a_check_the_registry_knows_on_its_learner_function():
    calls = graded_calls()
    assert len(calls) > 60
    for notebook, grade_id, check, learner in calls:
        assert check in exercises.BY_CHECK, f"{notebook}/{grade_id}: {check or learner}"
        exercise = exercises.BY_CHECK[check]
        assert learner == exercise.learner, f"{notebook}/{grade_id}: {check}({learner}, ...)"
        assert notebook.startswith(exercise.chapter), f"{notebook}/{grade_id}: {check}"
    graded = {check for _, _, check, _ in calls}
    assert graded == {e.check for e in exercises.EXERCISES if e.check != "check_scatter_add_function"}


def test_the_graded_cell_test_rejects_an_unknown_check_or_function(monkeypatch):
    """The test above fails on a cell the registry does not know."""
    real = graded_calls()
    for wrong in [(*real[0][:2], "check_conv_transpose3d", real[0][3]),
                  (*real[0][:3], "conv_transpose1d_mine")]:
        monkeypatch.setitem(globals(), "graded_calls", lambda: real + [wrong])
        with pytest.raises(AssertionError):
            test_every_graded_cell_calls_a_check_the_registry_knows_on_its_learner_function()


def test_the_recheck_returns_the_record_and_names_the_mistake():
    """Played back through the re-check, a known mistake's answers give a verdict whose counted
    problems are the mistake's name (from the record), and a right answer's pass."""
    from tconv import reference
    from tconv.grader import recheck
    from tconv.grader.course_notebooks import CourseNotebooks

    chapter = "01_scatter_add_1d"
    source = CourseNotebooks.read([chapter]).solution(chapter, chapter)
    mistake = mistakes.CONV_TRANSPOSE1D[1]  # stride ignored

    def answers(compute):
        encoded = []
        for _, calls in recheck.plan_for(source):
            for call in calls or []:
                for args, kwargs in call.calls:
                    out = np.asarray(compute(*args, **kwargs), dtype=np.float64)
                    encoded.append(["array", {"dtype": "float64", "shape": list(out.shape),
                                              "data": out.ravel().tolist()}])
        return encoded

    wrong = recheck.judge(source, answers(mistake.compute), None)
    seed = [v for v in wrong if v.grade_id == "conv_transpose1d_seed_example"][0]
    assert seed.passed is False and seed.found == (mistake.name,) and seed.note == mistake.name
    assert f"known mistake, {mistake.name}:" in seed.message
    right = recheck.judge(source, answers(reference.conv_transpose1d), None)
    assert all(v.passed for v in right) and all(not v.found for v in right)


@pytest.mark.parametrize("timed_out, stdout, finding", [
    (True, b"", "recheck timed out"), (False, b"ANSWERS-forged:[]", "recheck no answers"),
    (False, b"", "recheck memory")])
def test_a_recheck_that_gets_no_answers_is_a_record_counted_by_its_kind(timed_out, stdout, finding):
    """The re-run timed out, printed no answers in the agreed form, or was ended for its memory
    in total: every cell fails with a
    record whose counted problem is the kind's few words, not a sentence with numbers in it."""
    from types import SimpleNamespace

    from tconv.grader import course
    from tconv.grader.course_notebooks import CourseNotebooks

    ran = SimpleNamespace(timed_out=timed_out, stdout=stdout, returncode=0,
                          memory_exceeded=finding == "recheck memory")
    sandbox = SimpleNamespace(seeing=lambda modules: SimpleNamespace(run=lambda *a, **k: ran))
    chapter = "01_scatter_add_1d"
    notebooks = CourseNotebooks.read([chapter])
    found = recheck.run(sandbox, course.SAMPLE_SUBMISSIONS / "perfect" / chapter / f"{chapter}.ipynb",
                        notebooks.solution(chapter, chapter), notebooks.released(chapter, chapter),
                        timeout=30)
    assert found and all(v.passed is False and v.found == (judge.FINDINGS[finding],)
                         for v in found)
    assert "outside the notebook" in found[0].message


# --- the guard is configured by argument ------------------------------------------------------------

def test_guards_with_different_settings_run_at_once_in_threads():
    """What counts as a shortcut is the Guard passed to the check, not module state: the same
    answer (the course's reference) passes under ``guard.REFERENCES`` and is refused under
    ``guard.LEARNER``, in threads running at the same time."""
    import threading

    from tconv import guard, reference

    outcomes = {}

    def run_with(name, shortcuts, rounds=5):
        results = []
        for _ in range(rounds):
            try:
                learner_checks.check_conv_transpose1d(reference.conv_transpose1d, CASES_1D,
                                                      picture=False, shortcuts=shortcuts)
                results.append("passed")
            except checks.CheckFailed as failure:
                results.append(failure.verdict.finding)
        outcomes[name] = results

    threads = [threading.Thread(target=run_with, args=(name, shortcuts)) for name, shortcuts in
               [("learner", guard.LEARNER), ("references", guard.REFERENCES)] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"learner": ["shortcut"] * 5, "references": ["passed"] * 5}
