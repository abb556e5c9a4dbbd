"""Docs that cannot go stale: every file path and every dotted name of ours that a docstring,
a comment or a Markdown file points at exists.

A path (``callflows/edge/runtime.py``, ``docs/deploy.md``) must be a file or folder of the
repository, and ``dins/views.py:number_detail`` must also define the name after the colon; a
dotted name (``callflows.edge.published.Loader``, ``dins.models.Subscription``) must be a
module, or a name defined at the top of a module (a class, a function, an assignment), or an
attribute set in that class; a Celery task's name (``dins.subscribe``) counts as defined.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "dins", "callflows", "sandbox", "api")
SCANNED = (*APPS, "config", "testing", "e2e", "bench", "docs")
SKIPPED_PARTS = {"migrations", "__pycache__", ".venv", "node_modules"}

PATH = re.compile(
    r"(?<![\w./-])((?:config|testing|portal|dins|callflows|sandbox|api|e2e|bench|docs|templates"
    r"|static|locale)"
    r"/[\w./-]*[\w/](?::[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)?)"
)
# A dotted name followed by ":" is an outbox subject or a URL name ("dins.subscription:12").
DOTTED = re.compile(
    r"(?<![\w./-])((?:config|testing|portal|dins|callflows|sandbox|api)(?:\.[A-Za-z_]\w*)+)(?![\w:])"
)


def _files() -> list[Path]:
    found = [ROOT / "README.md"]
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if SKIPPED_PARTS & set(path.parts) or not path.is_file():
                continue
            if path.suffix in (".py", ".md"):
                found.append(path)
    return found


def _prose(path: Path) -> str:
    """What people read in a file: all of a Markdown file, a module's docstrings and comments."""
    text = path.read_text()
    if path.suffix == ".md":
        return text
    parts = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            parts.append(token.string)
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                parts.append(docstring)
    return "\n".join(parts)


@cache
def _task_names() -> frozenset[str]:
    names = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            names.update(re.findall(r'name="([a-z_]+\.[a-z_]+)"', path.read_text()))
    return frozenset(names)


@cache
def _defined(module: Path) -> frozenset[str]:
    """Names at the top of ``module`` and ``Class.attribute`` names of its classes."""
    tree = ast.parse(module.read_text())
    names: set[str] = set()
    for node in tree.body:
        targets: list[str] = []
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            targets = [node.name]
            if isinstance(node, ast.ClassDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        names.add(f"{node.name}.{inner.name}")
                    elif isinstance(inner, ast.Assign | ast.AnnAssign):
                        for target in (
                            inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                        ):
                            for name in ast.walk(target):
                                if isinstance(name, ast.Name):
                                    names.add(f"{node.name}.{name.id}")
                                elif isinstance(name, ast.Attribute):
                                    names.add(f"{node.name}.{name.attr}")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                targets += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, ast.ImportFrom | ast.Import):
            targets = [alias.asname or alias.name.split(".")[0] for alias in node.names]
        names.update(targets)
    return frozenset(names)


def dotted_exists(name: str) -> bool:
    if name in _task_names():
        return True
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:split])
        module = base.with_suffix(".py") if not base.is_dir() else base / "__init__.py"
        if base.is_dir() and split == len(parts):
            return True
        if module.exists():
            rest = parts[split:]
            if not rest:
                return True
            return ".".join(rest[:2]) in _defined(module) or rest[0] in _defined(module)
    return False


def path_exists(pointer: str) -> bool:
    """``dins/views.py`` must be a file; ``dins/views.py:number_detail`` must also define it."""
    target, _, name = pointer.partition(":")
    if not (ROOT / target).exists():
        return False
    return not name or not target.endswith(".py") or name in _defined(ROOT / target)


def _pointers() -> list[tuple[str, str, str]]:
    found = []
    for path in _files():
        where = str(path.relative_to(ROOT))
        prose = _prose(path)
        for match in PATH.findall(prose):
            found.append((where, "path", match.rstrip(".")))
        for match in DOTTED.findall(prose):
            found.append((where, "name", match.rstrip(".")))
    return found


def _broken(pointers) -> list[str]:
    broken = []
    for where, kind, pointer in pointers:
        ok = path_exists(pointer) if kind == "path" else dotted_exists(pointer.split(":")[0])
        if not ok:
            broken.append(f"{where}: {pointer}")
    return sorted(set(broken))


def test_every_pointer_in_docstrings_comments_and_docs_exists():
    assert _broken(_pointers()) == []


@pytest.mark.parametrize(
    "pointer, kind",
    [
        ("portal/edge_wsgi.py", "path"),  # moved long ago
        ("callflows.runtime", "name"),
        ("dins.models.Status", "name"),
        ("callflows.edge.published.NoSuchLoader", "name"),
        ("dins/views.py:no_such_view", "path"),  # the file exists, the name does not
    ],
)
def test_it_catches_a_pointer_to_nothing(pointer, kind):
    assert _broken([("probe", kind, pointer)]) == [f"probe: {pointer}"]


@pytest.mark.parametrize(
    "pointer, kind",
    [
        ("callflows/edge/runtime.py", "path"),
        ("callflows.edge.published.Loader", "name"),
        ("callflows.edge.published.Loader.call", "name"),
        ("dins.models.Subscription", "name"),
        ("dins.subscribe", "name"),  # a task's name
        ("docs/deploy.md", "path"),
        ("dins/views.py:number_detail", "path"),
        ("callflows/edge/published.py:Loader.call", "path"),
    ],
)
def test_it_accepts_what_exists(pointer, kind):
    assert _broken([("probe", kind, pointer)]) == []
