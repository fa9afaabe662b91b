"""Every role x every action on the plumbing (jobs, API tokens, the audit trail, people), through the UI and the API
(portal/policies.py)."""

import pytest

from portal import audit
from portal.choices import AuditActionChoices, JobStatusChoices
from portal.services import api_token_create
from portal.testing.factories import JobRunFactory, UserFactory
from portal.testing.permission_matrix import (
    ADMIN_ONLY,
    ALLOW,
    DENY,
    EVERYONE,
    HIDE,
    Endpoint,
    ModelMatrix,
    expect,
    table,
    unique,
)
from tests.inventory.matrix_fixtures import check_matrix

pytestmark = pytest.mark.django_db


def test_job_runs():
    started_by_member = expect(
        HIDE,
        admin=ALLOW,
        coe_lead=ALLOW,
        coe_reviewer=ALLOW,
        executive=ALLOW,
        auditor=ALLOW,
        team_member=ALLOW,
    )
    check_matrix(
        ModelMatrix(
            name="job run",
            model="portal.jobrun",
            make_object=lambda context: JobRunFactory(
                actor=context.users["team-member"], status=JobStatusChoices.RUNNING, label=unique("Job")
            ),
            ui={
                "view": Endpoint("get", lambda run: f"/jobs/{run.pk}/"),
                "custom:cancel": Endpoint("post", lambda run: f"/jobs/{run.pk}/cancel/"),
            },
            api={
                "view": Endpoint("get", lambda run: f"/api/jobs/{run.pk}/"),
                "custom:cancel": Endpoint("post", lambda run: f"/api/jobs/{run.pk}/cancel/"),
            },
            # Whoever started a job may cancel it, and admins; readers see it but may not.
            expected=table(
                view=started_by_member,
                **{
                    "custom:cancel": expect(
                        HIDE,
                        admin=ALLOW,
                        team_member=ALLOW,
                        coe_lead=DENY,
                        coe_reviewer=DENY,
                        executive=DENY,
                        auditor=DENY,
                    )
                },
            ),
            ui_list="/jobs/",
            api_list="/api/jobs/",
            ui_identity=lambda run: run.label,
        )
    )


def test_api_tokens():
    owner_and_admin = expect(HIDE, admin=ALLOW, team_member=ALLOW)
    check_matrix(
        ModelMatrix(
            name="api token",
            model="portal.apitoken",
            make_object=lambda context: api_token_create(
                user=context.users["team-member"], name=unique("token"), scopes=["read"]
            )[0],
            ui={"custom:revoke": Endpoint("post", lambda token: f"/account/tokens/{token.pk}/revoke/")},
            api={
                "view": Endpoint("get", lambda token: f"/api/tokens/{token.pk}/"),
                "add": Endpoint(
                    "post", lambda _: "/api/tokens/", lambda c, o: {"name": unique("t"), "scopes": ["read"]}
                ),
                "delete": Endpoint("delete", lambda token: f"/api/tokens/{token.pk}/"),
            },
            # Everyone manages their own tokens (auditors: read-only ones); admins manage all.
            expected=table(
                view=owner_and_admin,
                add=EVERYONE,
                delete=owner_and_admin,
                **{"custom:revoke": owner_and_admin},
            ),
            api_list="/api/tokens/",
        )
    )


def test_audit_entries():
    readers = expect(DENY, admin=ALLOW, auditor=ALLOW)
    check_matrix(
        ModelMatrix(
            name="audit entry",
            model="portal.auditentry",
            make_object=lambda context: audit.record(AuditActionChoices.EXPORT, message=unique("Exported")),
            api={"view": Endpoint("get", lambda entry: f"/api/audit/{entry.pk}/")},
            expected=table(view=readers),
            ui_list="/audit/",
            api_list="/api/audit/",
            ui_identity=lambda entry: entry.message,
        )
    )


def test_people():
    check_matrix(
        ModelMatrix(
            name="person",
            model="portal.user",
            make_object=lambda context: UserFactory(username=unique("person")),
            ui={"admin-site": Endpoint("get", lambda person: f"/admin/portal/user/{person.pk}/change/")},
            api={"view": Endpoint("get", lambda person: f"/api/people/{person.username}/")},
            expected=table(view=EVERYONE, **{"admin-site": ADMIN_ONLY}),
            api_list="/api/people/",
            api_identity=lambda person: person.username,
        )
    )
