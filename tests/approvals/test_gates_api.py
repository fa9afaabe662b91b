"""The gates API: preflight, submit, decide and the other actions, filters, events, policies,
and the lifecycle's writable endpoints — through the same services as the pages."""

import pytest
from rest_framework.test import APIClient

from approvals.choices import ApprovalStatusChoices
from approvals.models import ApprovalRequest, GatePolicy, LifecycleStage, LifecycleTransition
from portal.models import AuditEntry
from portal.roles import Role

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def ask(use_case, release, to_stage="pilot", **extra):
    return {"use_case": use_case.key, "release": release.pk, "to_stage": to_stage, **extra}


def test_preflight_then_submit(ready_use_case, support_team):
    use_case, release = ready_use_case("limited", stage="pilot", readiness="1.0", met=())
    client = api(support_team.lead)
    response = client.post(
        "/api/approval-requests/preflight/", ask(use_case, release, "production"), format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert [problem["code"] for problem in body["problems"]] == [
        "readiness_below_minimum", "mandatory_check_unmet", "evidence_missing",
    ]  # fmt: skip
    refused = client.post("/api/approval-requests/", ask(use_case, release, "production"), format="json")
    assert refused.status_code == 400
    assert "Readiness is 1.0" in refused.json()["maturity"][0]
    assert not ApprovalRequest.objects.exists()

    ready, ready_release = ready_use_case("minimal", name="Invoice matcher")
    created = client.post(
        "/api/approval-requests/", ask(ready, ready_release, summary="20 agents"), format="json"
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "pending" and data["to_stage"] == "pilot" and data["use_case"] == ready.key
    assert data["quorum"] == {"coe-reviewer": 1}
    assert data["progress"] == [
        {"role": "coe-reviewer", "label": "CoE reviewer", "required": 1, "approved": 0}
    ]
    assert data["snapshot"]["maturity"]["readiness"] == "3.5"
    assert data["release"]["frozen_at"] is not None


def test_bad_ask_names_the_field(ready_use_case, support_team, legal_team, file_use_case):
    use_case, release = ready_use_case("minimal")
    client = api(support_team.lead)
    response = client.post(
        "/api/approval-requests/preflight/", ask(use_case, release, "nowhere"), format="json"
    )
    assert response.status_code == 400 and "nowhere" in response.json()["to_stage"][0]
    response = client.post("/api/approval-requests/preflight/", {**ask(use_case, release), "release": 999999},
                           format="json")  # fmt: skip
    assert response.status_code == 400 and "has no release 999999" in response.json()["release"][0]
    other = file_use_case(legal_team, submit=True, name="Contract summariser")
    response = api(legal_team.lead).post("/api/approval-requests/", ask(use_case, release), format="json")
    assert response.status_code == 403  # another team may see it but not ask for its gate
    hidden = file_use_case(legal_team, submit=True, name="Hidden", visibility="restricted")
    response = client.post("/api/approval-requests/preflight/", {**ask(use_case, release), "use_case": hidden.key},
                           format="json")  # fmt: skip
    assert response.status_code == 400 and "use_case" in response.json()
    assert other.key


def test_decide_with_segregation_of_duties_and_quorum(ready_use_case, support_team, reviewers, make_user):
    use_case, release = ready_use_case("minimal")
    created = (
        api(support_team.lead).post("/api/approval-requests/", ask(use_case, release), format="json").json()
    )
    url = f"/api/approval-requests/{created['id']}/"
    # The requester is a team lead without an approver role: refused by policy (403).
    assert (
        api(support_team.lead).post(url + "decide/", {"decision": "approve"}, format="json").status_code
        == 403
    )
    # An approver who is in the owning team is refused by segregation of duties, with the reason.
    insider = make_user("ines", Role.COE_REVIEWER)
    support_team.members.add(insider)
    response = api(insider).post(url + "decide/", {"decision": "approve"}, format="json")
    assert response.status_code == 400
    assert "You are a member of Support Automation" in response.json()["non_field_errors"][0]
    response = api(reviewers["ravi"]).post(url + "decide/", {"decision": "reject"}, format="json")
    assert response.status_code == 400 and "comment" in response.json()
    response = api(reviewers["ravi"]).post(
        url + "decide/", {"decision": "approve", "comment": "ok"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    assert response.json()["decisions"][0]["decided_by"]["username"] == "ravi"
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "pilot"
    events = api(support_team.lead).get(url + "events/").json()
    assert [event["kind"] for event in events] == ["submitted", "decided", "approved", "stage_changed"]
    listed = api(reviewers["carl"]).get("/api/approval-events/", {"request": created["id"]}).json()
    assert listed["count"] == 4
    assert AuditEntry.objects.filter(action="decision", object_id=str(created["id"])).count() >= 4


def test_comment_withdraw_revoke_recertify(ready_use_case, support_team, reviewers):
    use_case, release = ready_use_case("minimal")
    lead = api(support_team.lead)
    created = lead.post("/api/approval-requests/", ask(use_case, release), format="json").json()
    url = f"/api/approval-requests/{created['id']}/"
    first = api(reviewers["ravi"]).post(url + "comment/", {"body": "Who are the users?"}, format="json")
    assert first.status_code == 201
    reply = lead.post(url + "comment/", {"body": "20 agents.", "parent": first.json()["id"]}, format="json")
    assert reply.status_code == 201 and reply.json()["parent"] == first.json()["id"]
    assert lead.post(url + "comment/", {"body": "x", "parent": 999999}, format="json").status_code == 400
    api(reviewers["ravi"]).post(url + "decide/", {"decision": "approve"}, format="json")
    # Only the CoE lead revokes, and only with a reason.
    assert api(reviewers["ravi"]).post(url + "revoke/", {"reason": "x"}, format="json").status_code == 403
    response = api(reviewers["carl"]).post(url + "revoke/", {"reason": ""}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = api(reviewers["carl"]).post(url + "revoke/", {"reason": "Leak found."}, format="json")
    assert response.json()["status"] == "revoked" and response.json()["is_valid_approval"] is False
    response = lead.post(url + "recertify/", {}, format="json")
    assert response.status_code == 400 and "only an approved or expired request" in str(response.json())

    other, other_release = ready_use_case("minimal", name="Invoice matcher", stage="pilot")
    LifecycleTransition.objects.get(from_stage__key="pilot", to_stage__key="production")
    second = lead.post(
        "/api/approval-requests/", ask(other, other_release, "production"), format="json"
    ).json()
    response = lead.post(
        f"/api/approval-requests/{second['id']}/withdraw/", {"reason": "Not yet."}, format="json"
    )
    assert response.json()["status"] == "withdrawn"


def test_recertify_through_the_api(ready_use_case, support_team, reviewers):
    use_case, release = ready_use_case("minimal")
    lead = api(support_team.lead)
    created = lead.post("/api/approval-requests/", ask(use_case, release), format="json").json()
    api(reviewers["ravi"]).post(f"/api/approval-requests/{created['id']}/decide/", {"decision": "approve"},
                                format="json")  # fmt: skip
    response = lead.post(
        f"/api/approval-requests/{created['id']}/recertify/", {"summary": "Yearly."}, format="json"
    )
    assert response.status_code == 201, response.content
    renewal = response.json()
    assert renewal["recertifies"] == created["id"] and renewal["status"] == "pending"
    assert renewal["release"]["id"] == release.pk and renewal["to_stage"] == "pilot"


def test_filters_waiting_on_me_and_overdue(ready_use_case, support_team, reviewers):
    from datetime import timedelta

    from django.utils import timezone

    use_case, release = ready_use_case("minimal")
    created = (
        api(support_team.lead).post("/api/approval-requests/", ask(use_case, release), format="json").json()
    )
    mine = api(reviewers["ravi"]).get("/api/approval-requests/", {"waiting_on_me": "true"}).json()
    assert [row["id"] for row in mine["results"]] == [created["id"]]
    assert (
        api(reviewers["sam"]).get("/api/approval-requests/", {"waiting_on_me": "true"}).json()["count"] == 0
    )
    assert (
        api(support_team.lead).get("/api/approval-requests/", {"waiting_on_me": "true"}).json()["count"] == 0
    )
    assert api(reviewers["ravi"]).get("/api/approval-requests/", {"overdue": "true"}).json()["count"] == 0
    ApprovalRequest.objects.filter(pk=created["id"]).update(due_at=timezone.now() - timedelta(hours=1))
    overdue = api(reviewers["ravi"]).get("/api/approval-requests/", {"overdue": "true"}).json()
    assert overdue["count"] == 1 and overdue["results"][0]["is_overdue"] is True
    assert api(reviewers["ravi"]).get("/api/approval-requests/", {"status": "approved"}).json()["count"] == 0
    by_key = api(reviewers["ravi"]).get("/api/approval-requests/", {"use_case": use_case.key}).json()
    assert by_key["count"] == 1


def test_gate_policies_api(reviewers, support_team):
    transition = LifecycleTransition.objects.get(from_stage__key="pilot", to_stage__key="production")
    lead = api(reviewers["carl"])
    listed = (
        api(support_team.lead).get("/api/gate-policies/", {"transition__to_stage__key": "production"}).json()
    )
    high = next(row for row in listed["results"] if row["risk_tier"] == "high")
    assert high["requirements"] == {"coe-reviewer": 2, "legal-reviewer": 1, "security-reviewer": 1}
    assert high["min_readiness"] == "3.0"
    payload = {"transition": transition.pk, "risk_tier": "unassessed", "min_readiness": "1.0",
               "mandatory_checks": ["nope.nope"], "requirements": {"coe-reviewer": 1}}  # fmt: skip
    response = lead.post("/api/gate-policies/", payload, format="json")
    assert response.status_code == 400 and "nope.nope" in response.json()["mandatory_checks"][0]
    response = lead.post("/api/gate-policies/", {**payload, "requirements": {"cto": 1}}, format="json")
    assert response.status_code == 400 and "Not an approver role: cto" in str(response.json())
    response = lead.post("/api/gate-policies/", {**payload, "mandatory_checks": ["documentation.runbook_linked"]},
                         format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["requirements"] == {"coe-reviewer": 1}
    response = lead.patch(f"/api/gate-policies/{created['id']}/", {"requirements": {"coe-reviewer": 0,
                          "legal-reviewer": 2}, "validity_days": 90}, format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["requirements"] == {"legal-reviewer": 2} and response.json()["validity_days"] == 90
    assert api(support_team.lead).patch(f"/api/gate-policies/{created['id']}/", {"validity_days": 1},
                                        format="json").status_code == 403  # fmt: skip
    assert lead.delete(f"/api/gate-policies/{created['id']}/").status_code == 204
    assert not GatePolicy.objects.filter(pk=created["id"]).exists()


def test_lifecycle_api_keeps_keys_stable_and_stages_in_use(reviewers, support_team, file_use_case):
    lead = api(reviewers["carl"])
    response = lead.post("/api/lifecycle-stages/", {"key": "review", "label": "Review", "kind": "active",
                                                     "order": 25, "colour": "teal"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    response = lead.patch("/api/lifecycle-stages/review/", {"key": "renamed"}, format="json")
    assert response.status_code == 400 and "stable" in response.json()["key"][0]
    response = lead.post("/api/lifecycle-stages/", {"key": "Bad Key", "label": "X", "kind": "active", "order": 1},
                         format="json")  # fmt: skip
    assert response.status_code == 400 and "key" in response.json()
    response = lead.post("/api/lifecycle-transitions/", {"from_stage": "pilot", "to_stage": "review",
                                                          "requires_gate": True}, format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    duplicate = lead.post(
        "/api/lifecycle-transitions/", {"from_stage": "pilot", "to_stage": "review"}, format="json"
    )
    assert duplicate.status_code == 400 and "already exists" in duplicate.json()["to_stage"][0]
    file_use_case(support_team, submit=True)
    response = lead.delete("/api/lifecycle-stages/proposed/")
    assert response.status_code == 400 and "cannot be deleted" in str(response.json())
    assert lead.delete("/api/lifecycle-stages/review/").status_code == 204
    assert not LifecycleStage.objects.filter(key="review").exists()
    assert api(support_team.lead).post("/api/lifecycle-stages/", {"key": "x1", "label": "X", "kind": "active",
                                                                   "order": 1}, format="json").status_code == 403  # fmt: skip
    gated = LifecycleTransition.objects.get(from_stage__key="pilot", to_stage__key="production")
    response = lead.patch(f"/api/lifecycle-transitions/{gated.pk}/", {"requires_gate": False}, format="json")
    assert response.status_code == 400 and "gate policies" in response.json()["requires_gate"][0]


def test_notifications_api_shows_only_mine(ready_use_case, support_team, reviewers, django_capture_on_commit_callbacks,
                                           mailoutbox):  # fmt: skip
    use_case, release = ready_use_case("minimal")
    with django_capture_on_commit_callbacks(execute=True):
        api(support_team.lead).post("/api/approval-requests/", ask(use_case, release), format="json")
    mine = api(reviewers["ravi"]).get("/api/notifications/").json()
    assert mine["count"] == 1 and mine["results"][0]["sent_at"] is not None
    assert api(support_team.lead).get("/api/notifications/").json()["count"] == 0
    assert ApprovalStatusChoices.PENDING
