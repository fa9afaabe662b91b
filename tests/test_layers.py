"""Layers point down: portal <- inventory <- approvals, costs (STYLE.md, issue 11).

A lower layer never imports a higher one, and approvals and costs never import each other:
what a higher app adds to a lower one it registers from its ``AppConfig.ready()``. An import
inside a function is allowed only for the reasons listed here — not to dodge a cycle.
"""

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYER = {"portal": 0, "inventory": 1, "approvals": 2, "costs": 2, "operations": 3}

# Imports inside a function that are fine, by rule:
# - inside AppConfig.ready() (an app's apps.py): where it registers what it contributes, once
#   every model is loaded;
# - optional heavy dependencies, loaded only by the code paths that need them.
HEAVY_DEPENDENCIES = {"openpyxl", "pyarrow", "boto3", "botocore", "moto", "playwright"}
HEAVY_MODULES = {"costs.ingest.aws"}  # imports boto3 at its top: only AWS sources load it
# A handful of named exceptions, "path:function": reason.
NAMED_EXCEPTIONS = {
    "portal/cli.py:main": "the console script sets DJANGO_SETTINGS_MODULE before Django is imported",
    "portal/querysets.py:update": "portal.models uses AuditedQuerySet and portal.audit imports portal.models",
    "portal/querysets.py:bulk_create": "portal.models uses AuditedQuerySet and portal.audit imports portal.models",
    "portal/querysets.py:bulk_update": "portal.models uses AuditedQuerySet and portal.audit imports portal.models",
}


def _modules():
    for app in LAYER:
        for path in sorted((REPO_ROOT / app).rglob("*.py")):
            if "migrations" not in path.relative_to(REPO_ROOT).parts:
                yield app, path


def _imports(tree: ast.AST):
    """Every import with the innermost function around it (None at module or class level)."""

    def walk(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, function
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            yield from walk(child, inner)

    yield from walk(tree, None)


def _imported_modules(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: stays inside its own package
        return []
    return [node.module or ""]


def _violations():
    upward, local = [], []
    for app, path in _modules():
        relative = path.relative_to(REPO_ROOT).as_posix()
        for node, function in _imports(ast.parse(path.read_text(), filename=relative)):
            for module in _imported_modules(node):
                top = module.split(".")[0]
                where = f"{relative}:{node.lineno} imports {module}"
                if top in LAYER and top != app and LAYER[top] >= LAYER[app]:
                    upward.append(where)
                if (
                    function is not None
                    and not (function == "ready" and path.name == "apps.py")
                    and top not in HEAVY_DEPENDENCIES
                    and module not in HEAVY_MODULES
                    and f"{relative}:{function}" not in NAMED_EXCEPTIONS
                ):
                    local.append(f"{where} inside {function}()")
    return upward, local


def test_imports_point_down_only():
    upward, _local = _violations()
    assert upward == []


def test_no_import_inside_a_function_without_a_listed_reason():
    _upward, local = _violations()
    assert local == []


@pytest.mark.parametrize("name", sorted(NAMED_EXCEPTIONS))
def test_each_named_exception_still_exists(name):
    """An exception whose function no longer imports anything is removed from the list."""
    relative, function = name.split(":")
    tree = ast.parse((REPO_ROOT / relative).read_text())
    assert any(found == function for _node, found in _imports(tree))


def test_the_walk_sees_an_upward_and_a_local_import(tmp_path, monkeypatch):
    """The checker itself can fail: an inventory module importing approvals inside a function."""
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "bad.py").write_text("def f():\n    from approvals.models import X\n")
    for app in ("portal", "approvals", "costs"):
        (tmp_path / app).mkdir()
    monkeypatch.setattr(__import__(__name__, fromlist=["REPO_ROOT"]), "REPO_ROOT", tmp_path)
    upward, local = _violations()
    assert upward == ["inventory/bad.py:2 imports approvals.models"]
    assert local == ["inventory/bad.py:2 imports approvals.models inside f()"]
