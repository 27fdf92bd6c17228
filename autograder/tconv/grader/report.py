"""The instructor's files, rendered from data, with every learner-derived string treated as data:
CSV fields cannot start a formula, report.md lines are escaped and kept to one line, and feedback
HTML carries no script, handler or frame."""

from __future__ import annotations

import csv
import html
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..judge import VERDICT_MIMETYPE, CheckVerdict
from .records import GRADED, NOT_GRADED, NotGraded

# exercises.csv: one row per graded cell of every notebook handed in; ``status`` is "graded" or
# "not graded: rerun" (the grader failed on that notebook: ``score`` is empty, never 0)
EXERCISE_COLUMNS = ["student_id", "assignment", "notebook", "grade_id", "score", "max_score",
                    "status"]
NOT_GRADED_COLUMNS = ["what", "why", "what_to_do", "student_id", "assignment", "notebook"]


# --- reading a graded notebook -------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """Why one test cell failed: a line for the report's notes, and what its "most common
    problems" column counts (the check's named mistakes, else the kind of finding)."""
    note: str
    found: tuple[str, ...]


NOTHING = Problem("", ())
TIMED_OUT = Problem("it ran past the time limit and was stopped", ("time limit",))


def cell_problems(notebook) -> dict[str, Problem]:
    """{grade_id: why that test cell failed in the kernel}, from the check's verdict record (a
    display output of type ``judge.VERDICT_MIMETYPE``; no message is parsed), else from the
    error's type and first line."""
    problems = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            problems[meta.get("grade_id", "?")] = problem_of(errors, verdicts_in(outputs))
    return problems


def verdicts_in(outputs: list) -> list[CheckVerdict]:
    """The verdict records a cell's checks published (a malformed one is left out)."""
    found = []
    for output in outputs:
        record = output.get("data", {}).get(VERDICT_MIMETYPE) if output.get("output_type") in (
            "display_data", "execute_result") else None
        if record is None:
            continue
        try:
            found.append(CheckVerdict.from_json(record))
        except (TypeError, ValueError):
            continue
    return found


def problem_of(errors: list, records: list[CheckVerdict]) -> Problem:
    if any(e.get("ename") in {"CellTimeoutError", "KeyboardInterrupt"} for e in errors):
        return TIMED_OUT
    if records and errors[0].get("ename") == "CheckFailed":
        return Problem(records[-1].note(), records[-1].counted())
    kind = str(errors[0].get("ename", "error"))
    lines = [line.strip() for line in str(errors[0].get("evalue", "")).splitlines() if line.strip()]
    note = f"{kind}: {lines[0]}"[:160] if lines else kind
    return Problem(note, (kind,))


# --- CSV and Markdown ----------------------------------------------------------------------------

def csv_field(value):
    """A spreadsheet must not read a learner-derived text as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_exercises(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=EXERCISE_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: csv_field(row.get(key, GRADED)) for key in EXERCISE_COLUMNS})


def write_not_graded(items: list[NotGraded], path: Path) -> None:
    """GRADES/not_graded.csv: what has no grade from this run (or only a zero nobody looked
    behind), why, and what to do. Written on every run, with its header when it lists nothing."""
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=NOT_GRADED_COLUMNS)
        writer.writeheader()
        for item in items:
            writer.writerow({key: csv_field(getattr(item, key)) for key in NOT_GRADED_COLUMNS})


def graded(row: dict) -> bool:
    """Whether an exercises.csv row carries a score (not "not graded: rerun")."""
    return row.get("status", GRADED) == GRADED


def md(text: str, limit: int = 300) -> str:
    """Learner-derived text as one inert line of Markdown."""
    text = " ".join(str(text).split())[:limit]
    text = html.escape(text, quote=False)  # no raw HTML
    return re.sub(r"([\\\[\]!|])", r"\\\1", text)  # no link, image or table cell


def write_report(rows: list[dict], notes: dict[tuple, list[str]],
                 mistakes: dict[tuple, list[str]], path: Path,
                 not_graded: list[NotGraded] = (), skipped: list[str] = (),
                 sandbox: str = "") -> None:
    """report.md: first, what was not graded (as in not_graded.csv) and what the intake skipped,
    then which sandbox mode graded and what it does not protect (``sandbox``); per exercise, mean,
    share of full marks and the most common problems; per student, the course total as
    grades.csv gives it (with what the chapters handed in give), and one line per notebook that
    lost points or was not as expected."""
    scored = [row for row in rows if graded(row)]
    by_cell = defaultdict(list)
    for row in scored:
        by_cell[(row["assignment"], row["grade_id"])].append(row)
    counted = defaultdict(Counter)
    for (student, assignment, grade_id), found in mistakes.items():
        for mistake in found:
            counted[(assignment, grade_id)][mistake] += 1
    totals = course_totals(rows)
    out = ["# Grading report", ""]
    if not_graded:
        out += [f"**Not graded: {len(not_graded)}** (also in not_graded.csv; `make grade` exits "
                f"with an error while this list is not empty):", ""]
        out += [f"- {md(item.what, 200)}: {md(item.why)}. What to do: {md(item.what_to_do)}"
                for item in not_graded]
        out.append("")
    if skipped:
        out += ["Skipped at intake (not a student's notebook):", ""]
        out += [f"- {md(line)}" for line in skipped]
        out.append("")
    if sandbox:
        out += [f"Graded with {md(sandbox, 2000)}", ""]
    out += [f"{len(totals)} students, {len(scored)} graded cells.", "",
            "## Per exercise", "",
            "| assignment | graded cell | mean | full marks | most common problems |",
            "|---|---|---|---|---|"]
    for (assignment, grade_id), cells in sorted(by_cell.items()):
        mean = sum(r["score"] for r in cells) / len(cells)
        full = sum(r["score"] == r["max_score"] for r in cells) / len(cells)
        common = ", ".join(f"{md(name, 80)} ({count})"
                           for name, count in counted[(assignment, grade_id)].most_common(3))
        out.append(f"| {assignment} | {grade_id} | {mean:.2f} / {cells[0]['max_score']:g} | "
                   f"{full:.0%} | {common} |")
    out += ["", "## Per student", "",
            "Each total is over every assignment of this batch, as grades.csv gives it (a chapter "
            "not handed in counts 0); in brackets, what the chapters handed in give.", ""]
    for student in sorted(totals):
        out.append(f"- **{md(student, 130)}**: {total_line(totals[student])}")
        for (who, assignment, notebook), lines in sorted(notes.items()):
            if who == student:
                for line in lines:
                    out.append(f"  - {assignment}/{notebook}: {md(line)}")
    path.write_text("\n".join(out) + "\n")


@dataclass
class Total:
    """One student's points: ``got`` of ``course`` (every assignment of the batch, as grades.csv
    counts them), of which ``handed_in`` were in the chapters handed in and graded; the chapters
    not graded (the grader failed on them)."""
    got: float = 0.0
    handed_in: float = 0.0
    course: float = 0.0
    not_graded: list | None = None


def student_totals(rows: list[dict]) -> dict[str, list[float]]:
    """{student: [points, out of]} over the notebooks of theirs that were graded."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        if graded(row):
            totals[row["student_id"]][0] += row["score"]
            totals[row["student_id"]][1] += row["max_score"]
    return dict(totals)


def course_totals(rows: list[dict]) -> dict[str, Total]:
    """{student: Total}, the course being every assignment with a row in ``rows``."""
    cells = {(r["assignment"], r["notebook"], r["grade_id"]): r["max_score"] for r in rows}
    course = sum(cells.values())
    handed_in = student_totals(rows)
    totals = {}
    for row in rows:
        total = totals.setdefault(row["student_id"], Total(
            *handed_in.get(row["student_id"], [0.0, 0.0]), course=course, not_graded=[]))
        if not graded(row) and row["assignment"] not in total.not_graded:
            total.not_graded.append(row["assignment"])
    return totals


def total_line(total: Total) -> str:
    """"5 / 55 (5 / 5 of the chapters handed in)", and the chapters not graded."""
    line = f"{total.got:g} / {total.course:g}"
    if total.handed_in != total.course:
        line += f" ({total.got:g} / {total.handed_in:g} of the chapters handed in)"
    if total.not_graded:
        line += f"; {', '.join(total.not_graded)} {NOT_GRADED}"
    return line


def plot_scores(rows: list[dict], path: Path) -> None:
    """scores.png: one bar per graded cell, how many students scored 0, part, or all of its
    points (rows: exercises.csv's)."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [row for row in rows if graded(row)]
    cells = sorted({(row["assignment"], row["grade_id"]) for row in rows})
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(cells) + 1.5))
    labels, zero, part, full = [], [], [], []
    for assignment, grade_id in cells:
        mine = [r for r in rows if r["grade_id"] == grade_id and r["assignment"] == assignment]
        labels.append(f"{assignment[:2]} {grade_id}")
        zero.append(sum(r["score"] == 0 for r in mine))
        full.append(sum(r["score"] == r["max_score"] for r in mine))
        part.append(len(mine) - zero[-1] - full[-1])
    y = np.arange(len(cells))[::-1]
    ax.barh(y, full, color="#55A868", label="all points")
    ax.barh(y, part, left=full, color="#FFE9A8", label="some")
    ax.barh(y, zero, left=np.add(full, part), color="#C44E52", label="none")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("students")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("scores per graded cell")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- notebooks and HTML --------------------------------------------------------------------------

SAFE_MIMETYPES = {"text/plain", "image/png", "image/jpeg"}


def make_safe(notebook) -> None:
    """Keep only inert outputs (text, PNG, JPEG) and show learners' own markdown as text, so that
    neither the feedback nor the Formgrader renders HTML or script a learner wrote. The checks'
    verdict records (read before, by ``cell_problems``) are left out: they show nothing."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and not cell.metadata.get("nbgrader", {}).get("locked"):
            cell.source = cell.source.replace("<", "&lt;").replace(">", "&gt;")
        if "outputs" in cell:  # a check's verdict record, read by cell_problems: nothing to show
            cell.outputs = [o for o in cell.outputs if VERDICT_MIMETYPE not in o.get("data", {})]
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is None:
                continue
            removed = [kind for kind in data if kind not in SAFE_MIMETYPES]
            for kind in removed:
                del data[kind]
            if removed and not data:
                data["text/plain"] = f"[an output of type {', '.join(removed)} was removed]"


_DROPPED = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form",
            "input", "button", "textarea", "select", "option", "link", "meta", "noscript",
            "template", "portal", "audio", "video", "source", "track"}
_VOID = {"area", "br", "col", "hr", "img", "wbr", "meta", "link", "input", "source", "base",
         "embed", "track", "param"}


class _Sanitiser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0   # inside a dropped element
        self.raw = None     # inside <style>: text kept as is

    def handle_starttag(self, tag, attrs):
        if tag in _DROPPED:
            if tag not in _VOID:
                self.skipping += 1
            return
        if self.skipping:
            return
        kept = []
        for name, value in attrs:
            value = value or ""
            squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            if name.startswith("on") or name in ("formaction", "srcdoc", "http-equiv"):
                continue
            if (name.endswith("href") or name in ("src", "action", "background", "poster")) and \
                    (squeezed.startswith(("javascript:", "vbscript:")) or
                     (squeezed.startswith("data:") and not
                      squeezed.startswith(("data:image/png", "data:image/jpeg")))):
                continue
            if name == "style" and ("expression" in squeezed or "url(" in squeezed):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag == "style":
            self.raw = tag

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in _DROPPED:
            if tag not in _VOID:
                self.skipping = max(0, self.skipping - 1)
            return
        if self.skipping or tag in _VOID:
            return
        self.raw = None
        self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if self.skipping:
            return
        self.out.append(data if self.raw else html.escape(data, quote=False))

    def handle_decl(self, decl):
        if decl.lower().startswith("doctype"):
            self.out.append(f"<!{decl}>")


def safe_html(text: str) -> str:
    """``text`` re-written with no script, frame, form, event handler or javascript: link."""
    parser = _Sanitiser()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)
