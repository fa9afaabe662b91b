"""Where the test suite finds PostgreSQL, a broker and Chromium, and what it does without them.

On a machine with only Python, tests that need a missing service skip with a reason that says
what to install. CI sets PROPYLON_REQUIRE_SERVICES=1 so that the same situation fails instead.

A test says what it needs with a marker (`postgres`, `real_worker`, `browser`);
`require_marked_services`, called by tests/conftest.py before any fixture is set up, runs the
matching checks, so a marked test cannot forget them.
"""

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection

CHROMIUM_PATH = os.environ.get("PROPYLON_CHROMIUM", "/usr/bin/chromium")


def _skip_or_fail(reason: str):
    if os.environ.get("PROPYLON_REQUIRE_SERVICES") == "1":
        pytest.fail(f"PROPYLON_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        _skip_or_fail(
            "needs PostgreSQL: start one and run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/propylon"
        )


def require_broker() -> None:
    if not settings.CELERY_BROKER_URL:
        _skip_or_fail(
            "needs a Celery broker: start Redis and run with CELERY_BROKER_URL=redis://127.0.0.1:6379/15"
        )
    if connection.vendor == "sqlite":
        _skip_or_fail(
            "a worker process cannot share the test suite's in-memory SQLite database: "
            "run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/propylon as well"
        )


def require_chromium() -> None:
    if not (os.path.exists(CHROMIUM_PATH) or shutil.which("chromium")):
        _skip_or_fail("needs Chromium at /usr/bin/chromium: apt-get install chromium")


def require_marked_services(item: pytest.Item) -> None:
    """Run the check of every service marker on `item` (before its fixtures are set up)."""
    for marker, require in MARKER_REQUIREMENTS.items():
        if item.get_closest_marker(marker) is not None:
            require()


MARKER_REQUIREMENTS = {
    "postgres": require_postgres,
    "real_worker": require_broker,
    "browser": require_chromium,
}
