"""Findings in a real browser: the filter bar narrows the list in place (htmx, no inline
script), and the owner acknowledges a finding from its page."""

import pytest

from approvals.choices import FindingStatusChoices
from approvals.models import Finding
from inventory.choices import AIKindChoices, DataSensitivityChoices
from inventory.services import usecases as usecase_services
from inventory.testing import TeamFactory
from portal.choices import SeverityChoices
from portal.roles import Role
from portal.testing.factories import UserFactory
from tests.approvals.finding_fixtures import make_finding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "correct-horse-battery"


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def test_an_owner_filters_their_findings_and_acknowledges_one(page):
    lead = UserFactory(username="lena", first_name="Lena", roles=[Role.TEAM_LEAD, Role.TEAM_MEMBER])
    team = TeamFactory(name="Support Automation", slug="support-automation", lead=lead)
    use_case = usecase_services.usecase_create(
        actor=lead, owning_team=team, accountable_owner=lead, name="Support chatbot",
        purpose="Answers customers' questions about orders.", ai_kind=AIKindChoices.GENERATIVE,
        data_sensitivity=DataSensitivityChoices.PII,
    )  # fmt: skip
    critical = make_finding(
        use_case, severity=SeverityChoices.CRITICAL, title="In production without approval"
    )
    make_finding(use_case, severity=SeverityChoices.LOW, title="Stale maturity assessment", due_in_days=-1)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, "lena")
    page.get_by_role("link", name="Findings you own").click()
    page.wait_for_url("**/findings/?owner=me")
    assert page.get_by_role("link", name="Stale maturity assessment").is_visible()
    page.get_by_label("Severity", exact=True).select_option("critical")
    page.wait_for_url("**severity=critical**")
    page.get_by_role("link", name="Stale maturity assessment").wait_for(state="detached")
    page.get_by_role("link", name="In production without approval").click()
    assert page.get_by_role("heading", level=1).inner_text() == "In production without approval"
    page.get_by_label("Comment").first.fill("Asking for the production gate today")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("Finding acknowledged.").wait_for()
    assert Finding.objects.get(pk=critical.pk).status == FindingStatusChoices.ACKNOWLEDGED
    assert errors == []
