"""production-without-approval called directly with an AuditScope, and the demo's audit: the
findings the nightly audit must show on the demo portfolio (issue 12, point 8)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.services import gates
from inventory.choices import EnvironmentKindChoices
from inventory.models import Environment
from operations.choices import DeploymentStatusChoices
from operations.models import Deployment
from tests.approvals.audit_check_helpers import (
    approve_to_production,
    assert_check_queries_do_not_grow,
    observe,
)
from tests.approvals.gate_fixtures import move_to, pinned_release

pytestmark = pytest.mark.django_db

CHECK = "production-without-approval"


@pytest.fixture
def production():
    return Environment.objects.create(
        slug="production", name="Production", kind=EnvironmentKindChoices.PRODUCTION
    )


def deploy(use_case, release, environment):
    """A deployment that succeeded and is current (the deployment services are another helper's)."""
    Deployment.objects.filter(use_case=use_case, environment=environment, is_current=True).update(
        is_current=False
    )
    return Deployment.objects.create(
        use_case=use_case, release=release, environment=environment,
        status=DeploymentStatusChoices.SUCCEEDED, is_current=True,
    )  # fmt: skip


def test_a_production_stage_without_any_approval(support_team, file_use_case):
    unapproved = file_use_case(support_team, submit=True, name="Invoice fraud scoring")
    move_to(unapproved, "production")
    pilot = file_use_case(support_team, submit=True, name="A pilot")
    move_to(pilot, "pilot")

    found = observe(CHECK)
    assert set(found) == {unapproved.key}
    observation = found[unapproved.key]
    assert observation.use_case_id == unapproved.pk and not observation.owned_by_coe
    assert "no approval to production was ever given" in observation.detail
    assert "tab=approvals" in observation.link
    assert observe(CHECK, use_case=pilot) == {}
    assert set(observe(CHECK, use_case=unapproved)) == {unapproved.key}


def test_an_approved_use_case_is_quiet_until_its_approval_is_revoked(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal", stage="pilot")
    approval = approve_to_production(use_case, release, reviewers)
    assert observe(CHECK) == {}

    gates.approval_request_revoke(request=approval, actor=reviewers["carl"], reason="Data leak found.")
    found = observe(CHECK)
    assert set(found) == {use_case.key}
    assert f"{approval.reference}, was revoked" in found[use_case.key].detail


def test_a_current_production_deployment_of_an_uncovered_release(ready_use_case, reviewers, production):
    use_case, release = ready_use_case("minimal", stage="pilot")
    approve_to_production(use_case, release, reviewers)
    deploy(use_case, release, production)
    assert observe(CHECK) == {}

    # A newer release runs that nobody approved: the deployment is the subject, once.
    newer = pinned_release(use_case, "2.0", model_version="2", digest="b" * 64)
    deployment = deploy(use_case, newer, production)
    found = observe(CHECK)
    key = f"{use_case.key}@production:2.0"
    assert set(found) == {key}
    assert found[key].data == {"deployment": deployment.pk, "release": "2.0", "environment": "production"}
    assert "tab=deployments" in found[key].link

    # Rolled back to the approved release: quiet again. Non-production environments never count.
    deploy(use_case, release, production)
    staging = Environment.objects.create(slug="staging", name="Staging", kind=EnvironmentKindChoices.STAGING)
    deploy(use_case, newer, staging)
    assert observe(CHECK) == {}


def test_a_deployment_and_a_stage_without_approval_are_one_subject(support_team, file_use_case, production):
    use_case = file_use_case(support_team, submit=True)
    move_to(use_case, "production")
    deploy(use_case, pinned_release(use_case), production)
    assert set(observe(CHECK)) == {f"{use_case.key}@production:1.0"}


def test_an_approval_past_its_date_covers_nothing(ready_use_case, reviewers, production):
    use_case, release = ready_use_case("minimal", stage="pilot")
    approval = approve_to_production(use_case, release, reviewers)
    deploy(use_case, release, production)
    ApprovalRequest.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    # The running release is uncovered (critical); the lapse itself is approval-expired's.
    assert set(observe(CHECK)) == {f"{use_case.key}@production:1.0"}
    assert set(observe("approval-expired")) == {f"{use_case.key}:{approval.reference}"}


def test_production_without_approval_queries_do_not_grow(support_team, file_use_case, production):
    def unapproved(name, *, deployed):
        use_case = file_use_case(support_team, submit=True, name=name)
        move_to(use_case, "production")
        if deployed:
            deploy(use_case, pinned_release(use_case), production)

    unapproved("First", deployed=True)
    unapproved("Second", deployed=False)
    assert_check_queries_do_not_grow(
        CHECK,
        lambda: [unapproved(f"More {n}", deployed=bool(n % 2)) for n in range(4)],
    )


def test_the_demo_audit_finds_what_the_demo_tells():
    call_command("quickstart", "--no-serve", stdout=StringIO())

    # UC-0009 runs in production and never passed the production gate.
    assert any(key.split("@")[0] == "UC-0009" for key in observe(CHECK))
    # The untagged share of the demo bill (the untagged GPU box and what no rule matches).
    unallocated = observe("unallocated-spend")
    assert len(unallocated) == 1
    (observation,) = unallocated.values()
    assert observation.subject_key.startswith("demo-focus-export-aws:") and observation.owned_by_coe
    # The three doc-search efforts, as pairs (one finding per pair, not per chain).
    duplicates = observe("duplicate-efforts")
    assert {"UC-0004+UC-0005", "UC-0004+UC-0006", "UC-0005+UC-0006"} <= set(duplicates)
    # The pilot whose data scientist left.
    orphaned = observe("orphaned-owner")
    assert set(orphaned) == {"UC-0004"} and orphaned["UC-0004"].owned_by_coe
    # The forecast's approval expires within the warning window; the knowledge assistant is over budget.
    assert any(key.startswith("UC-0008:GR-") for key in observe("approval-expiring"))
    assert "UC-0005:USD" in observe("budget-overrun")
