"""The audit API: /api/audit-runs/ (list, filters, retrieve, start → 202) and /api/audit-checks/."""

import pytest
from rest_framework.test import APIClient

from approvals.models import AuditRun
from approvals.services import audits
from portal.choices import ChannelChoices
from portal.testing.queries import assert_queries_do_not_grow
from tests.approvals.audit_fixtures import about

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def finished_run(use_case=None):
    run = audits.audit_run_create(actor=None, use_case=use_case, channel=ChannelChoices.COMMAND)
    return audits.audit_run_execute(run)


@pytest.fixture
def chatbot(support_team, file_use_case):
    return file_use_case(support_team, name="Support chatbot")


def test_starting_a_run_answers_202_with_the_run_and_its_job(
    audit_checks, chatbot, reviewer, django_capture_on_commit_callbacks
):
    audit_checks.owner.report(about(chatbot))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(reviewer).post("/api/audit-runs/", {"use_case": None}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    run = AuditRun.objects.get(pk=body["id"])
    assert body["use_case"] is None and body["job"] == run.job_run_id and body["channel"] == "api"
    assert body["status"] == "queued"  # as it stood when answered; the job ran on commit

    done = api(reviewer).get(f"/api/audit-runs/{run.pk}/").json()
    assert done["status"] == "succeeded" and done["counts"]["opened"] == 1
    assert done["counts"]["per_check"]["test-owner"] == {"observed": 1, "opened": 1, "cleared": 0}


def test_a_team_starts_the_run_of_its_use_case_only(audit_checks, chatbot, legal_team, file_use_case):
    contracts = file_use_case(
        legal_team, name="Contract review", purpose="Reads contracts and flags clauses."
    )
    lead = api(chatbot.owning_team.lead)
    assert lead.post("/api/audit-runs/", {"use_case": chatbot.key.lower()}, format="json").status_code == 202
    refused = lead.post("/api/audit-runs/", {"use_case": contracts.key}, format="json")
    assert refused.status_code == 403 and contracts.key in refused.json()["detail"]
    assert lead.post("/api/audit-runs/", {}, format="json").status_code == 403
    assert lead.post("/api/audit-runs/", {"use_case": "UC-9999"}, format="json").status_code == 400


def test_lists_filter_and_hide_what_the_caller_may_not_read(audit_checks, chatbot, reviewer, executive):
    portfolio, scoped = finished_run(), finished_run(chatbot)

    def ids(client, query=""):
        return [row["id"] for row in client.get(f"/api/audit-runs/{query}").json()["results"]]

    assert ids(api(executive)) == [scoped.pk, portfolio.pk]
    assert ids(api(executive), f"?use_case={chatbot.key}") == [scoped.pk]
    assert ids(api(executive), "?portfolio=true") == [portfolio.pk]
    assert ids(api(executive), "?status=failed") == []
    member = api(chatbot.owning_team.lead)
    assert ids(member) == [scoped.pk]
    assert member.get(f"/api/audit-runs/{portfolio.pk}/").status_code == 404


def test_the_checks_catalogue(audit_checks, team_member):
    rows = api(team_member).get("/api/audit-checks/").json()
    assert [row["id"] for row in rows] == ["test-owner", "test-signal", "test-spend"]
    assert rows[0] == {
        "id": "test-owner",
        "title": "Test: the owner is gone",
        "severity": "high",
        "description": "A test check about owners.",
        "controls": ["ownership.accountable_owner"],
        "per_use_case": True,
    }


def test_the_list_does_not_grow_its_queries(audit_checks, chatbot, reviewer):
    finished_run(), finished_run(chatbot)
    client = APIClient()
    client.force_authenticate(reviewer)
    assert_queries_do_not_grow(client, "/api/audit-runs/", lambda: [finished_run(chatbot) for _ in range(4)])
