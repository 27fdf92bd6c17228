"""Chapter 06's DecoderBlock is re-checked outside the kernel, from data (grader/recheck/blocks.py).

Each test writes one learner DecoderBlock into a copy of chapter 06's notebook and runs the
re-check as the grader does: the learner's cells in a sandboxed child that cannot import the course
package, the block's structure and outputs coming back as JSON, the unchanged checks judging
stand-ins built from that data.
"""

from __future__ import annotations

import nbformat
import pytest

from tconv import exercises
from tconv.grader import recheck
from tconv.grader.course_notebooks import CourseNotebooks
from tconv.grader.sandbox import Sandbox

pytestmark = pytest.mark.slow  # every test runs the re-check's child in a sandbox

CHAPTER = "06_unet_decoder"
NOTEBOOKS = CourseNotebooks.read([CHAPTER])
SOURCE = NOTEBOOKS.solution(CHAPTER, CHAPTER)
RELEASED = NOTEBOOKS.released(CHAPTER, CHAPTER)
BLOCK_CELLS = ("decoder_block_submodules", "decoder_block_matches_reference",
               "decoder_block_paper_sizes")

BLOCK = """
class DecoderBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=PADDING)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=PADDING)

    def forward(self, x, skip):
        up = self.up(x)
        skip = center_crop(skip, up.shape[2], up.shape[3])
        merged = torch.cat(ORDER, dim=1)
        return torch.relu(self.conv2(torch.relu(self.conv1(merged))))
"""


def block(padding=0, order="[skip, up]") -> str:
    return BLOCK.replace("PADDING", str(padding)).replace("ORDER", order)


def rechecked(tmp_path, decoder_source: str) -> dict:
    """{grade_id: Verdict} for chapter 06 with ``decoder_source`` as the DecoderBlock cell."""
    notebook = NOTEBOOKS.solution(CHAPTER, CHAPTER)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "decoder_block_answer":
            cell.source = decoder_source
    tmp_path.mkdir(parents=True, exist_ok=True)
    submitted = tmp_path / "submitted.ipynb"
    nbformat.write(notebook, submitted)
    folder = tmp_path / "sandbox"
    folder.mkdir()
    found = recheck.run(Sandbox(folder), submitted, SOURCE, RELEASED, timeout=300)
    return {verdict.grade_id: verdict for verdict in found}


def test_every_graded_block_cell_is_rechecked():
    planned = dict(recheck.plan_for(SOURCE))
    for grade_id in BLOCK_CELLS:
        assert planned[grade_id], grade_id
        assert all(call.lives and not call.calls for call in planned[grade_id])
    assert set(BLOCK_CELLS) <= recheck.rechecked_cells(SOURCE)
    assert recheck.needs_torch(SOURCE)


def test_the_right_block_passes_and_wrong_ones_fail_with_the_kernels_reasons(tmp_path):
    right = rechecked(tmp_path / "right", block())
    assert all(right[grade_id].passed for grade_id in BLOCK_CELLS), right

    swapped = rechecked(tmp_path / "swapped", block(order="[up, skip]"))
    assert swapped["decoder_block_submodules"].passed  # its structure is right
    assert swapped["decoder_block_paper_sizes"].passed  # and so are its sizes
    wrong = swapped["decoder_block_matches_reference"]
    assert wrong.passed is False
    assert "wrong concatenation order, upsampled map first" in wrong.message
    assert "right shape, wrong values" in wrong.message

    padded = rechecked(tmp_path / "padded", block(padding=1))
    for grade_id in BLOCK_CELLS:
        assert padded[grade_id].passed is False, grade_id
    assert "self.conv1 has padding=(1, 1), expected (0, 0)" in padded["decoder_block_submodules"].message
    assert "unpadded" in padded["decoder_block_submodules"].message


def test_the_course_answer_is_out_of_reach(tmp_path):
    """A block that is the course's own (imported from tconv) passes inside the kernel unless the
    guard sees it; outside, the course package is not there at all."""
    found = rechecked(tmp_path, "from tconv.unet_reference import DecoderBlock\n")
    for grade_id in BLOCK_CELLS:
        assert found[grade_id].passed is False
        assert "not available when your answer is re-checked" in found[grade_id].message


def test_a_malformed_report_is_refused():
    """What the child sends back is data checked against a schema before a stand-in is built from
    it: missing fields, a submodule name the stand-in could not carry, an oversized or negative
    shape are refused (the grader then scores the re-checked cells 0 with that reason)."""
    malformed = [
        ["block", {"children": [], "state": [], "load": None}],                  # a field missing
        ["block", {"children": [["forward", "Conv2d", {}]], "state": [], "load": None,
                   "outputs": []}],                                               # a reserved name
        ["block", {"children": [], "state": [["w", [10**6, 10**6]]], "load": None,
                   "outputs": []}],                                               # too large
        ["block", {"children": [], "state": [], "load": None,
                   "outputs": [["shape", [-1]]]}],                                # a bad shape
    ]
    for answer in malformed:
        with pytest.raises(recheck.Malformed):
            recheck.validate(answer)
    empty = ["block", {"children": [], "state": [], "load": None, "outputs": []}]
    assert recheck.validate(empty) == 0
    assert exercises.BY_CHECK["check_decoder_block_paper_sizes"].answers == "block shapes"


def test_a_replaced_check_is_judged_by_the_real_one(tmp_path):
    """A notebook that replaces the check in its kernel makes that cell pass there; the re-check
    runs the real check on the block's outputs, so the wrong block still fails."""
    tampered = block(order="[up, skip]") + "\nchecks.check_decoder_block = lambda *a, **k: None\n"
    found = rechecked(tmp_path, tampered)
    assert found["decoder_block_matches_reference"].passed is False
    assert "wrong concatenation order" in found["decoder_block_matches_reference"].message
