"""docs/architecture.md names files and declarations that exist (issue 10, #27: it had drifted)."""

import re
from pathlib import Path

from portal import choices
from portal.choices import ChoiceSet

REPO_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = (REPO_ROOT / "docs" / "architecture.md").read_text()


def _exists(path: str) -> bool:
    migration = re.fullmatch(r"(\w+)/(\d{4})", path)
    if migration:  # "portal/0005" is how the docs name a migration
        return any((REPO_ROOT / migration[1] / "migrations").glob(f"{migration[2]}_*.py"))
    if path.startswith("static/vendor/"):  # served from an installed wheel, not the checkout
        return True
    return (REPO_ROOT / path).exists() or (REPO_ROOT / "templates" / path).exists()


def test_every_path_the_architecture_names_exists():
    paths = set(
        re.findall(
            r"`((?:portal|inventory|approvals|costs|operations|tests|templates|static|docs|bench)/[\w./-]*)`",
            ARCHITECTURE,
        )
    )
    assert len(paths) > 40
    assert sorted(path for path in paths if not _exists(path)) == []


def test_the_architecture_lists_every_portal_choice_set_and_app_folder():
    choice_sets = [
        name
        for name, value in vars(choices).items()
        if isinstance(value, type) and issubclass(value, ChoiceSet) and value is not ChoiceSet
    ]
    assert [name for name in choice_sets if f"`{name}`" not in ARCHITECTURE] == []
    for app in ("portal", "inventory", "approvals", "costs", "operations"):
        assert f"`tests/{app}/`" in ARCHITECTURE
        assert (REPO_ROOT / "templates" / app).is_dir() and f"`{app}/`" in ARCHITECTURE
    for folder in (REPO_ROOT / "static").iterdir():
        assert f"`static/{folder.name}/`" in ARCHITECTURE
    assert "arrive with later work" not in ARCHITECTURE
