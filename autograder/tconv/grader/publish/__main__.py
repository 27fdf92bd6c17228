"""``python -m tconv.grader.publish``: build the learners' repository (``tree.main``)."""

from .tree import main

main()
