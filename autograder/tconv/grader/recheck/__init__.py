"""The re-check: every answer judged again where no learner code ran.

nbgrader runs test cells inside the learner's own kernel, after the learner's code, so a notebook
can make them pass without a right answer (reassign a check, patch numpy, return an object that
lies, read the hidden tests). So every answer is checked again, in three steps:

recording.py 1. record (trusted): the calls each test cell makes, hidden cases drawn from a secret
child.py     2. answer (in the student's sandbox): the learner's code run, its answers printed
judge.py     3. judge (trusted): the real checks on the answers played back; ``run`` does 2 and 3
wire.py      the one declared format between them (wire.schema.json), validated with jsonschema
codec.py     the values on the wire, both ways (standalone: the child's program begins with it)
blocks.py    a class (chapter 06's DecoderBlock): its blocks' lives recorded, stand-ins judged
"""

from .judge import Verdict, child_packages, judge, learner_cells, request, run
from .recording import (DRAWN_NOTE, RECHECKABLE, TEST_NAMESPACE, CheckCall, draw_key, drawn_seed,
                     needs_torch, plan_for, record, rechecked_cells, test_cell_calls, test_cells)
from .wire import Malformed, answers_from, validate

__all__ = ["DRAWN_NOTE", "RECHECKABLE", "TEST_NAMESPACE", "CheckCall", "Malformed", "Verdict",
           "answers_from", "child_packages", "draw_key", "drawn_seed", "judge", "learner_cells", "needs_torch",
           "plan_for", "record", "rechecked_cells", "request", "run", "test_cell_calls",
           "test_cells", "validate"]
