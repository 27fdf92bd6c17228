"""A learner's first visit, and an instructor's, in a real browser: JupyterLab started the way
`make lab` and `make formgrader` start it, Debian's Chromium driven by Playwright.

The learner's JupyterLab shows none of nbgrader's instructor tools (no Formgrader, Course List,
Create Assignment, nor the Assignment List that only shows an error) and keeps Validate.
The instructor's Formgrader shows a small class graded by `make grade` (two students), and a
score changed there by hand is in the CSV that `make export` writes.

The learner opens chapter 01 from the file browser, runs all cells, meets the exercise's
NotImplementedError, types a correct `conv_transpose1d` into the solution cell, runs all cells
again, and sees the checks pass and the pictures drawn. Screenshots of those moments go to
build/screenshots/. JupyterLab serves a scratch copy of course/, so the repository is not modified.

Chromium comes from Debian (`make test` installs it through `make chromium`); Playwright's own
browser download does not work on this machine. Where /usr/bin/chromium is missing, the test is
skipped with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import nbformat
import pytest

import classroom
from conftest import grade_reusing
from tconv.grader import course, formgrader

sys.path.insert(0, str(course.ROOT / "scripts"))
import course_env  # scripts/course_env.py: what `make lab` runs

CHROMIUM = Path("/usr/bin/chromium")
# Flags for this machine's closed network (see the machine notes): no background connections.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = course.BUILD / "screenshots"
CHAPTER = "01_scatter_add_1d"
ANSWER = '''def conv_transpose1d(x, w, stride=1):
    out = np.zeros((len(x) - 1) * stride + len(w))
    for j in range(len(x)):
        out[j * stride:j * stride + len(w)] += x[j] * w
    return out
'''
# JupyterLab's own settings for the test's server: no news or update toasts over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def need_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        message = (f"{CHROMIUM} is missing: the browser test is SKIPPED. `make test` installs it "
                   "(`make chromium`, which needs root and apt-get).")
        warnings.warn(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(url, token, served folder) of a JupyterLab started like `make lab`, on a copy of course/."""
    need_chromium()
    scratch = tmp_path_factory.mktemp("lab")
    served = scratch / "course"
    shutil.copytree(course.COURSE, served)
    settings = lab_settings(scratch)
    port = free_loopback_port()
    # What `make lab` runs (scripts/course_env.py lab), plus what a test needs.
    command, env = course_env.lab_command(Path(sys.executable).parent.parent, served, port)
    with started(command, env, scratch, settings) as (url, token):
        yield url, token, served


TEST_FLAGS = ["--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--no-browser"]


@contextlib.contextmanager
def started(command: list[str], env: dict, scratch: Path, settings: Path):
    """Run a Jupyter server command with what a test needs: no browser, loopback, a known token,
    and settings and workspaces of its own so that nothing of the user's is read or written."""
    token = secrets.token_hex(16)
    log = (scratch / "jupyter-lab.log").open("w")
    port = next(arg.split("=", 1)[1] for arg in command if arg.startswith("--port="))
    server = subprocess.Popen(
        command + TEST_FLAGS + [f"--IdentityProvider.token={token}",
                                f"--LabApp.user_settings_dir={settings}",
                                f"--LabApp.workspaces_dir={scratch / 'workspaces'}"],
        cwd=course.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (scratch / "jupyter-lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def lab_settings(scratch: Path) -> Path:
    settings = scratch / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return settings


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    url, token, _ = lab
    with browser_page(tmp_path_factory) as page:
        page.goto(f"{url}/lab?token={token}")
        yield page


@contextlib.contextmanager
def browser_page(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    need_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def wait_for_idle_kernel(page) -> None:
    """The status bar says the kernel is started and idle (on a busy machine that takes a while;
    before it, Run All does nothing)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        "   .some(item => /\\(ipykernel\\) \\| Idle/.test(item.textContent))", timeout=120_000)


def run_all_cells(page) -> None:
    """The learner's way: the Run menu, then Run All Cells; wait until the kernel is done."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-InputPrompt').length > 0 &&"
        " ![...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
        "   .some(p => p.textContent.includes('*'))", timeout=180_000)


def outputs_text(page) -> str:
    return "\n".join(page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts())


def test_a_learner_solves_chapter_01_in_jupyterlab(lab, page):
    start = time.perf_counter()
    _, _, served = lab

    # The file browser shows course/; open the chapter's folder, then its notebook.
    page.locator(".jp-DirListing-item", has_text=CHAPTER).first.dblclick()
    page.locator(".jp-DirListing-item", has_text=f"{CHAPTER}.ipynb").dblclick()
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    wait_for_idle_kernel(page)
    screenshot(page, "01_chapter_opened")

    # Run everything: the stub's NotImplementedError is shown, each check shows its error
    # output, and Run All goes on to the end (test_run_all_reaches_the_end_of_untouched_chapter_06).
    run_all_cells(page)
    error = page.locator(".jp-OutputArea-output", has_text="NotImplementedError").first
    error.scroll_into_view_if_needed()
    screenshot(page, "02_not_implemented_error")
    assert "✓ conv_transpose1d" not in outputs_text(page)

    # Replace the stub with an answer, as a learner who pastes it in.
    solution = page.locator(".jp-Notebook .jp-CodeCell", has_text="raise NotImplementedError()").first
    solution.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(ANSWER)
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")

    # Run everything again: every visible check prints its ✓ line, the pictures are drawn.
    run_all_cells(page)
    passed = page.locator(".jp-OutputArea-output", has_text="✓ conv_transpose1d")
    passed.last.scroll_into_view_if_needed()
    screenshot(page, "03_checks_pass")
    text = outputs_text(page)
    assert "NotImplementedError" not in text and "Traceback" not in text, text[-3000:]
    assert text.count("✓ conv_transpose1d") == 3, text[-3000:]
    assert "[2. 4. 9. 6. 9.]" in text

    images = page.locator(".jp-Notebook .jp-OutputArea-output img")
    assert images.count() >= 2, "the scatter-step pictures were not drawn"
    first_image = images.first
    first_image.scroll_into_view_if_needed()
    assert first_image.evaluate("img => img.complete && img.naturalWidth > 100")
    screenshot(page, "04_plot_rendered")

    # The answer reached the disk (in the scratch copy), where nbgrader would collect it.
    saved = nbformat.read(served / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    assert any("out[j * stride:j * stride + len(w)] += x[j] * w" in cell.source
               for cell in saved.cells if cell.cell_type == "code")
    print(f"\nbrowser test: {time.perf_counter() - start:.0f} s after JupyterLab was up")


def test_the_chapter_03_explorer_has_live_sliders(lab, page):
    """Opened by URL, as the README's Binder badge opens chapter 01 (`lab/tree/<notebook>`)."""
    url, token, _ = lab
    page.goto(f"{url}/lab/tree/03_padding_crop_2d/03_padding_crop_2d.ipynb?token={token}")
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="show_explorer(").first
    cell.wait_for()
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    sliders = cell.locator(".widget-slider")
    sliders.first.wait_for(timeout=120_000)
    assert sliders.count() == 8
    picture = cell.locator(".jp-OutputArea-output img").first
    picture.wait_for()
    before = picture.get_attribute("src")
    stride = cell.locator(".widget-slider", has_text="stride")
    assert stride.locator(".widget-readout").inner_text().strip() == "2"
    stride.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([cell, before]) => { const img = cell.querySelector('.jp-OutputArea-output img');"
        " return img && img.getAttribute('src') !== before && img.complete; }",
        arg=[cell.element_handle(), before], timeout=60_000)
    assert stride.locator(".widget-readout").inner_text().strip() == "3"
    cell.scroll_into_view_if_needed()
    screenshot(page, "05_explorer_stride_3")


def test_a_learner_sees_no_instructor_tool(lab, page):
    """No Nbgrader menu (Formgrader, Course List, Assignment List), no Create Assignment panel,
    the Formgrader's pages absent from the server; Validate in the notebook's toolbar."""
    url, token, _ = lab
    # ?reset: chapter 01 alone; with chapter 03's tab restored beside it (the explorer's test),
    # Validate once ran on chapter 03 under load (a fresh-clone run on 2026-12-06)
    page.goto(f"{url}/lab/tree/{CHAPTER}/{CHAPTER}.ipynb?reset&token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).wait_for()
    menus = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_inner_texts()
    assert "Help" in menus and not any("grader" in m.lower() for m in menus), menus
    validate = page.locator(".jp-Toolbar", has_text="Validate")
    validate.first.wait_for()
    screenshot(page, "06_learner_no_instructor_menu")
    config = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data')"
                           ".textContent).disabledExtensions")
    for plugin in ("formgrader", "course-list", "create-assignment", "assignment-list", "menu"):
        assert f"@jupyter/nbgrader:{plugin}" in config, config
    assert "@jupyter/nbgrader:validate-assignment" not in config
    for path in ("formgrader", "formgrader/api/assignments"):
        response = page.request.get(f"{url}/{path}?token={token}")
        assert response.status == 404, (path, response.status)

    # Validate runs the notebook (answered by the test before) and reports success.
    page.get_by_role("toolbar", name="main area toolbar").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        dialog.get_by_text("Success").wait_for(timeout=180_000)
    except PlaywrightTimeout:  # what the dialog says instead (the stall in benchmarks/RESULTS.md)
        screenshot(page, "07_validate_no_success")
        pytest.fail(f"Validate gave no success in 180 s; its dialog says: "
                    f"{dialog.inner_text()[:2000]!r}")
    screenshot(page, "07_validate_success")
    page.keyboard.press("Escape")


def test_run_all_reaches_the_end_of_untouched_chapter_06(lab, page):
    """The released chapter 06, nothing written: Run All runs every code cell, the last one
    included; a failing check shows its error output (CheckFailed) and the cells after it run
    too. Every picture drawn has a text alternative (plots.display: an <img alt>)."""
    url, token, served = lab
    chapter = "06_unet_decoder"
    # ?reset: this notebook alone, not chapter 01's tab restored beside it (Run All would run
    # whichever is active)
    page.goto(f"{url}/lab/tree/{chapter}/{chapter}.ipynb?reset&token={token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    notebook.locator(".jp-Cell").first.wait_for()
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text=f"{chapter}.ipynb").first.wait_for()
    wait_for_idle_kernel(page)
    run_all_cells(page)
    page.keyboard.press("Control+s")
    failure = notebook.locator(".jp-OutputArea-output", has_text="CheckFailed").first
    failure.scroll_into_view_if_needed()
    screenshot(page, "06_chapter_06_failing_check")
    notebook.locator(".jp-CodeCell").last.scroll_into_view_if_needed()
    screenshot(page, "06_chapter_06_last_cell")
    images = notebook.locator(".jp-OutputArea-output img")
    alts = [images.nth(n).get_attribute("alt") or "" for n in range(images.count())]
    assert alts and all(len(alt) > 40 for alt in alts), alts

    # What JupyterLab ran, read from the notebook it saved (cells off screen may not be drawn).
    deadline = time.monotonic() + 30
    while True:
        saved = nbformat.read(served / chapter / f"{chapter}.ipynb", as_version=4)
        code = [cell for cell in saved.cells if cell.cell_type == "code"]
        if all(cell.execution_count for cell in code) or time.monotonic() > deadline:
            break
        time.sleep(1)
    not_run = [n for n, cell in enumerate(code) if not cell.execution_count]
    assert not not_run, f"code cells {not_run} of {len(code)} did not run"
    assert code[-1].execution_count == max(cell.execution_count for cell in code)
    failed = [n for n, cell in enumerate(code)
              if any(o.output_type == "error" and o.ename == "CheckFailed" for o in cell.outputs)]
    assert failed and failed[0] < len(code) - 1, failed
    assert all(cell.execution_count > code[failed[0]].execution_count
               for cell in code[failed[0] + 1:]), "the cells after a failing check ran after it"
    assert code[-1].outputs, "the last code cell shows nothing"


@pytest.fixture(scope="module")
def small_class_graded(tmp_path_factory, graded_class):
    """Two students of the sample class, chapter 01 only, graded as `make grade` grades (their
    notebooks' results are the session batch's: conftest.grade_reusing)."""
    scratch = tmp_path_factory.mktemp("small-class")
    submitted = scratch / "submitted"
    for student in ("perfect", "overwrites_instead_of_adding"):
        shutil.copytree(course.SAMPLE_SUBMISSIONS / student / CHAPTER, submitted / student / CHAPTER)
    grades = scratch / "grades"
    grade_reusing(graded_class, submitted, grades, jobs=1)
    return grades


def _scores(path: Path) -> dict:
    return {row["student_id"]: float(row["score"]) for row in classroom.read_rows(path)
            if row["assignment"] == CHAPTER}


@pytest.mark.browser
def test_an_instructor_sees_the_graded_class_and_a_hand_made_change_is_exported(
        small_class_graded, tmp_path_factory):
    """A browser of its own: the learner's JupyterLab (the `lab` fixture), which this test does
    not use, is not started again for it."""
    grades = small_class_graded
    before = _scores(grades / "grades.csv")
    assert before["perfect"] > before["overwrites_instead_of_adding"], before
    scratch = tmp_path_factory.mktemp("formgrader")
    command, env = formgrader.server_command(grades, free_loopback_port())
    with (started(command, env, scratch, lab_settings(scratch)) as (url, token),
          browser_page(tmp_path_factory) as page):
        page.goto(f"{url}/lab?token={token}")  # the URL the server prints: it logs the browser in
        page.get_by_role("menuitem", name="Nbgrader", exact=True).wait_for()  # the instructor's menu
        page.goto(f"{url}/formgrader/gradebook/{CHAPTER}/{CHAPTER}")
        # one row per submission; the Formgrader hides the names until the eye icon is clicked
        names = page.locator("table a.name-shown")
        names.first.wait_for(state="attached")
        assert sorted(names.all_text_contents()) == ["overwrites_instead_of_adding", "perfect"]
        screenshot(page, "08_formgrader_gradebook")

        # A score changed by hand, through the Formgrader's own API (what its grading page calls).
        changed = page.evaluate("""async ([chapter]) => {
            const xsrf = document.cookie.match(/_xsrf=([^;]+)/)[1];
            const get = async (path) => (await fetch(path, {headers: {'X-XSRFToken': xsrf}})).json();
            const notebooks = await get(`/formgrader/api/submitted_notebooks/${chapter}/${chapter}`);
            const mine = notebooks.find(n => n.student === 'overwrites_instead_of_adding');
            const cells = await get(`/formgrader/api/grades?submission_id=${mine.id}`);
            const score = g => (g.manual_score ?? g.auto_score);
            const cell = cells.find(g => score(g) < g.max_score);
            if (!cell) return [0, JSON.stringify(cells), 0];
            const response = await fetch(`/formgrader/api/grade/${cell.id}`, {method: 'PUT',
                headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
                body: JSON.stringify({manual_score: cell.max_score})});
            return [response.status, cell.name, cell.max_score - score(cell)];
        }""", [CHAPTER])
        status, cell_name, raised = changed
        assert status == 200 and raised > 0, changed
        page.reload()
        page.locator("table a.name-shown").first.wait_for(state="attached")
        screenshot(page, "09_formgrader_after_change")
    formgrader.export(grades)
    after = _scores(grades / "grades.csv")
    assert after["overwrites_instead_of_adding"] == before["overwrites_instead_of_adding"] + raised, \
        (before, after, cell_name)
    assert after["perfect"] == before["perfect"]
