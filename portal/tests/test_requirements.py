"""A server installs requirements.txt only: every import of the product's code resolves there,
and no test tool is installed with it."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "dins", "callflows", "api", "sandbox")
TEST_TOOLS = {"pytest", "pytest-django", "ruff", "mypy", "responses", "hypothesis", "playwright"}
TEST_TOOLS |= {"factory-boy", "time-machine", "moto", "schemathesis", "jsonschema"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pinned(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_canonical(re.split(r"[\[=<>~! ]", line, maxsplit=1)[0]))
    return names


def _with_dependencies(names: set[str]) -> set[str]:
    """``names`` and everything they install (extras not included)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            todo.append(_canonical(re.split(r"[\[=<>~!; (]", requirement, maxsplit=1)[0]))
    return seen


def _imports(node: ast.AST):
    """Import statements that run: not those under ``if TYPE_CHECKING:``."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        for statement in node.orelse:
            yield from _imports(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _imports(child)


def _runtime_imports() -> dict[str, str]:
    """Top-level module → the first file outside the tests that imports it."""
    found: dict[str, str] = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or path.name in ("testing.py", "conftest.py"):
                continue
            for node in _imports(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    found.setdefault(module.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_runtime_requirements_hold_no_test_tool():
    assert _pinned(ROOT / "requirements.txt") & TEST_TOOLS == set()


def test_every_import_of_the_products_code_is_installed_by_requirements_txt():
    installed = _with_dependencies(_pinned(ROOT / "requirements.txt"))
    distributions = metadata.packages_distributions()
    ours = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    missing = []
    for module, where in sorted(_runtime_imports().items()):
        if module in ours or module in sys.stdlib_module_names:
            continue
        names = {_canonical(name) for name in distributions.get(module, [module])}
        if not names & installed:
            missing.append(f"{module} (imported by {where})")
    assert missing == []
