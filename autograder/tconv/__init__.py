"""tconv: the course's reference implementations, checks and pictures.

- ``tconv.reference``: the answers, as readable numpy scatter-add code.
- ``tconv.pytorch``: the same operations computed by PyTorch, to hold everything against.
- ``tconv.cases``: the article's examples, edge cases and seeded random cases.
- ``tconv.mistakes``: common wrong answers, written out, so feedback can name them.
- ``tconv.checks``: what the notebooks' test cells call.
- ``tconv.plots``: every picture the chapters and the feedback show.
- ``tconv.grading``: the instructor's grading command (``python -m tconv.grading``).
"""
