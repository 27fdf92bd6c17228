"""nbgrader settings of the learners' JupyterLab (`make lab`, Binder): what Validate uses.

Validate runs the whole notebook; chapter 06 trains a small U-Net there (10 to 15 s here, longer
on a slow laptop or a busy Binder), so a cell may take up to 300 s before Validate gives up.
Grading keeps its own limit (autograder/nbgrader_config.py, `make grade TIMEOUT=...`).
"""

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.Execute.timeout = 300
