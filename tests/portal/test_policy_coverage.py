"""Every model with a registered permission policy has rows in a permission matrix.

A matrix row is a ``ModelMatrix(model="app.model", ...)`` in one of the apps'
``tests/<app>/test_permission_matrix.py`` (``check_matrix`` fails if its objects are of another
model), or, for rows without endpoints of their own, a test marked ``@covers("app.model")``
that asks ``restrict()`` directly. A new policy without either fails here.
"""

import ast
import importlib
from pathlib import Path

from django.apps import apps

from portal.permissions import registered_labels

TESTS = Path(__file__).resolve().parent.parent
MATRIX_MODULES = sorted(TESTS.glob("*/test_permission_matrix.py"))


def _is_model_label(value: object) -> bool:
    if not isinstance(value, str) or value.count(".") != 1:
        return False
    try:
        apps.get_model(value)
    except (LookupError, ValueError):
        return False
    return True


def _matrix_labels(path: Path) -> set[str]:
    """Labels named by ``ModelMatrix(model=...)``: a literal, or, when the test loops over
    several models (``model=model``), the labels the looping test spells out."""
    labels = set()
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, ast.FunctionDef):
            continue
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ModelMatrix"):
                continue
            for keyword in node.keywords:
                if keyword.arg != "model":
                    continue
                if isinstance(keyword.value, ast.Constant):
                    labels.add(keyword.value.value)
                else:
                    labels.update(
                        constant.value
                        for constant in ast.walk(function)
                        if isinstance(constant, ast.Constant) and _is_model_label(constant.value)
                    )
    return labels


def _covered_labels(path: Path) -> set[str]:
    module = importlib.import_module(f"tests.{path.parent.name}.{path.stem}")
    labels = set()
    for name in dir(module):
        labels.update(getattr(getattr(module, name), "matrix_covers", ()))
    return labels


def test_every_app_has_its_matrix():
    assert {path.parent.name for path in MATRIX_MODULES} == {
        "portal",
        "inventory",
        "approvals",
        "costs",
        "operations",
    }


def test_every_registered_policy_has_matrix_rows():
    rows = set()
    for path in MATRIX_MODULES:
        rows |= _matrix_labels(path) | _covered_labels(path)
    registered = registered_labels()
    assert registered, "No policy is registered: the apps' policies modules did not load"
    assert sorted(registered - rows) == [], "Policies without permission-matrix rows"
    assert sorted(rows - registered) == [], "Matrix rows for models without a policy"
