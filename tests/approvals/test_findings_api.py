"""The findings API: the list with the page's filters and pagination, one finding with its
check and history, the actions through the same services as the pages (400 with the message on
a refused move, 404 when not visible, 403 when not allowed), and the schema."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.choices import FindingStatusChoices
from portal.choices import SeverityChoices
from portal.testing.queries import assert_queries_do_not_grow
from tests.approvals.finding_fixtures import make_finding

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def use_case(support_team, file_use_case):
    return file_use_case(support_team)


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_list_shows_live_findings_and_filters_like_the_page(support_team, use_case, reviewer, legal_team,
                                                                file_use_case):  # fmt: skip
    other = file_use_case(legal_team, name="Contract reader")
    live = make_finding(use_case)
    resolved = make_finding(use_case, status=FindingStatusChoices.RESOLVED)
    critical = make_finding(other, severity=SeverityChoices.CRITICAL, check_id="stale-assessment")
    overdue = make_finding(use_case, due_in_days=-1)
    coe = make_finding(None, check_id="unallocated-spend")
    client = api(reviewer)
    assert _ids(client.get("/api/findings/")) == {live.pk, critical.pk, overdue.pk, coe.pk}
    assert _ids(client.get("/api/findings/", {"status": "all"})) == {live.pk, resolved.pk, critical.pk, overdue.pk,
                                                                   coe.pk}  # fmt: skip
    assert _ids(client.get("/api/findings/", {"status": "resolved"})) == {resolved.pk}
    assert _ids(client.get("/api/findings/", {"severity": "critical"})) == {critical.pk}
    assert _ids(client.get("/api/findings/", {"check_id": "stale-assessment"})) == {critical.pk}
    assert _ids(client.get("/api/findings/", {"use_case": other.key})) == {critical.pk}
    assert _ids(client.get("/api/findings/", {"overdue": "true"})) == {overdue.pk}
    assert _ids(client.get("/api/findings/", {"owner": "coe"})) == {coe.pk}
    assert _ids(api(support_team.lead).get("/api/findings/", {"owner": "me"})) == {live.pk, overdue.pk}
    first = client.get("/api/findings/", {"page_size": 2})
    assert first.json()["count"] == 4 and len(first.json()["results"]) == 2 and first.json()["next"]
    # Most severe first.
    assert client.get("/api/findings/").json()["results"][0]["id"] == critical.pk
    bad = client.get("/api/findings/", {"status": "sleeping"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_one_finding_carries_its_check_owner_and_overdue_flag(support_team, use_case):
    finding = make_finding(use_case, due_in_days=-1)
    body = api(support_team.lead).get(f"/api/findings/{finding.pk}/").json()
    assert body["use_case"] == use_case.key and body["owner"]["username"] == support_team.lead.username
    assert body["is_overdue"] is True and body["is_live"] is True
    assert body["status"] == "open" and body["url"] == f"/findings/{finding.pk}/"


def test_actions_call_the_services_and_refusals_are_400_with_the_message(support_team, use_case, reviewer):
    finding = make_finding(use_case)
    lead = api(support_team.lead)
    url = f"/api/findings/{finding.pk}/"
    acknowledged = lead.post(url + "acknowledge/", {"comment": "On it"}, format="json")
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    again = lead.post(url + "acknowledge/", {}, format="json")
    assert again.status_code == 400
    assert "cannot become acknowledged" in again.json()["non_field_errors"][0]
    blank = lead.post(url + "resolve/", {"comment": ""}, format="json")
    assert blank.status_code == 400 and blank.json()["comment"] == ["Say what was done to resolve it."]
    # The owner may not accept their own risk: the policy refuses before the service is asked.
    until = (timezone.now() + timedelta(days=30)).isoformat()
    assert (
        lead.post(url + "accept-risk/", {"reason": "Fine", "until": until}, format="json").status_code == 403
    )
    coe = api(reviewer)
    too_far = (timezone.now() + timedelta(days=400)).isoformat()
    far = coe.post(url + "accept-risk/", {"reason": "Fine", "until": too_far}, format="json")
    assert far.status_code == 400 and "at most 365 days" in far.json()["until"][0]
    accepted = coe.post(url + "accept-risk/", {"reason": "Vendor fix", "until": until}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "risk_accepted"
    assert accepted.json()["risk_accepted_by"]["username"] == reviewer.username
    note = lead.post(url + "comment/", {"body": "Vendor confirmed"}, format="json")
    assert note.status_code == 201 and note.json()["kind"] == "commented"
    events = lead.get(url + "events/").json()
    assert [event["kind"] for event in events] == ["acknowledged", "risk_accepted", "commented"]
    resolved = lead.post(url + "resolve/", {"comment": "Patched"}, format="json")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"


def test_invisible_findings_are_404_and_readers_are_403(legal_team, use_case, auditor, make_user):
    finding = make_finding(None, check_id="unallocated-spend")
    outsider = api(legal_team.lead)
    assert outsider.get(f"/api/findings/{finding.pk}/").status_code == 404
    assert outsider.post(f"/api/findings/{finding.pk}/acknowledge/", {}, format="json").status_code == 404
    reader = api(auditor)
    assert reader.get(f"/api/findings/{finding.pk}/").status_code == 200
    assert reader.post(f"/api/findings/{finding.pk}/acknowledge/", {}, format="json").status_code == 403


def test_the_list_makes_as_many_queries_with_many_findings(reviewer, use_case):
    make_finding(use_case)
    client = APIClient()
    client.force_login(reviewer)

    def grow():
        for index in range(10):
            make_finding(use_case, severity=SeverityChoices.values()[index % 4])
            make_finding(None, check_id="unallocated-spend")

    assert_queries_do_not_grow(client, ["/api/findings/", "/api/findings/?status=all&sort=due"], grow)


def test_the_schema_names_the_findings_endpoints(team_member):
    schema = api(team_member).get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/findings/", "/api/findings/{id}/", "/api/findings/{id}/acknowledge/",
                 "/api/findings/{id}/resolve/", "/api/findings/{id}/accept-risk/", "/api/findings/{id}/comment/",
                 "/api/findings/{id}/events/"):  # fmt: skip
        assert path in schema["paths"], path
    parameters = {parameter["name"] for parameter in schema["paths"]["/api/findings/"]["get"]["parameters"]}
    assert {"status", "severity", "check_id", "use_case", "owner", "overdue", "page"} <= parameters
