"""Every role x every action on operations' models, through the UI and the API
(operations/policies.py)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Environment
from inventory.services import catalog as catalog_services
from operations.choices import DeploymentStatusChoices
from operations.models import Deployment, DeploymentEvent, DeploymentTarget, HealthSignal
from operations.services.signals import health_threshold_save
from operations.services.targets import target_create
from portal.permissions import restrict
from portal.testing.permission_matrix import (
    ADMIN_ONLY,
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

# A closed local port: the test event of the admin's cell fails fast, with no network.
UNREACHABLE = "http://127.0.0.1:9"


def make_target(context) -> DeploymentTarget:
    environment = Environment.objects.create(slug=unique("env"), name=unique("Env"), kind="staging")
    return target_create(
        name=unique("Target"), slug=unique("target"), kind="argocd", environment=environment,
        url=UNREACHABLE, options={"application": "fraud-model"}, secret="argo-token", timeout_seconds=1,
    )  # fmt: skip


def target_form(context, obj):
    environment = Environment.objects.create(slug=unique("env"), name=unique("Env"), kind="staging")
    return {"name": unique("MX Target"), "slug": unique("mx-target"), "kind": "argocd", "environment": environment.pk,
            "use_case": "", "url": UNREACHABLE, "options": '{"application": "fraud-model"}', "timeout_seconds": "2",
            "enabled": "on", "secret": "argo-token", "callback_secret": "", "read_token": ""}  # fmt: skip


def target_payload(context, obj):
    environment = Environment.objects.create(slug=unique("env"), name=unique("Env"), kind="staging")
    return {"name": unique("API Target"), "slug": unique("api-target"), "kind": "argocd",
            "environment": environment.slug, "url": UNREACHABLE, "options": {"application": "fraud-model"},
            "secret": "argo-token"}  # fmt: skip


def test_deployment_targets():
    # Admins configure and test targets; the CoE and auditors read how production is reached.
    readers = expect(HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, auditor=ALLOW)
    admins_write = expect(HIDE, admin=ALLOW, coe_lead=DENY, coe_reviewer=DENY, auditor=DENY)
    check_matrix(
        ModelMatrix(
            name="deployment target",
            model="operations.deploymenttarget",
            make_object=make_target,
            ui={
                "view": Endpoint("get", lambda target: f"/deployment-targets/{target.slug}/"),
                "add": Endpoint("post", lambda _: "/deployment-targets/new/", target_form),
                "change": Endpoint(
                    "post",
                    lambda target: f"/deployment-targets/{target.slug}/edit/",
                    lambda c, target: {
                        **target_form(c, target),
                        "name": unique("Renamed"),
                        "slug": target.slug,
                    },
                ),
                "toggle": Endpoint("post", lambda target: f"/deployment-targets/{target.slug}/toggle/"),
                "test": Endpoint("post", lambda target: f"/deployment-targets/{target.slug}/test/"),
                "delete": Endpoint("post", lambda target: f"/deployment-targets/{target.slug}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda target: f"/api/deployment-targets/{target.slug}/"),
                "add": Endpoint("post", lambda _: "/api/deployment-targets/", target_payload),
                "change": Endpoint(
                    "patch",
                    lambda target: f"/api/deployment-targets/{target.slug}/",
                    lambda c, o: {"timeout_seconds": 3},
                ),
                "test": Endpoint("post", lambda target: f"/api/deployment-targets/{target.slug}/test/"),
                "delete": Endpoint("delete", lambda target: f"/api/deployment-targets/{target.slug}/"),
            },
            expected=table(
                view=readers,
                add=ADMIN_ONLY,
                change=admins_write,
                toggle=admins_write,
                test=admins_write,
                delete=admins_write,
            ),
            api_list="/api/deployment-targets/",
            ui_list="/deployment-targets/",
            ui_identity=lambda target: target.name,
        )
    )


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


#
# Health signals and thresholds: they follow their use case; the owning team sets thresholds,
# monitoring posts signals with a signals:ingest token (never a person's session).
#

THRESHOLD_WRITERS = expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW, no_role=HIDE)
# Adding through the API asks the roles first (403), then the use case named in the payload.
THRESHOLD_ADDERS = {**THRESHOLD_WRITERS, "no-role": DENY}


def _environment() -> Environment:
    return Environment.objects.get_or_create(
        slug="production", defaults={"name": "Production", "kind": "production"}
    )[0]


def add_signal(context, *, visibility="normal") -> HealthSignal:
    return HealthSignal.objects.create(
        use_case=file_for_own_team(context, visibility=visibility), environment=_environment(), metric="accuracy",
        value=Decimal("0.9"), observed_at=timezone.now(),
    )  # fmt: skip


def add_threshold(context, *, visibility="normal"):
    return health_threshold_save(
        use_case=file_for_own_team(context, visibility=visibility), metric="accuracy", minimum=Decimal("0.9")
    )


def threshold_form(context, obj):
    return {"metric": "error_rate", "maximum": "0.05", "stale_after_hours": "24"}


def threshold_api(context, obj):
    return {"use_case": file_for_own_team(context).key, "metric": "accuracy", "minimum": "0.9"}


def signal_payload(context, obj):
    return {"use_case": file_for_own_team(context).key, "environment": _environment().slug, "metric": "accuracy",
            "value": 0.9}  # fmt: skip


def test_health_signals():
    check_matrix(
        ModelMatrix(
            name="health signal",
            model="operations.healthsignal",
            make_object=add_signal,
            ui={"view": Endpoint("get", lambda s: f"/use-cases/{s.use_case.key}/?tab=health")},
            api={
                "view": Endpoint("get", lambda s: f"/api/signals/{s.pk}/"),
                # A person's session never posts signals: only a signals:ingest token does.
                "add": Endpoint("post", lambda _: "/api/signals/", signal_payload),
            },
            expected=table(view=ROLE_HOLDERS_SEE, add=expect(DENY)),
            api_list="/api/signals/",
        )
    )


def test_health_thresholds():
    url = "/use-cases/{key}/health/thresholds/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="health threshold",
            model="operations.healththreshold",
            make_object=add_threshold,
            # "add-threshold" posts the new-threshold form of the threshold's use case.
            ui={
                "view": Endpoint("get", lambda t: f"/use-cases/{t.use_case.key}/?tab=health"),
                "add-threshold": Endpoint(
                    "post", lambda t: f"/use-cases/{t.use_case.key}/health/thresholds/new/", threshold_form
                ),
                "change": Endpoint(
                    "post",
                    lambda t: url.format(key=t.use_case.key, pk=t.pk, verb="edit"),
                    lambda c, t: {"metric": "accuracy", "minimum": "0.8", "stale_after_hours": "12"},
                ),
                "delete": Endpoint("post", lambda t: url.format(key=t.use_case.key, pk=t.pk, verb="delete")),
            },
            api={
                "view": Endpoint("get", lambda t: f"/api/health-thresholds/{t.pk}/"),
                "add": Endpoint("post", lambda _: "/api/health-thresholds/", threshold_api),
                "change": Endpoint(
                    "patch", lambda t: f"/api/health-thresholds/{t.pk}/", lambda c, t: {"minimum": "0.5"}
                ),
                "delete": Endpoint("delete", lambda t: f"/api/health-thresholds/{t.pk}/"),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=THRESHOLD_ADDERS,
                change=THRESHOLD_WRITERS,
                delete=THRESHOLD_WRITERS,
                **{"add-threshold": THRESHOLD_WRITERS},
            ),
            api_list="/api/health-thresholds/",
        )
    )


def test_health_of_restricted_use_cases():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    for name, model, make, collection in (
        ("restricted signal", "operations.healthsignal", add_signal, "/api/signals/"),
        ("restricted thresh", "operations.healththreshold", add_threshold, "/api/health-thresholds/"),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                model=model,
                make_object=lambda context, make=make: make(context, visibility="restricted"),
                api={"view": Endpoint("get", lambda obj, collection=collection: f"{collection}{obj.pk}/")},
                expected=table(view=expect(ALLOW, **other_teams_hidden)),
                api_list=collection,
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
