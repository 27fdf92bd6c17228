"""The instructors' machinery. The grading pipeline, read top to bottom:

intake.py    SUBMITTED (a folder or an LMS zip) -> validated ids -> read-only snapshots; beside
             it, the instructors' and released notebooks, read once (course_notebooks.py)
sandbox.py   the per-student jail every piece of learner code runs in (probe.py: its mode;
             sandboxed_kernel.py: the notebook's kernel in it)
task.py      grade one student notebook: snapshot in, data out (scores, notes, feedback)
capping.py   the notebook's output capped while it arrives (nbgrader's executor, its sockets)
runner.py    who runs the tasks: a local Dask cluster or SCHEDULER's; the kept results
recheck/     the re-check: the learner's answers, judged where no learner code ran (record,
             answer in the sandbox, judge; one declared wire format)
records.py   the result records a task returns and the coordinator reads
report.py    exercises.csv, report.md, scores.png, safe feedback HTML
gradebook.py the only writer of nbgrader's gradebook and of grades.csv

``grading.py`` (``make grade``) is the coordinator that calls them. Beside the pipeline, the
instructors' other commands: ``course.py`` (where the folders are, how nbgrader is run),
``release.py`` (``make release``), ``publish/`` (``make publish``, a module per job), ``formgrader.py``
(``make formgrader``, ``make export``).
"""
