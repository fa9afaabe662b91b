"""Every role x every action on operations (deployments and their events), through the UI and the
API (operations/policies.py)."""

import pytest

from inventory.models import Environment
from inventory.services import catalog as catalog_services
from operations.choices import DeploymentStatusChoices
from operations.models import Deployment, DeploymentEvent, DeploymentTarget
from portal.permissions import restrict
from portal.testing.permission_matrix import (
    ALLOW,
    DENY,
    HIDE,
    Endpoint,
    ModelMatrix,
    covers,
    expect,
    table,
    unique,
)
from tests.inventory.matrix_fixtures import ROLE_HOLDERS_SEE, build_context, check_matrix, file_for_own_team

pytestmark = pytest.mark.django_db

# The owning team (lead and member) and admins deploy and roll back; whoever sees the use case
# is refused (403); the role-less do not see it (404).
DEPLOYERS = expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW, no_role=HIDE)
# Adding is refused before anything is looked up: 403 for everyone but the owning team and admins.
DEPLOY_ADDERS = expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW)


def _environment_with_target() -> Environment:
    environment = Environment.objects.create(slug=unique("env"), name=unique("Environment"), kind="staging")
    DeploymentTarget.objects.create(
        name=unique("Target"),
        slug=unique("target"),
        kind="webhook",
        environment=environment,
        url="http://127.0.0.1:9/",
    )
    return environment


def _deployment(context) -> Deployment:
    use_case = file_for_own_team(context, submit=True)
    release = catalog_services.release_create(
        use_case=use_case, actor=context.users["team-lead"], version=unique("v"), code_ref="git:abc"
    )
    environment = _environment_with_target()
    return Deployment.objects.create(
        use_case=use_case,
        release=release,
        environment=environment,
        target=environment.deployment_targets.get(),
        status=DeploymentStatusChoices.SUCCEEDED,
        is_current=True,
    )


def _deploy_payload(context, _obj) -> dict:
    use_case = file_for_own_team(context, submit=True)
    release = catalog_services.release_create(
        use_case=use_case, actor=context.users["team-lead"], version=unique("v"), code_ref="git:abc"
    )
    return {
        "use_case": use_case.key,
        "release": release.version,
        "environment": _environment_with_target().slug,
    }


def test_deployments():
    check_matrix(
        ModelMatrix(
            name="deployment",
            model="operations.deployment",
            make_object=_deployment,
            ui={
                "view": Endpoint("get", lambda deployment: f"/deployments/{deployment.pk}/"),
                "status": Endpoint("get", lambda deployment: f"/deployments/{deployment.pk}/status/"),
                "rollback": Endpoint("post", lambda deployment: f"/deployments/{deployment.pk}/rollback/"),
            },
            api={
                "view": Endpoint("get", lambda deployment: f"/api/deployments/{deployment.pk}/"),
                "add": Endpoint("post", lambda _obj: "/api/deployments/", data=_deploy_payload),
                "api-rollback": Endpoint(
                    "post", lambda deployment: f"/api/deployments/{deployment.pk}/rollback/"
                ),
            },
            ui_list="/deployments/",
            api_list="/api/deployments/",
            ui_identity=lambda deployment: f"/deployments/{deployment.pk}/",
            expected=table(
                view=ROLE_HOLDERS_SEE,
                status=ROLE_HOLDERS_SEE,
                rollback=DEPLOYERS,
                # The service refuses (nothing ran before): a 400 with its reason, after the permission.
                **{
                    "api-rollback": expect(
                        "status 400",
                        coe_lead=DENY,
                        coe_reviewer=DENY,
                        executive=DENY,
                        auditor=DENY,
                        other_team_lead=DENY,
                        other_team_member=DENY,
                        no_role=HIDE,
                    )
                },
                add=DEPLOY_ADDERS,
            ),
        )
    )


@covers("operations.deploymentevent")
def test_deployment_events_are_read_with_their_deployment_and_written_by_nobody():
    context = build_context()
    deployment = _deployment(context)
    DeploymentEvent.objects.create(deployment=deployment, kind="requested", status="queued")
    for persona, user in context.users.items():
        visible = restrict(DeploymentEvent.objects.filter(deployment=deployment), user).exists()
        assert visible == (persona != "no-role"), persona
        for action in ("add", "change", "delete"):
            assert not restrict(DeploymentEvent.objects.all(), user, action).exists(), (persona, action)
