"""Every role x every action on operations' models, through the UI and the API
(operations/policies.py)."""

import pytest

from inventory.models import Environment
from operations.models import DeploymentTarget
from operations.services.targets import target_create
from portal.testing.permission_matrix import (
    ADMIN_ONLY,
    ALLOW,
    DENY,
    HIDE,
    Endpoint,
    ModelMatrix,
    expect,
    table,
    unique,
)
from tests.inventory.matrix_fixtures import check_matrix

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
