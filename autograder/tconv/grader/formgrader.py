"""nbgrader's Formgrader on a grading run's gradebook, and the export after hand-made changes.

    python -m tconv.grader.formgrader serve --grades DIR [--port 8888]     (make formgrader GRADES=DIR)
    python -m tconv.grader.formgrader export --grades DIR                  (make export GRADES=DIR)

`make grade GRADES=DIR` leaves nbgrader's gradebook and folders in DIR/nbgrader/. ``serve`` starts
JupyterLab with the Formgrader pointed at them (a configuration written to
DIR/nbgrader/formgrader-config/, the only extra configuration folder of that server): the
instructor browses the submissions, reads the autograded notebooks and the feedback, and can
change a score by hand. ``export`` then writes DIR/grades.csv again from the gradebook, so a score
changed by hand is in the file to import.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import course, grading
from .gradebook import Workspace


def workspace(grades: Path) -> Workspace:
    grades = grades.resolve()
    work = Workspace(grades)
    if not (work.root / "gradebook.db").exists():
        raise SystemExit(f"error: GRADES={grades} holds no nbgrader/gradebook.db: grade first, "
                         f"with `make grade GRADES={grades}` (and SUBMITTED=...)")
    return work


def write_config(grades: Path) -> Path:
    """The Formgrader's configuration for one grading run; returns its folder."""
    work = workspace(grades)
    folder = work.root / "formgrader-config"
    folder.mkdir(exist_ok=True)
    lines = ["# Written by `make formgrader`: the course's nbgrader settings, with the folders and",
             "# the gradebook of this grading run.",
             "c = get_config()  # noqa: F821",
             f"load_subconfig({str(course.AUTOGRADER / 'nbgrader_config.py')!r})  # noqa: F821"]
    for option in work.options():
        name, _, value = option.removeprefix("--").partition("=")
        lines.append(f"c.{name} = {value!r}")
    (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n")
    return folder


def server_command(grades: Path, port: int | str) -> tuple[list[str], dict]:
    """(command, environment) of the instructor's JupyterLab with the Formgrader on ``grades``."""
    folder = write_config(grades)
    # The Formgrader works only where the server's root holds the course folder: GRADES/nbgrader.
    command = [str(Path(sys.executable).parent / "jupyter"), "lab",
               f"--ServerApp.root_dir={workspace(grades).root}", f"--port={port}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(folder),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return command, env


def export(grades: Path) -> Path:
    """Write GRADES/grades.csv again from the gradebook (hand-made changes included)."""
    grades = grades.resolve()
    workspace(grades)  # says what to do when there is no gradebook yet
    grading.export(grades)  # grades.csv and exercises.csv
    return grades / "grades.csv"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "export"):
        sub = commands.add_parser(name)
        sub.add_argument("--grades", type=Path, required=True)
        if name == "serve":
            sub.add_argument("--port", default="8888")
    args = parser.parse_args(argv)
    if args.command == "export":
        print(f"wrote {export(args.grades)}")
        return
    command, env = server_command(args.grades, args.port)
    print(f"Formgrader on {args.grades.resolve() / 'nbgrader' / 'gradebook.db'}: open the URL "
          f"JupyterLab prints below, then Nbgrader > Formgrader (or go to /formgrader/gradebook)",
          flush=True)
    raise SystemExit(subprocess.run(command, env=env).returncode)


if __name__ == "__main__":
    main()
