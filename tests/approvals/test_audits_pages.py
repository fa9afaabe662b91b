"""Audit pages: the runs list, a run, "Run audit now" for the portfolio and for one use case."""

import pytest
from django.urls import reverse

from approvals.models import AuditRun, Finding
from approvals.services import audits
from portal.choices import ChannelChoices, JobStatusChoices
from portal.roles import Role
from portal.testing.queries import assert_queries_do_not_grow
from tests.approvals.audit_fixtures import about

pytestmark = pytest.mark.django_db


@pytest.fixture
def chatbot(support_team, file_use_case):
    return file_use_case(support_team, name="Support chatbot")


@pytest.fixture
def contracts(legal_team, file_use_case):
    return file_use_case(
        legal_team, name="Contract review", purpose="Reads contracts and flags risky clauses."
    )


def finished_run(use_case=None):
    run = audits.audit_run_create(actor=None, use_case=use_case, channel=ChannelChoices.COMMAND)
    return audits.audit_run_execute(run)


def test_the_coe_sees_every_run_and_runs_the_portfolio_now(
    audit_checks, chatbot, contracts, login, reviewer, django_capture_on_commit_callbacks
):
    audit_checks.owner.report(about(chatbot), about(contracts))
    portfolio, scoped = finished_run(), finished_run(contracts)
    client = login(reviewer)

    page = client.get(reverse("approvals:audit-run-list"))
    html = page.content.decode()
    assert page.status_code == 200 and "<title>Audits" in html
    assert f"Audit #{portfolio.pk}" in html and f"Audit #{scoped.pk}" in html
    assert "Run audit now" in html
    assert [item.label for item in page.context["nav_items"]].count("Audits") == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("approvals:audit-run-now"))
    run = AuditRun.objects.first()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert (run.requested_by, run.use_case, run.status) == (reviewer, None, JobStatusChoices.SUCCEEDED)

    detail = client.get(run.get_absolute_url()).content.decode()
    assert (
        "<title>Audit #" in detail
        and "Test: the owner is gone" in detail
        and "ownership.accountable_owner" in detail
    )
    assert reverse("jobs:detail", args=[run.job_run_id]) in detail


def test_filters(audit_checks, chatbot, contracts, login, reviewer):
    portfolio, scoped = finished_run(), finished_run(contracts)
    client = login(reviewer)

    def rows(query):
        return [run.pk for run in client.get(reverse("approvals:audit-run-list") + query).context["page"]]

    assert rows("?scope=portfolio") == [portfolio.pk]
    assert rows(f"?use_case={contracts.key.lower()}") == [scoped.pk]
    assert rows("?status=failed") == []


def test_a_team_sees_the_runs_of_its_use_cases_and_audits_its_own(
    audit_checks, chatbot, contracts, login, django_capture_on_commit_callbacks
):
    audit_checks.owner.report(about(chatbot), about(contracts))
    portfolio, theirs, others = finished_run(), finished_run(chatbot), finished_run(contracts)
    lead = chatbot.owning_team.lead
    client = login(lead)

    listed = [run.pk for run in client.get(reverse("approvals:audit-run-list")).context["page"]]
    # Runs of use cases they read (normal visibility: every role holder reads them), never the portfolio's.
    assert set(listed) == {theirs.pk, others.pk}
    assert "Run audit now" not in client.get(reverse("approvals:audit-run-list")).content.decode()
    assert client.get(portfolio.get_absolute_url()).status_code == 404

    assert client.post(reverse("approvals:audit-run-now")).status_code == 403
    assert client.post(reverse("approvals:audit-run-now"), {"use_case": contracts.key}).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("approvals:audit-run-now") + f"?use_case={chatbot.key}")
    run = AuditRun.objects.first()
    assert response["Location"] == run.get_absolute_url() and run.use_case == chatbot
    assert Finding.objects.get(use_case=chatbot).last_run == run


def test_the_run_button_include_shows_only_to_who_may_audit(chatbot, rf, make_user):
    from django.template.loader import render_to_string

    def button_for(user):
        request = rf.get("/")
        request.user = user
        return render_to_string("approvals/_audit_run_button.html", {"use_case": chatbot}, request=request)

    assert "Run audit now" in button_for(chatbot.owning_team.lead)
    assert "Run audit now" in button_for(make_user("cora", Role.COE_LEAD))
    assert "Run audit now" not in button_for(make_user("claire", Role.EXECUTIVE))
    assert "Run audit now" not in button_for(make_user("jonas-2", Role.TEAM_LEAD, Role.TEAM_MEMBER))


def test_the_runs_page_does_not_grow_its_queries(audit_checks, chatbot, contracts, login, reviewer):
    finished_run(), finished_run(chatbot)
    client = login(reviewer)
    assert_queries_do_not_grow(
        client,
        [reverse("approvals:audit-run-list"), reverse("approvals:audit-run-list") + "?scope=use-case"],
        lambda: [finished_run(use_case) for use_case in (chatbot, contracts, chatbot, contracts)],
    )
