"""The learners' repository built: the notebooks, the package (the answer modules replaced by
stand-ins in the graded edition), the environment, the front door and the licences; then the
scan. ``main`` is ``python -m tconv.grader.publish`` (``make publish``).
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import sys
from pathlib import Path

import nbformat

from .. import course, front_door, release
from . import PACKAGE, PublishError, __doc__ as _OVERVIEW, choosing
from .scanning import scan
from .stand_ins import first_line, stand_in_source
from .tables import answered_notebook, record_all

EDITIONS = ("graded", "self-paced")
PLACEHOLDER_REPOS = {"owner/repo", "owner/name", "user/repo", "username/repo", "org/repo"}
REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
# Lines of requirements.txt whose comment starts with one of these are not for learners: the
# project's own tests' tools, and the instructors' grading tools.
TESTS_ONLY = "tests only"
NOT_FOR_LEARNERS = (TESTS_ONLY, "instructors only")
# Files of the instructors' repository that the learners' copy takes as they are.
COPIED = {"LICENSE": "LICENSE", "LICENSE-CC-BY-4.0": "LICENSE-CC-BY-4.0",
          "binder/environment.yml": "binder/environment.yml", "binder/postBuild": "binder/postBuild",
          "binder/start": "binder/start", "scripts/course_env.py": "scripts/course_env.py",
          "scripts/find_python.sh": "scripts/find_python.sh",
          "jupyter-config/jupyter_server_config.json": "jupyter-config/jupyter_server_config.json",
          "jupyter-config/labconfig/page_config.json": "jupyter-config/labconfig/page_config.json",
          "jupyter-config/nbgrader_config.py": "jupyter-config/nbgrader_config.py"}


def check_repo(repo: str | None) -> str | None:
    """``owner/name`` for the Binder badge, or None (no badge); a placeholder is refused."""
    if repo is None or repo == "":
        return None
    if repo.lower() in PLACEHOLDER_REPOS or repo.split("/")[0].lower() in {"owner", "user", "username"}:
        raise PublishError(f"REPO={repo} is a placeholder: give the GitHub owner and name of the "
                           f"learners' repository, e.g. REPO=jdoe/transposed-convolution")
    if not REPO_PATTERN.fullmatch(repo):
        raise PublishError(f"REPO={repo!r} is not a GitHub owner/name (letters, digits and - in "
                           f"the owner; letters, digits, '.', '_' and '-' in the name)")
    return repo


def learner_requirements() -> str:
    """requirements.txt without the lines marked as not for learners (tests', instructors')."""
    kept = []
    for line in (course.ROOT / "requirements.txt").read_text().splitlines():
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        if comment.startswith(NOT_FOR_LEARNERS):
            continue
        kept.append(line)
    text = "\n".join(kept) + "\n"
    return re.sub(r"\A(#[^\n]*\n)+", "# The learners' packages; `make lab` (scripts/course_env.py) "
                                    "installs them into .venv.\n", text)


def chapters() -> list[tuple[str, str]]:
    """[(folder, title)] of the released chapters, in order; the title is the first heading."""
    found = []
    for notebook in sorted(course.COURSE.glob("*/*.ipynb")):
        title = notebook.stem
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "markdown":
                heading = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
                if heading:
                    title = heading.group(1).strip()
                    break
        title = re.sub(r"^Chapter\s+\d+\s*[·:.-]\s*", "", title)
        found.append((notebook.parent.name, title))
    return found


def build(dest: Path, edition: str = "graded", repo: str | None = None, scratch: Path | None = None,
          quiet: bool = False, ref: str | None = None) -> Path:
    """Write the learners' repository into ``dest`` (which must be empty or absent); ``ref``: the
    tag of that repository that Colab opens and installs (default: ``course-<commit>``)."""
    if edition not in EDITIONS:
        raise PublishError(f"EDITION={edition} must be one of {', '.join(EDITIONS)}")
    repo = check_repo(repo)
    outdated = release.stale()
    if outdated:
        raise PublishError(
            f"course/ is older than solutions/: {', '.join(outdated[:3])}"
            f"{f' and {len(outdated) - 3} more' if len(outdated) > 3 else ''} "
            f"{'differs' if len(outdated) == 1 else 'differ'} from what `make release` writes "
            f"now. Run `make release` (and commit course/), then `make publish` again.")
    try:
        ref = front_door.check_ref(ref) if repo else None
    except front_door.RefError as error:
        raise PublishError(str(error)) from None
    dest = dest.resolve()
    if dest == course.ROOT or course.ROOT in dest.parents and dest.parent == course.ROOT:
        if dest.name in {"course", "solutions", "autograder"} or dest == course.ROOT:
            raise PublishError(f"DEST={dest} is a folder of the instructors' repository")
    if dest.exists() and any(dest.iterdir()):
        if not (dest / ".tconv-published").exists():
            raise PublishError(f"DEST={dest} exists and is not empty, and is not an earlier "
                               f"published copy: choose a new folder")
        for entry in dest.iterdir():
            if entry.name != ".git":  # keep the learners' repository's history
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))

    # notebooks: the Colab cell (with REPO); self-paced: what the edition is, hidden tests run
    shutil.copytree(course.COURSE, dest / "course", ignore=shutil.ignore_patterns(
        ".ipynb_checkpoints", "__pycache__"))
    for released in sorted(course.COURSE.glob("*/*.ipynb")):
        folder = released.parent.name
        made = {"course": nbformat.read(released, as_version=4)}
        if edition == "self-paced":
            made["solutions"] = answered_notebook(released)
        for top, notebook in made.items():
            (dest / top / folder).mkdir(parents=True, exist_ok=True)
            nbformat.write(front_door.prepare(notebook, folder, edition, repo, ref),
                           dest / top / folder / released.name)

    # the package
    package = dest / "tconv"
    package.mkdir()
    answers = set(choosing.answer_modules())
    modules = choosing.learner_modules() + ["progress"]  # `make progress`, which no notebook imports
    for name in modules:
        if name in answers and edition == "graded":
            continue
        shutil.copy2(choosing.module_path(name), package / f"{name}.py")
    if edition == "graded":
        shutil.copy2(PACKAGE / "lookup.py", package / "lookup.py")
        for name in sorted(answers & set(modules)):
            (package / f"{name}.py").write_text(stand_in_source(name))
        count = record_all(package / "recorded.npz", scratch, say)
        say(f"recorded {count} expected values")
    (package / "__init__.py").write_text(_package_init(sorted(p.stem for p in package.glob("*.py")
                                                              if p.stem != "__init__")))
    (dest / "pyproject.toml").write_text(front_door.render("pyproject.toml"))

    # environment, front door, licences
    for source, target in COPIED.items():
        (dest / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(course.ROOT / source, dest / target)
    (dest / "requirements.txt").write_text(learner_requirements())
    shutil.copy2(front_door.MAKEFILE, dest / "Makefile")
    (dest / "README.md").write_text(front_door.readme(edition, repo, ref, chapters()))
    (dest / ".gitignore").write_text(front_door.render("gitignore"))
    (dest / ".tconv-published").write_text(f"edition = {edition}\nrepo = {repo}\nref = {ref}\n")

    leaks = scan(dest) if edition == "graded" else []
    if leaks:
        raise PublishError("the learners' copy would hold answers:\n  " + "\n  ".join(leaks[:20]))
    say(f"published the {edition} edition into {dest}")
    if repo is None:
        print("note: no Binder or Colab badges in README.md, no Colab cell in the notebooks: pass "
              "REPO=owner/name (the learners' GitHub repository) to get them", file=sys.stderr)
    else:
        say(f"Colab opens and installs version {ref} of {repo}: after committing, tag it and push "
            f"the tag: git tag {ref} && git push origin HEAD {ref}")
    return dest


def _package_init(names: list[str]) -> str:
    """The copy's ``tconv/__init__.py``: its modules, one line each."""
    answers = set(choosing.answer_modules())
    summaries = []
    for name in names:
        if name in answers or not (PACKAGE / f"{name}.py").exists():
            summary = "looked-up expected values (generated)"
        else:
            summary = first_line(importlib.import_module(f"tconv.{name}"))
        summaries.append((name, summary))
    return front_door.render("package_init.py.j2", modules=summaries)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=_OVERVIEW.splitlines()[0])
    parser.add_argument("--dest", type=Path, required=True, help="the folder to write (DEST)")
    parser.add_argument("--edition", default="graded", choices=EDITIONS)
    parser.add_argument("--repo", default=None, help="the learners' GitHub owner/name (REPO)")
    parser.add_argument("--ref", default=None,
                        help="the tag Colab opens and installs (REF; default course-<commit>)")
    args = parser.parse_args(argv)
    try:
        build(args.dest, args.edition, args.repo or None, ref=args.ref or None)
    except PublishError as error:
        raise SystemExit(f"error: {error}") from None
