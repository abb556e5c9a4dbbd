"""Where reactions come from is written down: docs/architecture.md's table of reactions names
every signal receiver, page contribution and task started by name, and the code has exactly
those.

Read from the code without running it: ``<signal>.connect(handler)`` and
``@receiver(<signal>)``, ``provide("<page>", provider)``, and the task names given to
``outbox_enqueue``, ``send_after_commit`` and ``send_task`` (string literals, or the module
constants that hold them), each with the task function that handles it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "dins", "callflows", "api", "sandbox")
SENDERS = {"outbox_enqueue", "send_after_commit", "send_task"}
ROW = re.compile(r"^\| (signal|page|task) \| `([^`]+)` \| `([^`]+)` \|", re.M)


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or path.name in ("testing.py",):
                continue
            yield path, ast.parse(path.read_text())


def _name(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _constants() -> dict[str, str]:
    """Module-level NAME = "a.b" strings of every module (task names held in constants)."""
    found = {}
    for _path, tree in _modules():
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.isupper():
                        found[target.id] = node.value.value
    return found


def _tasks() -> dict[str, str]:
    """Task name → ``module:function`` of the task that handles it."""
    handlers = {}
    for path, tree in _modules():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and _name(decorator.func) == "shared_task":
                    for keyword in decorator.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            handlers[keyword.value.value] = f"{module}:{node.name}"
    return handlers


def reactions_in_code() -> set[tuple[str, str, str]]:
    constants, tasks = _constants(), _tasks()
    found: set[tuple[str, str, str]] = set()
    for path, tree in _modules():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call) and _name(decorator.func) == "receiver":
                        signal = _name(decorator.args[0])
                        found.add(("signal", signal, f"{module}:{node.name}"))
            if not isinstance(node, ast.Call):
                continue
            called = _name(node.func)
            if called == "connect" and isinstance(node.func, ast.Attribute) and node.args:
                signal, handler = _name(node.func.value), node.args[0]
                if isinstance(handler, ast.Name | ast.Attribute):
                    found.add(("signal", signal, f"{module}:{_name(handler)}"))
            elif called == "provide" and len(node.args) == 2:
                page = node.args[0]
                if isinstance(page, ast.Constant):
                    found.add(("page", page.value, f"{module}:{_name(node.args[1])}"))
            elif called in SENDERS and node.args:
                first = node.args[0]
                name = (
                    first.value
                    if isinstance(first, ast.Constant)
                    else constants.get(_name(first), "")
                )
                if name and "." in name:
                    found.add(("task", name, tasks.get(name, "?")))
    return found


def reactions_in_docs() -> set[tuple[str, str, str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    return set(ROW.findall(text))


def test_the_table_of_reactions_is_the_code():
    in_code, in_docs = reactions_in_code(), reactions_in_docs()
    missing = sorted(in_code - in_docs)
    stale = sorted(in_docs - in_code)
    assert (missing, stale) == ([], []), (
        "docs/architecture.md's table of reactions differs from the code.\n"
        f"In the code, not in the table: {missing}\nIn the table, not in the code: {stale}"
    )


def test_every_task_started_by_name_exists():
    assert [row for row in reactions_in_code() if row[2] == "?"] == []
