"""``tconv.checks`` as most tests call it: every check is given ``shortcuts=guard.REFERENCES``, so
that the course's reference implementations (and answers built on them) count as right answers.
In a learner's notebook they are shortcuts: ``tconv.checks`` itself holds every answer to
``guard.LEARNER``, and the tests of that rule call it directly. The guard is passed by argument,
as the grader's re-check passes it; no test changes module state to relax it."""

from __future__ import annotations

import functools

from tconv import checks as _checks
from tconv import guard


def __getattr__(name: str):
    found = getattr(_checks, name)
    if name.startswith("check_"):
        return functools.partial(found, shortcuts=guard.REFERENCES)
    return found
