"""Building blocks for the deployment tests: environments, a webhook target played by a local
FakeTarget, a use case with releases, production approvals made directly, and signed callbacks."""

import json
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices
from approvals.models import ApprovalRequest, LifecycleTransition
from approvals.selectors.gates import policy_for
from inventory.models import Environment, Release, UseCase
from inventory.services import catalog as catalog_services
from operations import secrets
from operations.models import DeploymentTarget
from operations.targets.base import signed_headers
from operations.testing import FakeTarget

SECRET = "webhook-signing-secret"


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.PROPYLON_DEPLOY_RETRY_BASE_SECONDS = 0
    settings.PROPYLON_BASE_URL = "http://portal.test"


@pytest.fixture
def environments(db):
    return {
        "staging": Environment.objects.create(slug="staging", name="Staging", kind="staging"),
        "production": Environment.objects.create(slug="production", name="Production", kind="production"),
    }


@pytest.fixture
def fake_target():
    with FakeTarget() as fake:
        yield fake


def make_target(environment, url: str, *, use_case=None, name=None, timeout=2) -> DeploymentTarget:
    return DeploymentTarget.objects.create(
        name=name or f"Webhook {environment.slug}{'-' + use_case.key if use_case else ''}",
        slug=(name or f"webhook-{environment.slug}{'-' + use_case.key.lower() if use_case else ''}").lower(),
        kind="webhook",
        environment=environment,
        use_case=use_case,
        url=url,
        secret_encrypted=secrets.encrypt(SECRET),
        secret_set_at=timezone.now(),
        timeout_seconds=timeout,
    )


def make_release(use_case: UseCase, version: str) -> Release:
    return catalog_services.release_create(
        use_case=use_case, actor=use_case.accountable_owner, version=version, code_ref=f"git:{version}"
    )


def approve_for_production(
    use_case: UseCase, release: Release, *, expires_in=timedelta(days=180)
) -> ApprovalRequest:
    """An approved production gate request for exactly this release (made directly: the gate
    workflow has its own tests)."""
    transition = (
        LifecycleTransition.objects.filter(to_stage__key="production", gate_policies__isnull=False)
        .select_related("from_stage", "to_stage")
        .first()
    )
    now = timezone.now()
    return ApprovalRequest.objects.create(
        use_case=use_case,
        release=release,
        transition=transition,
        from_stage=transition.from_stage,
        to_stage=transition.to_stage,
        policy=policy_for(transition, use_case.risk_tier) or transition.gate_policies.first(),
        status=ApprovalStatusChoices.APPROVED,
        requested_by=use_case.accountable_owner,
        submitted_at=now - timedelta(days=2),
        due_at=now + timedelta(days=3),
        decided_at=now - timedelta(days=1),
        expires_at=now + expires_in if expires_in is not None else None,
    )


@dataclass
class DeploySetup:
    use_case: UseCase
    lead: object
    staging: Environment
    production: Environment
    releases: dict
    fake: FakeTarget


@pytest.fixture
def deploy_setup(support_team, file_use_case, environments, fake_target) -> DeploySetup:
    use_case = file_use_case(support_team, submit=True)
    for environment in environments.values():
        make_target(environment, fake_target.url)
    releases = {version: make_release(use_case, version) for version in ("1.0", "2.0", "3.0")}
    return DeploySetup(
        use_case=use_case,
        lead=support_team.lead,
        staging=environments["staging"],
        production=environments["production"],
        releases=releases,
        fake=fake_target,
    )


def signed_callback(
    client, deployment_id: int, payload: dict, *, secret: str = SECRET, now: float | None = None
):
    body = json.dumps(payload).encode()
    headers = signed_headers(secret, body, now=now if now is not None else time.time())
    return client.post(
        f"/api/deployments/{deployment_id}/callback/",
        data=body,
        content_type="application/json",
        headers=headers,
    )
