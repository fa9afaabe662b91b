"""The audit log and history pages, and their exports."""

import csv
import io
import json

import pytest
from django.urls import reverse

from inventory.services.organisation import business_unit_update
from inventory.testing import BusinessUnitFactory, TeamFactory
from portal.choices import AuditActionChoices
from portal.models import AuditEntry

pytestmark = pytest.mark.django_db


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("fixture", ["auditor", "admin_user"])
def test_auditors_and_admins_read_the_log(request, login, fixture):
    BusinessUnitFactory(name="Finance")
    response = login(request.getfixturevalue(fixture)).get(reverse("portal:audit-log"))
    assert response.status_code == 200
    assert b"Finance" in response.content


@pytest.mark.parametrize("fixture", ["team_member", "team_lead", "executive", "reviewer"])
def test_others_may_not_read_the_global_log(request, login, fixture):
    assert login(request.getfixturevalue(fixture)).get(reverse("portal:audit-log")).status_code == 403
    assert login(request.getfixturevalue(fixture)).get("/audit/export.csv").status_code == 403


def test_the_log_filters_in_the_url(login, auditor):
    unit = BusinessUnitFactory(name="Finance")
    business_unit_update(unit=unit, description="Money")
    client = login(auditor)
    page = client.get(reverse("portal:audit-log"), {"action": "update", "model": "inventory.businessunit"})
    entries = list(page.context["page"].object_list)
    assert [e.action for e in entries] == ["update"]
    assert "action=update" in page.context["query"]
    bad = client.get(reverse("portal:audit-log"), {"since": "2026-02-01", "until": "2026-01-01"})
    assert "“Since” must be on or before “until”." in bad.content.decode()


def test_csv_export_neutralises_spreadsheet_formulas_and_is_recorded(login, auditor):
    BusinessUnitFactory(name='=HYPERLINK("http://evil.example","click")', slug="evil")
    BusinessUnitFactory(name="+SUM(A1:A9)", slug="plus")
    response = login(auditor).get("/audit/export.csv", {"model": "inventory.businessunit"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(streamed(response).lstrip("\ufeff"))))
    objects = {row["object"] for row in rows}
    assert '\'=HYPERLINK("http://evil.example","click")' in objects
    assert "'+SUM(A1:A9)" in objects
    assert all(not row["object"].startswith(("=", "+", "-", "@")) for row in rows)
    export = AuditEntry.objects.get(action=AuditActionChoices.EXPORT)
    assert export.actor == auditor
    assert export.extra == {"filters": {"model": "inventory.businessunit"}, "rows": 2}


def test_json_export_has_what_offline_verification_needs(login, auditor):
    BusinessUnitFactory(name="Finance")
    records = json.loads(streamed(login(auditor).get("/audit/export.json")))["entries"]
    assert {"prev_hash", "entry_hash", "actor_id", "content_type_id", "changes", "time"} <= set(records[0])
    assert records == sorted(records, key=lambda r: r["id"])


def test_object_history_for_anyone_who_sees_the_object(login, team_member, admin_user):
    team = TeamFactory(name="Support Automation")
    client = login(admin_user)
    client.post(reverse("inventory:team-edit", args=[team.slug]), {
        "name": "Support Automation", "slug": team.slug, "business_unit": team.business_unit.pk,
        "description": "Chatbots", "lead": "", "members": [],
    })  # fmt: skip
    response = login(team_member).get(reverse("portal:history", args=["inventory.team", team.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chatbots" in page and admin_user.username in page and "Web UI" in page


def test_history_of_unknown_or_unaudited_things_is_404(login, team_member):
    client = login(team_member)
    assert client.get(reverse("portal:history", args=["inventory.team", 999])).status_code == 404
    assert client.get(reverse("portal:history", args=["portal.jobrun", 1])).status_code == 404
    assert client.get(reverse("portal:history", args=["nonsense", 1])).status_code == 404


def test_the_log_queries_do_not_grow_with_entries(login, auditor, django_assert_max_num_queries):
    for index in range(30):
        BusinessUnitFactory(name=f"Unit {index}")
    client = login(auditor)
    with django_assert_max_num_queries(10):
        client.get(reverse("portal:audit-log"))


def test_an_auditor_verifies_the_chain_from_the_log(login, auditor, django_capture_on_commit_callbacks):
    BusinessUnitFactory()
    client = login(auditor)
    assert b"Verify now" in client.get(reverse("portal:audit-log")).content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("jobs:start"), {"task": "portal.verify_audit_trail"})
    assert response.status_code == 302
    page = client.get(reverse("portal:audit-log")).content.decode()
    assert "Intact" in page
    # Verification is a read; pruning is not, and stays with administrators.
    assert client.post(reverse("jobs:start"), {"task": "portal.prune_job_runs"}).status_code == 403


def test_json_export_times_carry_microseconds_and_the_rows_count_is_exact(login, auditor):
    from portal.audit import compute_hash

    BusinessUnitFactory(name="Finance")
    records = json.loads(streamed(login(auditor).get("/audit/export.json")))["entries"]
    entry = AuditEntry.objects.get(pk=records[0]["id"])
    assert records[0]["time"] == entry.time.isoformat()
    assert compute_hash(records[0]["prev_hash"], entry) == records[0]["entry_hash"]
    export = AuditEntry.objects.get(action=AuditActionChoices.EXPORT)
    assert export.extra["rows"] == len(records)
