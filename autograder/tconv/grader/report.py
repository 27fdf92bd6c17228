"""The instructor's files, rendered from data, with every learner-derived string treated as data:
CSV fields cannot start a formula, report.md lines are escaped and kept to one line, and feedback
HTML keeps only what an allowlist names (no script, handler, frame, SVG or style attribute)."""

from __future__ import annotations

import csv
import html
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import nh3

from ..judge import VERDICT_MIMETYPE, CheckVerdict
from .cells import cell_id, is_locked, is_test
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
        if not is_test(cell):
            continue
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            problems[cell_id(cell) or "?"] = problem_of(errors, verdicts_in(outputs))
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
        if cell.cell_type == "markdown" and not is_locked(cell):
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


# The feedback page: what nbconvert's HTML of the graded notebook may keep. An allowlist (ammonia,
# through nh3): any other element or attribute is dropped, a <script> with its content; links
# only to the web, mail or an anchor; images only as inline PNG or JPEG. The pages' CSS (<style>,
# from the template; learners' markdown is text by then, ``make_safe``) is kept as written.
PAGE_TAGS = {"title", "style", "main", "div", "span", "p", "br", "hr", "a", "img", "pre", "code",
             "em", "strong", "b", "i", "sub", "sup", "blockquote", "h1", "h2", "h3", "h4", "h5",
             "h6", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td"}
# The maths of the page, as MathML (grader/mathml.py): MathML Core's presentation elements and
# their layout attributes; not annotation-xml (it can hold HTML), maction, semantics or any link.
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup",
               "msubsup", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom", "munder",
               "mover", "munderover", "mtable", "mtr", "mtd", "menclose", "merror"}
MATHML_ATTRIBUTES = {"display", "mathvariant", "stretchy", "fence", "separator", "form", "lspace",
                     "rspace", "accent", "accentunder", "movablelimits", "largeop", "symmetric",
                     "minsize", "maxsize", "linethickness", "displaystyle", "scriptlevel",
                     "width", "height", "depth", "columnalign", "rowalign", "columnspan",
                     "rowspan", "notation"}
PAGE_ATTRIBUTES = {"*": {"class", "id"}, "a": {"href", "name"}, "img": {"src", "alt"},
                   "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"},
                   "math": MATHML_ATTRIBUTES | {"xmlns"},
                   **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS - {"math"}}}
IMAGES = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]*\Z")
PAGE = '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n</head>\n<body>\n{}\n</body>\n</html>\n'


def _kept_value(tag: str, attribute: str, value: str) -> str | None:
    """An inline picture only in an image; no data: link (ammonia checks the schemes)."""
    inline = value.lstrip().lower().startswith("data:")
    if tag == "img" and attribute == "src":
        return value if IMAGES.match(value.strip()) else None
    return None if inline else value


def safe_html(text: str) -> str:
    """The page ``text`` with only the elements, attributes and links of an allowlist (above):
    no script, frame, form, SVG, MathML beyond its presentation elements, event handler, or
    javascript: or data: link."""
    body = nh3.clean(text, tags=PAGE_TAGS | MATHML_TAGS, clean_content_tags={"script"},
                     attributes=PAGE_ATTRIBUTES, url_schemes={"http", "https", "mailto", "data"},
                     attribute_filter=_kept_value, link_rel="noopener noreferrer nofollow",
                     strip_comments=True)
    return PAGE.format(body.strip())
