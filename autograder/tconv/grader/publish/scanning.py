"""Is there any answer in the published tree? ``scan`` lists every one it finds: solutions/,
nbgrader's markers, an answer module's or a solution cell's function body, three lines of a
solution, an answer's statement written in a docstring or a comment, a near copy of an answer,
a line of a hidden test. The build fails on any.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import re
import tokenize
from pathlib import Path

import nbformat

from .. import course, release
from ..cells import cell_id, delimiters, is_solution
from . import choosing
from .choosing import code_cells, module_path
from .tables import visible_test_sources


def markers() -> tuple[str, ...]:
    """What the scan looks for as nbgrader's markers in any published text: each delimiter of
    the course's nbgrader configuration (``cells.delimiters()``) without its leading comment
    signs, so ``# BEGIN SOLUTION`` or a marker in a .py file or a README is found too."""
    found = []
    for region in (delimiters().solution, delimiters().hidden_tests):
        for delimiter in (region.begin, region.end):
            found.append(delimiter.lstrip("#").strip() or delimiter)
    return tuple(found)


def _normalized_lines(code: str) -> list[str]:
    lines = []
    for line in code.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith(("'", '"')) else line.strip()
        if line:
            lines.append(re.sub(r"\s+", " ", line))
    return lines


def _bodies(source: str) -> dict[str, str]:
    """{ast dump of a function body (docstring dropped): function name}, bodies of 2+ statements."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
                body = body[1:]
            if len(body) >= 2:
                found[ast.dump(ast.Module(body=body, type_ignores=[]))] = getattr(node, "name", "lambda")
    return found


def published_code(dest: Path) -> dict[str, str]:
    """{file (relative): its code}: Python files, and notebooks' code cells."""
    code = {}
    for path in sorted(dest.rglob("*")):
        if ".git" in path.parts or not path.is_file():
            continue
        relative = str(path.relative_to(dest))
        if path.suffix == ".py" or path.name in ("postBuild", "start"):
            code[relative] = path.read_text(errors="replace")
        elif path.suffix == ".ipynb":
            code[relative] = "\n".join(code_cells(path))
        elif path.suffix in (".md", ".txt", ".json", ".yml", ".toml", ""):
            code[relative] = path.read_text(errors="replace")
    return code


def solution_blocks() -> dict[str, str]:
    """{grade_id: the code between the markers of its solution cell} (a cell may hold several)."""
    blocks = {}
    for solution in sorted(course.SOLUTIONS.glob("*/*.ipynb")):
        for cell in nbformat.read(solution, as_version=4).cells:
            if is_solution(cell):
                blocks[cell_id(cell)] = "\n".join(delimiters().solution.contents(cell.source))
    return blocks


def scan(dest: Path) -> list[str]:
    """Every answer found in the published tree, as one line each (an empty list: none)."""
    leaks = []
    published = published_code(dest)
    if (dest / "solutions").exists():
        leaks.append("solutions/ is there")
    for name, text in published.items():
        for marker in markers():
            if marker in text:
                leaks.append(f"{name}: holds nbgrader's marker {marker!r}")

    # the answers' function bodies: the answer modules' and the solution cells'
    secret: dict[str, str] = {}
    for name in choosing.answer_modules():
        for dump, function in _bodies(module_path(name).read_text()).items():
            secret[dump] = f"tconv.{name}.{function}"
    answers = release.solution_sources()
    for grade_id, code in answers.items():
        for dump, function in _bodies(code).items():
            secret[dump] = f"the answer {grade_id} ({function})"
    for name, text in published.items():
        if name.endswith((".py", ".ipynb")):
            for dump in _bodies(text):
                if dump in secret:
                    leaks.append(f"{name}: holds the body of {secret[dump]}")

    # the answers' code as text: any 3 consecutive lines of what a solution cell holds between
    # its solution delimiters
    flat = {name: "\n".join(_normalized_lines(text)) for name, text in published.items()}
    for grade_id, code in solution_blocks().items():
        lines = _normalized_lines(code)
        if not lines:  # no region between the delimiters: nothing to look for (an empty window
            continue   # is in every text)
        size = min(3, len(lines))  # a one-line answer is looked for line by line
        for n in range(len(lines) - size + 1):
            window = "\n".join(lines[n:n + size])
            for name, text in flat.items():
                if window in text:
                    leaks.append(f"{name}: holds lines of the answer {grade_id}: {lines[n]!r}")
                    break

    # an answer's line in a docstring, comment or message; a near answer
    leaks += answers_in_prose(published) + near_answers(published)

    # hidden tests: any line of one that is not also a visible test
    visible = set()
    for released in course.COURSE.glob("*/*.ipynb"):
        for source in visible_test_sources(nbformat.read(released, as_version=4)):
            visible |= set(_normalized_lines(source))
    for solution in course.SOLUTIONS.glob("*/*.ipynb"):
        for source in code_cells(solution):
            for block in delimiters().hidden_tests.contents(source):
                for line in set(_normalized_lines(block)) - visible:
                    for name, text in flat.items():
                        if line in text:
                            leaks.append(f"{name}: holds the hidden test {line[:70]!r}")
    return sorted(set(leaks))


# --- answers written as text, and near answers ------------------------------------------------

MIN_STATEMENT = 16  # characters (spaces removed): shorter statements (``return out``) say nothing


def _without_docstrings(node):
    """A copy of ``node`` without the docstrings of its functions and classes."""
    node = ast.parse(ast.unparse(node)).body[0]
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if (isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            inner.body = body[1:] or [ast.Pass()]
    return node


def _answer_definitions() -> dict[str, ast.AST]:
    """{where: definition} of every answer: the answer modules' functions and classes, and the
    functions and classes of the solution cells."""
    found = {}
    sources = {f"tconv.{name}": module_path(name).read_text() for name in choosing.answer_modules()}
    sources.update({f"the answer {grade_id}": code
                    for grade_id, code in release.solution_sources().items()})
    for where, source in sources.items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            computes = isinstance(node, ast.FunctionDef) or (isinstance(node, ast.ClassDef) and any(
                isinstance(inner, ast.FunctionDef) for inner in node.body))  # not a record
            if computes:
                found[f"{where}.{node.name}"] = node
    return found


def _says_something(statement) -> bool:
    """Not a bare call on plain names (``conv_output_size(i, k, stride)``): that is how a
    docstring names a function, not a line of its answer."""
    value = getattr(statement, "value", None)
    return not (isinstance(statement, (ast.Expr, ast.Return)) and isinstance(value, ast.Call)
                and all(isinstance(a, ast.Name) for a in value.args)
                and all(isinstance(k.value, ast.Name) for k in value.keywords))


def answer_statements() -> dict[str, str]:
    """{statement, spaces removed: the answer it comes from}: every statement an answer computes
    with. Not the ``__init__`` of a layer class (the checks state the submodules a block must
    have: they are the exercise's specification), nor argument checks and errors."""
    found = {}
    for where, definition in _answer_definitions().items():
        tree = _without_docstrings(definition)
        for inner in ast.walk(tree):
            if isinstance(inner, ast.FunctionDef) and inner.name == "__init__":
                inner.body = [ast.Pass()]
        for statement in ast.walk(tree):
            if not (isinstance(statement, (ast.Assign, ast.AugAssign, ast.Return, ast.Expr))
                    and _says_something(statement)):
                continue
            text = re.sub(r"\s+", "", ast.unparse(statement))
            if len(text) >= MIN_STATEMENT and "_require" not in text:
                found.setdefault(text, where)
    return found


def _prose(text: str) -> list[str]:
    """The docstrings, other strings and comments of a piece of Python code."""
    found = []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [text]
    found += [node.value for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    with contextlib.suppress(tokenize.TokenError, IndentationError):
        found += [token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
                  if token.type == tokenize.COMMENT]
    return found


def answers_in_prose(published: dict[str, str]) -> list[str]:
    """An answer's statement written in a docstring, a comment or a message of a published file
    (the learners read those as they read code)."""
    statements = answer_statements()
    leaks = []
    for name, text in published.items():
        if not name.endswith((".py", ".ipynb")):
            continue
        for fragment in _prose(text):
            flat = re.sub(r"\s+", "", fragment)
            for statement, where in statements.items():
                if statement in flat:
                    leaks.append(f"{name}: a docstring, comment or message holds a line of "
                                 f"{where}: {statement[:60]!r}")
    return leaks


NEAR = 0.75  # share of an answer's code (tokens) a published definition may have in common


def _tokens(node) -> list[str]:
    text = ast.unparse(_without_docstrings(node))
    return [token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
            if token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                                  tokenize.ENDMARKER, tokenize.COMMENT)]


def near_answers(published: dict[str, str]) -> list[str]:
    """A published function or class that is most of an answer of the same kind: a few edits
    from it (like a padded DecoderBlock that becomes the graded one once its padding is dropped
    and its output_size= swapped for a crop)."""
    answers = [(where, type(node), _tokens(node)) for where, node in _answer_definitions().items()]
    leaks = []
    for name, text in published.items():
        if not name.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            mine = _tokens(node)
            for where, kind, theirs in answers:
                if kind is not type(node) or min(len(mine), len(theirs)) < 0.5 * max(
                        len(mine), len(theirs)):
                    continue
                matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
                if matcher.quick_ratio() >= NEAR and matcher.ratio() >= NEAR:
                    leaks.append(f"{name}: {node.name} is {matcher.ratio():.0%} the code of "
                                 f"{where}")
    return leaks
