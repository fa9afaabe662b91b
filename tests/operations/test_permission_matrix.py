"""Every role x every action on operations' models, through the UI and the API
(operations/policies.py)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Environment
from operations.models import HealthSignal
from operations.services.signals import health_threshold_save
from portal.testing.permission_matrix import ALLOW, DENY, HIDE, Endpoint, ModelMatrix, expect, table
from tests.inventory.matrix_fixtures import ROLE_HOLDERS_SEE, check_matrix, file_for_own_team

pytestmark = pytest.mark.django_db


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
