"""CoE metrics: time to decision per gate and tier, and queue length over time, from the event
history (approvals.selectors.metrics), on the page and over the API."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.choices import ApprovalEventChoices, DecisionChoices
from approvals.models import ApprovalEvent
from approvals.selectors import metrics
from approvals.services import gates
from portal.roles import Role
from tests.approvals.gate_fixtures import pinned_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> date:
    # Per test, not at import: a run that crosses midnight must not compare against yesterday.
    return timezone.now().date()


def at(today: date, days_ago: int, hour: int) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=hour
    )


def retime(request, *times: datetime) -> None:
    """Move a request's queue events (in the order they happened) to the given times: the
    services stamp "now", a history needs days. Comments and stage changes follow the last."""
    events = list(
        ApprovalEvent.objects.filter(
            request=request, kind__in=metrics.WAIT_STARTS | metrics.WAIT_ENDS
        ).order_by("pk")
    )
    assert len(events) == len(times), [event.kind for event in events]
    for event, moment in zip(events, times, strict=True):
        ApprovalEvent.objects.filter(pk=event.pk).update(at=moment)


def submit(use_case, release, to_stage):
    return gates.approval_request_submit(
        use_case=use_case, release=release, to_stage=to_stage, actor=use_case.owning_team.lead
    )


@pytest.fixture
def history(ready_use_case, reviewers, make_user, today):
    """Three requests with a known history:

    - A: minimal, proposed → pilot, submitted 5 days ago 09:00, approved 10 h later;
    - B: high, pilot → production, submitted 4 days ago 08:00, changes requested 30 h later,
      resubmitted 2 days ago 12:00, still waiting;
    - C: minimal, proposed → pilot, submitted 3 days ago 10:00, withdrawn the next day 10:00.
    """
    use_case_a, release_a = ready_use_case("minimal", name="Invoice matcher")
    request_a = submit(use_case_a, release_a, "pilot")
    gates.approval_request_decide(
        request=request_a, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE
    )
    retime(request_a, at(today, 5, 9), at(today, 5, 19))

    use_case_b, release_b = ready_use_case("high", stage="pilot", name="CV ranking")
    request_b = submit(use_case_b, release_b, "production")
    gates.approval_request_decide(
        request=request_b,
        actor=reviewers["sam"],
        decision=DecisionChoices.REQUEST_CHANGES,
        comment="Threat model?",
    )
    gates.approval_request_resubmit(
        request=request_b,
        actor=use_case_b.owning_team.lead,
        release=pinned_release(use_case_b, "1.1", model_version="2", digest="b" * 64),
    )
    retime(request_b, at(today, 4, 8), at(today, 3, 14), at(today, 2, 12))

    use_case_c, release_c = ready_use_case("minimal", name="Meeting notes")
    request_c = submit(use_case_c, release_c, "pilot")
    gates.approval_request_withdraw(request=request_c, actor=use_case_c.owning_team.lead, reason="Not yet")
    retime(request_c, at(today, 3, 10), at(today, 2, 10))
    return request_a, request_b, request_c


def test_percentile_is_nearest_rank():
    values = [Decimal(v) for v in ("4", "1", "3", "2")]
    assert metrics.percentile(values, 50) == Decimal(2)
    assert metrics.percentile(values, 90) == Decimal(4)
    assert metrics.percentile([Decimal("7.5")], 50) == Decimal("7.5")


def test_time_to_decision_per_gate_and_tier(history, today):
    result = metrics.coe_metrics(since=today - timedelta(days=6), until=today)

    rows = {(row.gate, row.tier): row.as_dict() for row in result["time_to_decision"]}
    assert set(rows) == {("Proposed → Pilot", "minimal"), ("Pilot → Production", "high")}
    pilot = rows[("Proposed → Pilot", "minimal")]
    assert (pilot["decided"], pilot["median_hours"], pilot["within_sla_percent"]) == (1, Decimal("10.0"), 100)
    assert pilot["outcomes"] == {"approved": 1}
    production = rows[("Pilot → Production", "high")]
    assert (production["decided"], production["median_hours"]) == (1, Decimal("30.0"))
    assert production["outcomes"] == {"changes_requested": 1}
    # The withdrawn request never reached a decision: it is not a time to decision.
    assert result["decided"] == 2 and result["median_hours"] == Decimal("10.0")


def test_queue_length_is_what_waited_at_each_day_end(history, today):
    result = metrics.coe_metrics(since=today - timedelta(days=6), until=today)

    waiting = {point["day"]: point["waiting"] for point in result["queue_length"]}
    assert [waiting[today - timedelta(days=n)] for n in range(6, -1, -1)] == [0, 0, 1, 1, 1, 1, 1]
    four_days_ago = next(p for p in result["queue_length"] if p["day"] == today - timedelta(days=4))
    assert four_days_ago["by_tier"] == {"high": 1}
    now = result["queue_now"]
    assert (now["waiting"], now["by_tier"]) == (1, {"high": 1})
    # Resubmitted two days ago at 12:00: at least 36 h ago, whatever the time now.
    assert Decimal(36) <= now["oldest_waiting_hours"] < Decimal(60)


def test_a_window_after_the_decisions_still_shows_the_request_still_waiting(history, today):
    result = metrics.coe_metrics(since=today, until=today)
    assert result["decided"] == 0
    assert result["queue_length"] == [{"day": today, "waiting": 1, "by_tier": {"high": 1}}]


@pytest.mark.parametrize(
    ("since_days", "until_days", "field", "message"),
    [
        (0, -1, "since", "starts"),
        (-400, 0, "since", "at most 366 days"),
        (0, 1, "until", "future"),
    ],
)
def test_a_bad_window_names_what_is_wrong(since_days, until_days, field, message, today):
    with pytest.raises(ValidationError) as error:
        metrics.coe_metrics(
            since=today + timedelta(days=since_days), until=today + timedelta(days=until_days)
        )
    assert message in " ".join(error.value.message_dict[field])


def test_the_page_for_reviewers_and_overseers(
    client, history, make_user, django_assert_max_num_queries, today
):
    client.force_login(make_user("cleo", Role.EXECUTIVE))
    with django_assert_max_num_queries(12):
        response = client.get("/gates/metrics/", {"since": (today - timedelta(days=6)).isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Proposed → Pilot" in page and "Pilot → Production" in page
    assert "10.0 h" in page and "30.0 h" in page
    assert 'id="coe-metrics-data"' in page and "<script>" not in page


def test_the_page_refuses_team_people_and_explains_a_bad_window(client, make_user, support_team, today):
    client.force_login(support_team.lead)
    assert client.get("/gates/metrics/").status_code == 403

    client.force_login(make_user("rhea", Role.COE_REVIEWER))
    response = client.get("/gates/metrics/", {"since": "2026-13-01"})
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()
    response = client.get(
        "/gates/metrics/", {"since": today.isoformat(), "until": (today - timedelta(days=2)).isoformat()}
    )
    assert response.status_code == 400
    assert "after it ends" in response.content.decode()
    empty = client.get("/gates/metrics/")
    assert empty.status_code == 200 and "No decisions in this window" in empty.content.decode()


def test_the_api(history, make_user, support_team, today):
    api = APIClient()
    api.force_authenticate(make_user("aud", Role.AUDITOR))
    response = api.get("/api/coe-metrics/", {"since": (today - timedelta(days=6)).isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["decided"] == 2 and body["queue_now"]["waiting"] == 1
    assert {row["gate"] for row in body["time_to_decision"]} == {"Proposed → Pilot", "Pilot → Production"}
    assert len(body["queue_length"]) == 7

    assert api.get("/api/coe-metrics/", {"since": "yesterday"}).status_code == 400
    late = api.get("/api/coe-metrics/", {"until": (today + timedelta(days=3)).isoformat()})
    assert late.status_code == 400 and "future" in str(late.json()["until"])

    api.force_authenticate(support_team.lead)
    assert api.get("/api/coe-metrics/").status_code == 403


def test_events_are_what_is_counted_not_the_current_status(history, today):
    _, request_b, _ = history
    kinds = list(ApprovalEvent.objects.filter(request=request_b).values_list("kind", flat=True))
    assert ApprovalEventChoices.RESUBMITTED in kinds
    result = metrics.coe_metrics(since=date.fromordinal(today.toordinal() - 3), until=today)
    # Four days ago B waited; inside this window B's first wait ended (30 h) and a second began.
    assert result["decided"] == 1
