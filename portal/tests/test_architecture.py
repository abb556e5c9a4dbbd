"""The shape of the code, checked: apps depend in one direction, and first-party imports sit at
the top of modules (a function-level import is how a dependency cycle hides)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower layers never import higher ones; the sandbox carrier is another company's system; the
# project (config/: settings, URLconfs, WSGI entry points, the Celery app) sits above every app
# and assembles them. Test scaffolding lives in testing/, outside every app.
LAYERS = {"portal": 0, "dins": 1, "callflows": 2, "api": 3, "config": 4}
STANDALONE = {"sandbox"}
FIRST_PARTY = set(LAYERS) | STANDALONE

# Where a function-level import is the right tool, and why.
LATE_IMPORTS_ALLOWED = {
    # AppConfig.ready connects receivers once the app registry is loaded.
    ("*", "apps.py"),
}


def _source_files():
    for app in sorted(FIRST_PARTY):
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield app, path


def _imports(tree: ast.AST):
    """(module, lineno, at_top_level) for every import in a module."""
    top = set()
    for node in tree.body:
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            top.add(id(inner))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno, id(node) in top


def _findings():
    upward, late = [], []
    for app, path in _source_files():
        where = path.relative_to(ROOT)
        for module, line, at_top in _imports(ast.parse(path.read_text(), str(path))):
            target = module.split(".")[0]
            if target not in FIRST_PARTY:
                continue
            if target != app and (
                app in STANDALONE
                or (target in STANDALONE and app != "config")
                or (target in LAYERS and app in LAYERS and LAYERS[target] > LAYERS[app])
            ):
                upward.append(f"{where}:{line} imports {module}")
            if not at_top and ("*", path.name) not in LATE_IMPORTS_ALLOWED:
                late.append(f"{where}:{line} imports {module} inside a function")
    return upward, late


def test_apps_depend_in_one_direction():
    upward, _ = _findings()
    assert upward == [], "\n".join(upward)


def test_first_party_imports_sit_at_the_top_of_modules():
    _, late = _findings()
    assert late == [], "\n".join(late)


@pytest.mark.parametrize(
    "app, source, expected",
    [
        ("dins", "from callflows.models import CallLog\n", "upward"),
        ("portal", "def f():\n    import dins.models\n", "upward"),
        ("sandbox", "from portal.phone import to_e164\n", "upward"),
        ("callflows", "def f():\n    from dins.models import Subscription\n", "late"),
        ("callflows", "from dins.models import Subscription\n", None),
        ("portal", "from config.celery import app\n", "upward"),
        ("sandbox", "from config.celery import app\n", "upward"),
        ("config", "from sandbox.models import Account\n", None),
    ],
)
def test_the_checks_catch_what_they_are_for(app, source, expected, tmp_path, monkeypatch):
    module = tmp_path / app / "probe.py"
    module.parent.mkdir()
    module.write_text(source)
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path, raising=False)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    upward, late = _findings()
    found = "upward" if upward else "late" if late else None
    assert found == expected, (upward, late)


def test_the_maps_name_files_that_exist():
    """docs/architecture.md and the README's "what is where" name real files and folders."""
    named = set()
    for document in ("docs/architecture.md", "README.md"):
        text = (ROOT / document).read_text()
        for path in re.findall(
            r"`((?:config|portal|dins|callflows|sandbox|api|testing)/[\w/.]*?)(?::\w+)?`", text
        ):
            named.add((document, path))
    missing = [f"{doc}: {path}" for doc, path in sorted(named) if not (ROOT / path).exists()]
    assert missing == [], "\n".join(missing)
