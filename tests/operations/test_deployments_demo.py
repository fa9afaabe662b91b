"""The demo's deployments (operations/demo.py): every state, a rollback, one current release per
environment, production only with the approved release, releases frozen for real reasons."""

import pytest

from operations.choices import DeploymentStatusChoices as Status
from operations.models import Deployment
from portal.demo import load_demo_portfolio

pytestmark = pytest.mark.django_db


def test_the_demo_shows_deployments_in_every_state_with_a_rollback(client):
    people = load_demo_portfolio()
    load_demo_portfolio()  # loading again adds nothing
    deployments = Deployment.objects.select_related("use_case", "release", "environment", "approval")
    assert {d.status for d in deployments} == {
        Status.SUCCEEDED,
        Status.ROLLED_BACK,
        Status.FAILED,
        Status.RUNNING,
    }
    assert deployments.count() == 6
    production = deployments.get(environment__slug="production")
    assert (production.use_case.key, production.release.version, production.is_current) == (
        "UC-0008",
        "2026.09",
        True,
    )
    assert production.approval is not None and production.approval.is_valid_approval
    rollback = deployments.get(rollback_of__isnull=False)
    assert rollback.rollback_of.status == Status.ROLLED_BACK and rollback.is_current
    for use_case, environment in {(d.use_case_id, d.environment_id) for d in deployments}:
        current = deployments.filter(
            use_case_id=use_case, environment_id=environment, is_current=True
        ).count()
        assert current <= 1
    for deployment in deployments:
        # Frozen by what first used it: a gate request or this deployment, never a made-up reason.
        reason = deployment.release.frozen_reason
        assert reason.startswith(("deployment #", "gate request GR-")), reason
    client.force_login(people["lead"])
    page = client.get("/use-cases/UC-0001/?tab=deployments").content.decode()
    assert "Running" in page and "Failed" in page
    assert client.get(f"/deployments/{rollback.pk}/").status_code == 200
