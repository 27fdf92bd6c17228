"""packages.py: which installed packages a sandbox shows, found once per batch by the coordinator
and handed to its workers with the batch's settings (only where their installation is the same)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tconv.grader import packages, runner, task
from tconv.grader.course_notebooks import CourseNotebooks
from tconv.grader.records import Job

CH01, CH06 = "01_scatter_add_1d", "06_unet_decoder"


@pytest.mark.slow  # imports PyTorch, matplotlib, ipykernel and the course package in a child
def test_the_entries_are_what_the_modules_import_and_nothing_else():
    def names(modules):
        return {entry.name for entry in packages.entries(modules)}

    numpy_only, with_torch, kernel = (names(packages.RECHECK), names(packages.RECHECK_WITH_TORCH),
                                      names(packages.KERNEL))
    assert "numpy" in numpy_only and any(n.startswith("numpy-") for n in numpy_only)
    assert not {"torch", "pip", "pytest", "matplotlib", "tconv"} & numpy_only, numpy_only
    assert {"numpy", "torch", "sympy", "filelock"} <= with_torch  # PyTorch's declared needs too
    assert {"ipykernel", "matplotlib", "torch"} <= kernel and "pytest" not in kernel
    assert any(n.startswith("__editable__") for n in kernel)  # the course package's finder
    assert not any(n.startswith("__editable__") for n in numpy_only)


def test_a_worker_takes_the_entries_it_is_handed_and_finds_none_itself(monkeypatch):
    monkeypatch.setattr(packages, "_ADOPTED", {})
    found = []
    monkeypatch.setattr(packages, "_found", lambda modules: found.append(modules) or ())
    handed = {"fingerprint": packages.fingerprint(),
              "entries": {packages.RECHECK: ("/site/numpy",)}}
    assert packages.adopt(handed)
    assert packages.entries(packages.RECHECK) == (Path("/site/numpy"),) and found == []
    packages.entries(packages.KERNEL)  # not handed: found here
    assert found == [packages.KERNEL]


def test_entries_found_on_another_installation_are_not_taken(monkeypatch):
    monkeypatch.setattr(packages, "_ADOPTED", {})
    found = []
    monkeypatch.setattr(packages, "_found", lambda modules: found.append(modules) or ())
    assert not packages.adopt({"fingerprint": "another machine's",
                               "entries": {packages.RECHECK: ("/elsewhere/numpy",)}})
    assert not packages.adopt({})  # a batch that handed nothing (its sandbox off)
    assert packages.entries(packages.RECHECK) == () and found == [packages.RECHECK]


def test_the_fingerprint_changes_when_a_distribution_or_the_course_package_does(tmp_path,
                                                                                monkeypatch):
    import tconv

    site, course_package = tmp_path / "site-packages", tmp_path / "tconv"
    site.mkdir()
    course_package.mkdir()
    (course_package / "__init__.py").write_text("")
    monkeypatch.setattr(packages, "site_folders", lambda: [site])
    monkeypatch.setattr(tconv, "__file__", str(course_package / "__init__.py"))

    def fingerprint():
        packages.fingerprint.cache_clear()
        return packages.fingerprint()

    seen = [fingerprint()]
    (site / "scipy-1.16.0.dist-info").mkdir()  # a distribution installed
    seen.append(fingerprint())
    (course_package / "explore.py").write_text("import scipy\n")  # the course imports it
    seen.append(fingerprint())
    assert len(set(seen)) == 3, seen
    packages.fingerprint.cache_clear()


def test_a_sandboxed_batch_hands_its_workers_the_kernels_and_the_rechecks_entries(monkeypatch):
    monkeypatch.setattr(packages, "found_once", lambda lists: {"found": lists})

    def handed(mode, *assignments):
        settings = task.Settings(b"", sandbox=mode, notebooks=CourseNotebooks.read(assignments))
        return task.with_packages(settings).packages

    assert handed("userns", CH01) == {"found": [packages.KERNEL, packages.RECHECK]}
    assert handed("off", CH01) == {}
    # chapter 06's re-check calls the learner's block with tensors: its child imports PyTorch
    assert handed("root", CH01, CH06)["found"][-1] == packages.RECHECK_WITH_TORCH


def test_the_batch_finds_the_entries_once_and_its_tasks_take_them(tmp_path, monkeypatch):
    """runner.run (as `make grade` calls it, with a pool of its own) hands each task settings
    whose entries were found before the pool started; a pool given to it (tests) gets them as
    they are."""
    monkeypatch.setattr(packages, "found_once", lambda lists: {"found": lists})
    handed = []

    @contextlib.contextmanager
    def pool(settings, workers, scheduler, count):
        handed.append(settings.packages)
        yield None

    monkeypatch.setattr(runner, "_dask_pool", pool)
    monkeypatch.setattr(runner, "_hand_out", lambda *args: iter(()))
    settings = task.Settings(b"", sandbox="userns", notebooks=CourseNotebooks.read([CH01]))
    job = Job("ada", CH01, CH01, b"{}")
    runner.run([job], settings, disk_full=lambda: None)
    assert handed == [{"found": [packages.KERNEL, packages.RECHECK]}]
