"""The `postgres`, `real_worker` and `browser` markers run their service checks themselves
(portal.testing.services.require_marked_services, called from tests/conftest.py)."""

import pytest
from django.db import connection

from portal.testing.services import MARKER_REQUIREMENTS, require_marked_services


class _Item:
    """What require_marked_services reads of a pytest item: its markers."""

    def __init__(self, *markers: str):
        self.markers = set(markers)

    def get_closest_marker(self, name):
        return getattr(pytest.mark, name) if name in self.markers else None


@pytest.mark.postgres
def test_a_test_marked_postgres_runs_only_on_postgresql_without_asking():
    # No require_postgres() here: on SQLite the conftest hook skips this test before it runs.
    assert connection.vendor == "postgresql"


def test_a_missing_service_skips_a_marked_test(settings, monkeypatch):
    monkeypatch.delenv("PROPYLON_REQUIRE_SERVICES", raising=False)
    settings.CELERY_BROKER_URL = ""
    with pytest.raises(pytest.skip.Exception, match="needs a Celery broker"):
        require_marked_services(_Item("real_worker"))


def test_with_require_services_a_missing_service_fails_instead(settings, monkeypatch):
    monkeypatch.setenv("PROPYLON_REQUIRE_SERVICES", "1")
    settings.CELERY_BROKER_URL = ""
    with pytest.raises(pytest.fail.Exception, match="PROPYLON_REQUIRE_SERVICES=1 but needs a Celery broker"):
        require_marked_services(_Item("real_worker"))


def test_an_unmarked_test_is_not_checked(settings, monkeypatch):
    monkeypatch.setenv("PROPYLON_REQUIRE_SERVICES", "1")
    settings.CELERY_BROKER_URL = ""
    require_marked_services(_Item("django_db"))


def test_every_service_marker_is_declared(pytestconfig):
    declared = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(MARKER_REQUIREMENTS) <= declared
