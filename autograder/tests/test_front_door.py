"""The learners' copy's front door (tconv/grader/front_door.py): the Colab badges and the Colab
cell, handing in, and the self-paced edition's notebooks.

Colab itself cannot be reached from here. It is stood in for by a fresh virtual environment that
sees this environment's packages (PyTorch, numpy, matplotlib, Jupyter, pip) except `tconv`, and
has a COLAB_ variable set as Colab sets them; "github.com" is the published copy in a local git
repository, tagged as the README says (git's `url.<base>.insteadOf`, given through the
environment: the cell itself is the one learners get).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from tconv.grader import cells, course, front_door
from tconv.grader.publish import tables, tree


def _published_ref(published: Path) -> str:
    settings = dict(line.split(" = ") for line in (published / ".tconv-published").read_text()
                    .splitlines())
    assert settings["repo"] == REPO
    return settings["ref"]


def _colab_cells(notebook) -> list[int]:
    return [n for n, cell in enumerate(notebook.cells) if "google.colab" in cell.source]


def test_each_chapter_has_its_colab_badge_and_one_colab_cell(published):
    ref = _published_ref(published)
    readme = (published / "README.md").read_text()
    for folder in course.assignments():
        path = f"course/{folder}/{folder}.ipynb"
        assert (f"(https://colab.research.google.com/github/{REPO}/blob/{ref}/{path})"
                in readme), folder
        notebook = nbformat.read(published / path, as_version=4)
        first_code = next(n for n, c in enumerate(notebook.cells) if c.cell_type == "code")
        assert _colab_cells(notebook) == [first_code]  # before the setup cell that imports tconv
        assert f"git+https://github.com/{REPO}@{ref}\"" in notebook.cells[first_code].source
    assert "Colab itself" in readme or "not\non Colab itself" in readme


def test_the_readme_says_what_to_hand_in_and_how(published):
    readme = (published / "README.md").read_text()
    handing_in = readme.split("## Handing in", 1)[1].split("\n## ", 1)[0]
    first = course.assignments()[0]
    for needed in (f"`{first}.ipynb`", "*Validate*", "make progress", "*Download*",
                   "*File > Download > Download .ipynb*", f"(`Copy of {first}.ipynb`)"):
        assert needed in handing_in, needed


def test_without_repo_there_is_no_colab_and_no_binder(tmp_path):
    readme = front_door.readme("graded", None, None, tree.chapters())
    assert "badge" not in readme and "colab.research" not in readme and "mybinder" not in readme
    assert "**On Binder, nothing" not in readme and "**On Google Colab" not in readme
    assert "## Handing in" in readme and "*Validate*" in readme


def test_a_ref_that_is_not_a_tag_name_is_refused():
    for bad in ("v1..2", "-rf", "a b", "x.lock", "a/../b"):
        with pytest.raises(front_door.RefError):
            front_door.check_ref(bad)
    assert front_door.check_ref(None).startswith("course-")


def _fake_colab(tmp_path: Path) -> Path:
    """A fresh venv that sees this environment's packages, `tconv` (and its editable finder) left
    out: the stand-in for Colab. Returns its python."""
    visible = tmp_path / "colab-packages"
    visible.mkdir()
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if not entry.name.startswith(("tconv", "__editable__")):
            (visible / entry.name).symlink_to(entry)
    venv = tmp_path / "colab"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "colab-packages.pth").write_text(f"{visible}\n")
    return venv / "bin" / "python"


RUN = """
import json, sys
import nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell("import tconv; print('TCONV', tconv.__file__)"))
NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
print(json.dumps([[dict(o) for o in cell.get("outputs", [])] for cell in notebook.cells]))
"""


def test_the_colab_cell_installs_the_course_package_and_the_chapter_runs(published, tmp_path):
    ref = _published_ref(published)
    # "GitHub": the published copy, committed and tagged as the README tells the instructor
    github = tmp_path / "github"
    repository = github / REPO
    shutil.copytree(published, repository)
    git = ["git", "-c", "user.name=course", "-c", "user.email=course@example.org", "-C",
           str(repository)]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "published"], ["tag", ref]):
        subprocess.run(git + command, check=True)

    python = _fake_colab(tmp_path)
    absent = subprocess.run([str(python), "-c", "import torch, numpy, tconv"], capture_output=True,
                            text=True)
    assert "No module named 'tconv'" in absent.stderr  # torch and numpy are there, tconv is not

    # the chapter alone, opened "from GitHub", with the instructors' answers in it
    first = course.assignments()[0]
    notebook = tables.answered_notebook(published / "course" / first / f"{first}.ipynb")
    opened = tmp_path / "content" / f"{first}.ipynb"
    opened.parent.mkdir()
    nbformat.write(notebook, opened)
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "COLAB_RELEASE_TAG": "stand-in", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore",
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.file://{github}/.insteadOf",
           "GIT_CONFIG_VALUE_0": "https://github.com/"}
    result = subprocess.run([str(python), "-c", RUN, str(opened)], cwd=opened.parent, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    texts = ["".join(o.get("text", "") for o in cell) for cell in outputs]
    colab = _colab_cells(notebook)[0]
    assert f"installed the course package tconv from https://github.com/{REPO} ({ref})" in \
        texts[colab]
    for n, cell in enumerate(outputs):
        assert not [o for o in cell if o["output_type"] == "error"], (n, cell)
    graded = [n for n, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all("✓" in texts[n] for n in graded), [texts[n] for n in graded]
    assert f"TCONV {python.parent.parent}/lib/" in texts[-1]  # installed into the "Colab" venv


def test_the_colab_cell_does_nothing_elsewhere(tmp_path):
    """Not on Colab: nothing installed, nothing printed (with tconv absent: a plain Python)."""
    cell = front_door.colab_cell(REPO, "v1")
    code = cell + "\nprint('tconv' in sys.modules, importlib.util.find_spec('tconv'))"
    for env in ({}, {"COLAB_RELEASE_TAG": "x"}):
        result = subprocess.run([sys._base_executable, "-I", "-c", code], capture_output=True,
                                text=True, env=dict(env, PATH="/nonexistent"), timeout=60)
        if env:  # on "Colab", with no pip and no network here, it tries, and says what failed
            assert "could not install the course package from https://github.com/" in result.stderr
        else:
            assert result.returncode == 0 and result.stdout == "False None\n", result.stderr


@pytest.mark.slow
def test_the_self_paced_notebooks_say_what_they_are_and_run_the_hidden_tests(tmp_path):
    dest = tree.build(tmp_path / "self-paced", "self-paced", None, quiet=True)
    for folder in course.assignments():
        source = nbformat.read(course.SOLUTIONS / folder / f"{folder}.ipynb", as_version=4)
        hidden = [line.strip() for cell in source.cells
                  for block in cells.delimiters().hidden_tests.contents(cell.source)
                  for line in block.splitlines() if line.strip()]
        for top in ("course", "solutions"):
            notebook = nbformat.read(dest / top / folder / f"{folder}.ipynb", as_version=4)
            assert "**Self-paced edition**: nothing here is graded" in notebook.cells[1].source
            code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
            assert all(line in code for line in hidden), (top, folder)
            assert "HIDDEN TESTS" not in code and not _colab_cells(notebook)  # no REPO: no cell
    assert "## Handing in" not in (dest / "README.md").read_text()


@pytest.mark.slow
def test_a_self_paced_chapter_passes_validate_with_its_hidden_tests(tmp_path):
    """nbgrader's Validate on the worked solution of chapter 01: the unmarked hidden tests run and
    pass, and Validate does not call the test cells changed (their checksums are made again)."""
    dest = tree.build(tmp_path / "self-paced", "self-paced", REPO, quiet=True)
    first = course.assignments()[0]
    worked = dest / "solutions" / first / f"{first}.ipynb"
    result = subprocess.run(["nbgrader", "validate", str(worked)], capture_output=True, text=True,
                            cwd=worked.parent, timeout=300)
    assert "Success! Your notebook passes all the tests." in result.stdout, result.stdout + \
        result.stderr[-2000:]
    broken = nbformat.read(worked, as_version=4)
    for cell in broken.cells:  # wrong only for strides above 4, which no visible case has
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source += textwrap.dedent("""
                _right = conv_transpose1d
                def conv_transpose1d(x, w, stride=1):
                    return _right(x, w, stride) if stride <= 4 else _right(x, w, stride) * 0
                """)
    nbformat.write(broken, worked)
    result = subprocess.run(["nbgrader", "validate", str(worked)], capture_output=True, text=True,
                            cwd=worked.parent, timeout=300)
    assert "Success!" not in result.stdout
