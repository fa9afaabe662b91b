"""POST /api/signals/: a signals:ingest token posts one point or up to 1,000, all or nothing;
a repeated point is ignored or replaced; every bad point is named by index and field. GET
/api/signals/ is for people, restricted and filtered."""

# ruff: noqa: F811  (pytest fixtures imported from the fixture modules are parameters of the tests)

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from operations.models import HealthSignal
from portal.choices import AuditActionChoices
from portal.models import AuditEntry, TokenKind, TokenScope, User
from portal.roles import Role
from tests.approvals.conftest import file_use_case, legal_team, support_team  # noqa: F401
from tests.operations.signal_fixtures import add_signal, environments, token_client, use_case  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/api/signals/"


def point(subject, **fields):
    moment = timezone.now() - timedelta(minutes=10)
    return {
        "use_case": subject.key,
        "environment": "production",
        "metric": "accuracy",
        "value": 0.93,
        "observed_at": moment.isoformat().replace("+00:00", "Z"),
        **fields,
    }


@pytest.fixture
def lead_client(token_client, support_team):
    return token_client(support_team.lead)


def test_one_point_is_stored_with_its_token(lead_client, use_case, environments):
    response = lead_client.post(URL, point(use_case), format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"received": 1, "created": 1, "updated": 0, "unchanged": 0}
    signal = HealthSignal.objects.get()
    assert (signal.use_case, signal.environment.slug, signal.metric) == (use_case, "production", "accuracy")
    assert signal.value == Decimal("0.93")
    assert signal.token == lead_client.token
    entry = AuditEntry.objects.filter(action=AuditActionChoices.IMPORT).latest("id")
    assert entry.extra["created"] == 1 and entry.token_id == lead_client.token.pk


def test_observed_at_defaults_to_now(lead_client, use_case, environments):
    body = point(use_case)
    del body["observed_at"]
    before = timezone.now()
    assert lead_client.post(URL, body, format="json").status_code == 201
    assert before <= HealthSignal.objects.get().observed_at <= timezone.now()


def test_a_batch_is_stored_and_a_repeat_is_idempotent_or_replaces(lead_client, use_case, environments):
    first = point(use_case)
    second = point(use_case, metric="latency_p95_ms", value=420)
    response = lead_client.post(URL, {"signals": [first, second]}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 2

    # The same points again (an agent's retry): nothing changes, 200.
    again = lead_client.post(URL, {"signals": [first, second]}, format="json")
    assert again.status_code == 200
    assert again.json() == {"received": 2, "created": 0, "updated": 0, "unchanged": 2}
    assert HealthSignal.objects.count() == 2

    # The same point with another value replaces it.
    replaced = lead_client.post(URL, {"signals": [{**first, "value": 0.91}]}, format="json")
    assert replaced.status_code == 201
    assert replaced.json() == {"received": 1, "created": 0, "updated": 1, "unchanged": 0}
    assert HealthSignal.objects.get(metric="accuracy").value == Decimal("0.91")
    assert HealthSignal.objects.count() == 2


def test_the_same_point_twice_in_one_batch_with_two_values_is_refused(lead_client, use_case, environments):
    first = point(use_case)
    response = lead_client.post(URL, {"signals": [first, {**first, "value": 0.5}]}, format="json")
    assert response.status_code == 400
    assert "Repeats point 0" in str(response.json()["signals[1].observed_at"])
    assert not HealthSignal.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"metric": "happiness"}, "metric", "Unknown metric"),
        ({"use_case": "UC-9999"}, "use_case", "No use case UC-9999"),
        ({"environment": "moon"}, "environment", "No environment"),
        ({"observed_at": "2026-12-01T10:00:00"}, "observed_at", "time zone"),
        ({"observed_at": "yesterday"}, "observed_at", "ISO 8601"),
        ({"observed_at": "2026-13-01T10:00:00Z"}, "observed_at", "ISO 8601"),
        ({"value": "NaN"}, "value", "finite"),
        ({"value": "Infinity"}, "value", "finite"),
        ({"value": "-inf"}, "value", "finite"),
        ({"value": 1e15}, "value", "less than"),
        ({"value": "12abc"}, "value", "number"),
        ({"value": True}, "value", "number"),
        ({"value": None}, "value", "number"),
        ({"colour": "blue"}, "colour", "Unknown field"),
    ],
)
def test_a_bad_point_is_named_by_its_field(lead_client, use_case, environments, fields, field, fragment):
    response = lead_client.post(URL, point(use_case, **fields), format="json")
    assert response.status_code == 400, response.json()
    assert fragment in " ".join(response.json()[field])
    assert not HealthSignal.objects.exists()


def test_a_point_too_far_in_the_future_is_refused_a_little_ahead_is_a_clock(
    lead_client, use_case, environments
):
    ahead = timezone.now() + timedelta(minutes=20)
    response = lead_client.post(URL, point(use_case, observed_at=ahead.isoformat()), format="json")
    assert response.status_code == 400
    assert "future" in str(response.json()["observed_at"])
    slightly = timezone.now() + timedelta(minutes=2)
    assert (
        lead_client.post(URL, point(use_case, observed_at=slightly.isoformat()), format="json").status_code
        == 201
    )


def test_json_infinity_is_refused_by_the_parser(lead_client, use_case, environments):
    body = f'{{"use_case": "{use_case.key}", "environment": "production", "metric": "accuracy", "value": Infinity}}'
    response = lead_client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert not HealthSignal.objects.exists()


def test_a_batch_is_all_or_nothing_and_names_each_bad_point(lead_client, use_case, environments):
    good = point(use_case)
    batch = [good, point(use_case, metric="nope"), point(use_case, metric="error_rate", value="NaN")]
    response = lead_client.post(URL, {"signals": batch}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"signals[1].metric", "signals[2].value"}
    assert not HealthSignal.objects.exists()


def test_at_most_1000_points(lead_client, use_case, environments):
    start = timezone.now() - timedelta(days=2)
    points = [point(use_case, observed_at=(start + timedelta(minutes=i)).isoformat()) for i in range(1001)]
    response = lead_client.post(URL, {"signals": points}, format="json")
    assert response.status_code == 400
    assert "At most 1,000" in str(response.json()["signals"])
    response = lead_client.post(URL, {"signals": points[:1000]}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1000


def test_an_empty_batch_is_refused(lead_client, use_case, environments):
    assert lead_client.post(URL, {"signals": []}, format="json").status_code == 400


def test_a_token_posts_only_for_use_cases_its_user_may_change(
    token_client, use_case, legal_team, file_use_case, environments
):
    other = file_use_case(legal_team, submit=True, name="Contract review")
    client = token_client(legal_team.lead)
    response = client.post(URL, point(use_case), format="json")
    assert response.status_code == 400
    # Another team's use case is answered like one that does not exist.
    assert response.json()["use_case"] == [
        f"No use case {use_case.key} that this token may post signals for."
    ]
    assert client.post(URL, point(other), format="json").status_code == 201


def test_an_admin_service_account_posts_for_the_whole_portfolio(
    token_client, make_user, use_case, environments
):
    monitoring = make_user("monitoring-bot", Role.ADMIN)
    assert token_client(monitoring).post(URL, point(use_case), format="json").status_code == 201


@pytest.mark.parametrize("scopes", [(TokenScope.READ,), (TokenScope.WRITE,), (TokenScope.TELEMETRY_INGEST,)])
def test_a_token_without_the_scope_is_refused(token_client, support_team, use_case, environments, scopes):
    kind = TokenKind.PERSONAL if set(scopes) <= TokenScope.PERSONAL else TokenKind.MACHINE
    response = token_client(support_team.lead, *scopes, kind=kind).post(URL, point(use_case), format="json")
    assert response.status_code == 403
    assert "signals:ingest" in response.json()["detail"]
    assert not HealthSignal.objects.exists()


def test_a_session_user_cannot_post_signals(support_team, use_case, environments, admin_user):
    for user in (support_team.lead, admin_user):
        client = APIClient()
        client.force_login(user)
        response = client.post(URL, point(use_case), format="json")
        assert response.status_code == 403
    assert APIClient().post(URL, point(use_case), format="json").status_code in (401, 403)
    assert not HealthSignal.objects.exists()


def test_people_read_signals_of_the_use_cases_they_see(
    support_team, legal_team, file_use_case, use_case, environments, add_signal, make_user
):
    restricted = file_use_case(legal_team, submit=True, name="Restricted one", visibility="restricted")
    now = timezone.now()
    add_signal(use_case, environments["production"], "accuracy", "0.9", now - timedelta(hours=1))
    add_signal(use_case, environments["staging"], "accuracy", "0.8", now - timedelta(days=3))
    add_signal(use_case, environments["production"], "error_rate", "0.01", now - timedelta(hours=2))
    add_signal(restricted, environments["production"], "accuracy", "0.7", now)
    client = APIClient()
    client.force_login(User.objects.get(username="priya"))  # a member of the support team
    rows = client.get(URL).json()["results"]
    assert {row["use_case"] for row in rows} == {use_case.key}
    assert len(rows) == 3
    filtered = client.get(
        URL, {"use_case": use_case.key.lower(), "metric": "accuracy", "environment": "production"}
    )
    assert [row["value"] for row in filtered.json()["results"]] == ["0.900000"]
    since = client.get(URL, {"since": (now - timedelta(days=1)).isoformat()}).json()["results"]
    assert len(since) == 2
    assert client.get(URL, {"metric": "happiness"}).status_code == 400
