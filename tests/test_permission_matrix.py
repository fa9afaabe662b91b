"""Every role x every model x every action, through the UI and the API (portal.permissions)."""

import itertools

import pytest

from approvals.models import LifecycleStage
from costs.models import CostSource
from portal import audit
from portal.choices import AuditActionChoices, JobStatusChoices
from portal.services import api_token_create
from portal.testing.factories import BusinessUnitFactory, JobRunFactory, TeamFactory, UserFactory
from portal.testing.permission_matrix import (
    ALLOW,
    DENY,
    HIDE,
    Endpoint,
    ModelMatrix,
    check_matrix,
    expect,
    table,
)

pytestmark = pytest.mark.django_db

serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(serial)}"


def business_unit_data(context, obj):
    return {"name": unique("MX Unit"), "slug": unique("mx-unit"), "description": "Changed", "head": ""}


def team_data(context, obj):
    return {
        "name": unique("MX Team"),
        "slug": unique("mx-team"),
        "business_unit": context.own_team.business_unit.pk,
        "description": "Changed",
        "lead": context.users["team-lead"].pk,
        "members": [context.users["team-member"].pk],
    }


def team_api_data(context, obj):
    return {
        "name": unique("MX Team"),
        "slug": unique("mx-team"),
        "business_unit": context.own_team.business_unit.slug,
        "description": "Changed",
        "lead": context.users["team-lead"].username,
        "members": [context.users["team-member"].username],
    }


ADMIN_ONLY = expect(DENY, admin=ALLOW)
EVERYONE = expect(ALLOW)


def test_business_units():
    check_matrix(
        ModelMatrix(
            name="business unit",
            make_object=lambda context: BusinessUnitFactory(name=unique("MX Unit")),
            ui={
                "view": Endpoint("get", lambda unit: f"/business-units/{unit.slug}/"),
                "add": Endpoint("post", lambda _: "/business-units/new/", business_unit_data),
                "change": Endpoint(
                    "post", lambda unit: f"/business-units/{unit.slug}/edit/", business_unit_data
                ),
                "delete": Endpoint("post", lambda unit: f"/business-units/{unit.slug}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda unit: f"/api/business-units/{unit.slug}/"),
                "add": Endpoint("post", lambda _: "/api/business-units/", business_unit_data),
                "change": Endpoint(
                    "patch",
                    lambda unit: f"/api/business-units/{unit.slug}/",
                    lambda c, o: {"description": "x"},
                ),
                "delete": Endpoint("delete", lambda unit: f"/api/business-units/{unit.slug}/"),
            },
            expected=table(view=EVERYONE, add=ADMIN_ONLY, change=ADMIN_ONLY, delete=ADMIN_ONLY),
            ui_list="/business-units/",
            api_list="/api/business-units/",
            api_identity=lambda unit: unit.slug,
        )
    )


def test_teams():
    check_matrix(
        ModelMatrix(
            name="team",
            make_object=lambda context: TeamFactory(
                name=unique("MX Team"),
                lead=context.users["team-lead"],
                members=[context.users["team-member"]],
            ),
            ui={
                "view": Endpoint("get", lambda team: f"/teams/{team.slug}/"),
                "add": Endpoint("post", lambda _: "/teams/new/", team_data),
                "change": Endpoint("post", lambda team: f"/teams/{team.slug}/edit/", team_data),
                "delete": Endpoint("post", lambda team: f"/teams/{team.slug}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda team: f"/api/teams/{team.slug}/"),
                "add": Endpoint("post", lambda _: "/api/teams/", team_api_data),
                "change": Endpoint(
                    "patch", lambda team: f"/api/teams/{team.slug}/", lambda c, o: {"description": "x"}
                ),
                "delete": Endpoint("delete", lambda team: f"/api/teams/{team.slug}/"),
            },
            # The team's lead maintains their own team; nobody else but admins changes it.
            expected=table(
                view=EVERYONE,
                add=ADMIN_ONLY,
                change=expect(DENY, admin=ALLOW, team_lead=ALLOW),
                delete=ADMIN_ONLY,
            ),
            ui_list="/teams/",
            api_list="/api/teams/",
        )
    )


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
            make_object=lambda context: audit.record(AuditActionChoices.EXPORT, message=unique("Exported")),
            api={"view": Endpoint("get", lambda entry: f"/api/audit/{entry.pk}/")},
            expected=table(view=readers),
            ui_list="/audit/",
            api_list="/api/audit/",
            ui_identity=lambda entry: entry.message,
        )
    )


def test_lifecycle_stages():
    check_matrix(
        ModelMatrix(
            name="lifecycle stage",
            make_object=lambda context: LifecycleStage.objects.create(
                key=unique("stage"), label=unique("Stage"), kind="active", order=99
            ),
            ui={
                "admin-site": Endpoint(
                    "get", lambda stage: f"/admin/approvals/lifecyclestage/{stage.pk}/change/"
                )
            },
            api={"view": Endpoint("get", lambda stage: f"/api/lifecycle-stages/{stage.key}/")},
            expected=table(view=EVERYONE, **{"admin-site": ADMIN_ONLY}),
            api_list="/api/lifecycle-stages/",
            api_identity=lambda stage: stage.key,
        )
    )


def test_cost_sources():
    readers = expect(HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=ALLOW, auditor=ALLOW)
    check_matrix(
        ModelMatrix(
            name="cost source",
            make_object=lambda context: CostSource.objects.create(name=unique("Source"), kind="focus"),
            ui={"admin-site": Endpoint("get", lambda source: f"/admin/costs/costsource/{source.pk}/change/")},
            api={
                "view": Endpoint("get", lambda source: f"/api/cost-sources/{source.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/cost-sources/",
                    lambda c, o: {"name": unique("S"), "kind": "focus"},
                ),
                "change": Endpoint(
                    "patch", lambda source: f"/api/cost-sources/{source.pk}/", lambda c, o: {"enabled": False}
                ),
                "delete": Endpoint("delete", lambda source: f"/api/cost-sources/{source.pk}/"),
            },
            expected=table(
                view=readers,
                add=ADMIN_ONLY,
                change=expect(
                    HIDE, admin=ALLOW, coe_lead=DENY, coe_reviewer=DENY, executive=DENY, auditor=DENY
                ),
                delete=expect(
                    HIDE, admin=ALLOW, coe_lead=DENY, coe_reviewer=DENY, executive=DENY, auditor=DENY
                ),
                **{"admin-site": ADMIN_ONLY},
            ),
            api_list="/api/cost-sources/",
        )
    )


def test_people():
    check_matrix(
        ModelMatrix(
            name="person",
            make_object=lambda context: UserFactory(username=unique("person")),
            ui={"admin-site": Endpoint("get", lambda person: f"/admin/portal/user/{person.pk}/change/")},
            api={"view": Endpoint("get", lambda person: f"/api/people/{person.username}/")},
            expected=table(view=EVERYONE, **{"admin-site": ADMIN_ONLY}),
            api_list="/api/people/",
            api_identity=lambda person: person.username,
        )
    )


#
# The catalog
#

from inventory import services  # noqa: E402
from inventory.models import Dataset, Environment, Model, ModelVersion  # noqa: E402


def file_for_own_team(context, *, visibility="normal", submit=False):
    return services.usecase_create(
        actor=context.users["team-lead"], owning_team=context.own_team, accountable_owner=context.users["team-lead"],
        name=unique("Use case"), purpose="Answers questions about orders.", ai_kind="generative",
        data_sensitivity="pii", visibility=visibility, submit=submit,
    )  # fmt: skip


def use_case_form(context, obj):
    team = obj.owning_team if obj else context.actors_team
    return {
        "name": unique("Filed"), "purpose": "Routes tickets to the right queue.", "owning_team": team.pk,
        "accountable_owner": team.lead.pk, "ai_kind": "predictive", "data_sensitivity": "internal",
        "human_oversight": "in_the_loop", "visibility": obj.visibility if obj else "normal", "submit": "",
    }  # fmt: skip


def use_case_api(context, obj):
    team = context.actors_team
    return {
        "name": unique("Filed"), "purpose": "Routes tickets to the right queue.", "owning_team": team.slug,
        "accountable_owner": team.lead.username, "ai_kind": "predictive", "data_sensitivity": "internal",
    }  # fmt: skip


ROLE_HOLDERS_SEE = expect(ALLOW, no_role=HIDE)
TEAM_WRITES = expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW, no_role=HIDE)
FILERS = expect(
    DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW, other_team_lead=ALLOW, other_team_member=ALLOW
)


def use_case_endpoints():
    return {
        "ui": {
            "view": Endpoint("get", lambda uc: f"/use-cases/{uc.key}/"),
            "add": Endpoint("post", lambda _: "/use-cases/new/", use_case_form),
            "change": Endpoint("post", lambda uc: f"/use-cases/{uc.key}/edit/", use_case_form),
            "delete": Endpoint("post", lambda uc: f"/use-cases/{uc.key}/delete/"),
            "custom:submit": Endpoint("post", lambda uc: f"/use-cases/{uc.key}/submit/"),
            "custom:reassign": Endpoint(
                "post", lambda uc: f"/use-cases/{uc.key}/reassign/",
                lambda c, uc: {"accountable_owner": uc.owning_team.lead.pk},
            ),
        },
        "api": {
            "view": Endpoint("get", lambda uc: f"/api/use-cases/{uc.key}/"),
            "add": Endpoint("post", lambda _: "/api/use-cases/", use_case_api),
            "change": Endpoint("patch", lambda uc: f"/api/use-cases/{uc.key}/", lambda c, o: {"purpose": "Changed."}),
            "delete": Endpoint("delete", lambda uc: f"/api/use-cases/{uc.key}/"),
            "custom:submit": Endpoint("post", lambda uc: f"/api/use-cases/{uc.key}/submit/"),
            "custom:reassign": Endpoint(
                "post", lambda uc: f"/api/use-cases/{uc.key}/reassign/",
                lambda c, uc: {"accountable_owner": uc.owning_team.lead.username},
            ),
        },
    }  # fmt: skip


COE_REASSIGNS = expect(DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE)


def test_use_cases():
    check_matrix(
        ModelMatrix(
            name="use case",
            make_object=file_for_own_team,
            **use_case_endpoints(),
            # Every team sees normal use cases; the owning team maintains them; the CoE reassigns.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=FILERS,
                change=TEAM_WRITES,
                delete=TEAM_WRITES,
                **{"custom:submit": TEAM_WRITES, "custom:reassign": COE_REASSIGNS},
            ),
            ui_list="/use-cases/?sort=-key",
            api_list="/api/use-cases/",
            api_identity=lambda uc: uc.key,
            ui_identity=lambda uc: uc.name,
        )
    )


def test_restricted_use_cases():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    check_matrix(
        ModelMatrix(
            name="restricted uc",
            make_object=lambda context: file_for_own_team(context, visibility="restricted"),
            ui={"view": use_case_endpoints()["ui"]["view"], "change": use_case_endpoints()["ui"]["change"]},
            api={
                "view": use_case_endpoints()["api"]["view"],
                "change": use_case_endpoints()["api"]["change"],
            },
            # Restricted: other teams cannot even tell it exists.
            expected=table(
                view=expect(ALLOW, **other_teams_hidden),
                change=expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW, **other_teams_hidden),
            ),
            ui_list="/use-cases/?sort=-key",
            api_list="/api/use-cases/",
            api_identity=lambda uc: uc.key,
            ui_identity=lambda uc: uc.name,
        )
    )


def test_releases():
    def make_release(context):
        use_case = file_for_own_team(context)
        return services.release_create(use_case=use_case, actor=context.users["team-lead"], version=unique("v"),
                                       code_ref="git:abc")  # fmt: skip

    def release_data(context, obj):
        return {"use_case": file_for_own_team(context).key, "version": unique("v"), "code_ref": "git:def"}

    check_matrix(
        ModelMatrix(
            name="release",
            make_object=make_release,
            api={
                "view": Endpoint("get", lambda r: f"/api/releases/{r.pk}/"),
                "add": Endpoint("post", lambda _: "/api/releases/", release_data),
                "change": Endpoint(
                    "patch", lambda r: f"/api/releases/{r.pk}/", lambda c, o: {"notes": "Changed"}
                ),
                "delete": Endpoint("delete", lambda r: f"/api/releases/{r.pk}/"),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW),
                change=TEAM_WRITES,
                delete=TEAM_WRITES,
            ),
            api_list="/api/releases/",
        )
    )


def test_team_assets():
    def make_model(context):
        return Model.objects.create(slug=unique("model"), name=unique("Model"), owning_team=context.own_team,
                                    provider="in_house")  # fmt: skip

    def model_data(context, obj):
        return {"slug": unique("mx-model"), "name": unique("M"), "owning_team": context.actors_team.slug,
                "provider": "api"}  # fmt: skip

    check_matrix(
        ModelMatrix(
            name="model",
            make_object=make_model,
            api={
                "view": Endpoint("get", lambda m: f"/api/models/{m.slug}/"),
                "add": Endpoint("post", lambda _: "/api/models/", model_data),
                "change": Endpoint("patch", lambda m: f"/api/models/{m.slug}/", lambda c, o: {"vendor": "x"}),
                "delete": Endpoint("delete", lambda m: f"/api/models/{m.slug}/"),
            },
            expected=table(view=ROLE_HOLDERS_SEE, add=FILERS, change=TEAM_WRITES, delete=TEAM_WRITES),
            api_list="/api/models/",
            api_identity=lambda m: m.slug,
        )
    )


def test_versions_follow_their_parent():
    def make_version(context):
        model = Model.objects.create(slug=unique("model"), name=unique("Model"), owning_team=context.own_team,
                                     provider="in_house")  # fmt: skip
        return ModelVersion.objects.create(model=model, version=unique("1"))

    def version_data(context, obj):
        model = Model.objects.create(slug=unique("model"), name=unique("Model"), owning_team=context.own_team,
                                     provider="in_house")  # fmt: skip
        return {"model": model.slug, "version": "1.0", "sha256": "a" * 64}

    check_matrix(
        ModelMatrix(
            name="model version",
            make_object=make_version,
            api={
                "view": Endpoint("get", lambda v: f"/api/model-versions/{v.pk}/"),
                "add": Endpoint("post", lambda _: "/api/model-versions/", version_data),
                "change": Endpoint(
                    "patch", lambda v: f"/api/model-versions/{v.pk}/", lambda c, o: {"sha256": "b" * 64}
                ),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW),
                change=TEAM_WRITES,
            ),
            api_list="/api/model-versions/",
        )
    )


def test_datasets_and_environments():
    check_matrix(
        ModelMatrix(
            name="dataset",
            make_object=lambda c: Dataset.objects.create(
                slug=unique("ds"), name=unique("Dataset"), owning_team=c.own_team, sensitivity="pii"
            ),
            api={
                "view": Endpoint("get", lambda d: f"/api/datasets/{d.slug}/"),
                "change": Endpoint(
                    "patch", lambda d: f"/api/datasets/{d.slug}/", lambda c, o: {"description": "x"}
                ),
            },
            expected=table(view=ROLE_HOLDERS_SEE, change=TEAM_WRITES),
            api_list="/api/datasets/",
            api_identity=lambda d: d.slug,
        )
    )
    check_matrix(
        ModelMatrix(
            name="environment",
            make_object=lambda c: Environment.objects.create(
                slug=unique("env"), name=unique("Env"), kind="staging"
            ),
            api={
                "view": Endpoint("get", lambda e: f"/api/environments/{e.slug}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/environments/",
                    lambda c, o: {"slug": unique("mx-env"), "name": unique("E"), "kind": "staging"},
                ),
                "change": Endpoint(
                    "patch", lambda e: f"/api/environments/{e.slug}/", lambda c, o: {"description": "x"}
                ),
            },
            expected=table(view=EVERYONE, add=ADMIN_ONLY, change=ADMIN_ONLY),
            api_list="/api/environments/",
            api_identity=lambda e: e.slug,
        )
    )


def test_not_duplicate_marks():
    def pair_data(context, obj):
        return {"first": file_for_own_team(context).key, "second": file_for_own_team(context).key}

    check_matrix(
        ModelMatrix(
            name="not duplicate",
            make_object=lambda c: None,
            ui={"add": Endpoint("post", lambda _: "/use-cases/duplicates/not-duplicate/", pair_data)},
            # Anyone who sees both may say two use cases differ; auditors never write.
            expected=table(add=expect(ALLOW, auditor=DENY, no_role=DENY)),
        )
    )


#
# Risk classification: assessments and the register follow their use case
#

from approvals import services as approvals_services  # noqa: E402

# The owning team and the CoE assess and keep the register; readers read; nobody else writes.
RISK_WRITERS = expect(
    DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, team_lead=ALLOW, team_member=ALLOW, no_role=HIDE
)
RISK_ADDERS = {**RISK_WRITERS, "no-role": DENY}  # adding asks the roles before any use case


def record_assessment(context, *, visibility="normal"):
    return approvals_services.risk_assessment_record(
        use_case=file_for_own_team(context, visibility=visibility), answers={"role": "deployer"},
        actor=context.users["team-lead"],
    )  # fmt: skip


def add_register_entry(context, *, visibility="normal"):
    return approvals_services.register_entry_create(
        use_case=file_for_own_team(context, visibility=visibility), actor=context.users["team-lead"],
        title=unique("Risk"), category="privacy", likelihood=2, severity=3, owner=context.users["team-lead"],
    )  # fmt: skip


def register_entry_form(context, obj):
    return {"title": unique("Risk"), "description": "", "category": "privacy", "likelihood": 2, "severity": 3,
            "owner": context.users["team-lead"].pk, "mitigation": "", "residual_likelihood": "",
            "residual_severity": "", "review_date": "", "status": "open"}  # fmt: skip


def register_entry_api(context, obj):
    return {"use_case": file_for_own_team(context).key, "title": unique("Risk"), "category": "privacy",
            "likelihood": 2, "severity": 3, "owner": context.users["team-lead"].username}  # fmt: skip


def test_risk_assessments():
    check_matrix(
        ModelMatrix(
            name="risk assessment",
            make_object=record_assessment,
            # "record" posts the questionnaire of the assessment's use case: a new version, not a
            # change (the cell's object supplies the use case; "add" would get no object).
            ui={
                "view": Endpoint("get", lambda a: f"/use-cases/{a.use_case.key}/?tab=risk"),
                "record": Endpoint(
                    "post", lambda a: f"/use-cases/{a.use_case.key}/risk/", lambda c, o: {"role": "provider"}
                ),
            },
            api={
                "view": Endpoint("get", lambda a: f"/api/risk-assessments/{a.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/risk-assessments/",
                    lambda c, o: {"use_case": file_for_own_team(c).key, "answers": {"role": "deployer"}},
                ),
            },
            expected=table(view=ROLE_HOLDERS_SEE, record=RISK_WRITERS, add=RISK_ADDERS),
            api_list="/api/risk-assessments/",
        )
    )


def test_risk_register_entries():
    entry_url = "/use-cases/{key}/risk/register/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="risk entry",
            make_object=add_register_entry,
            # "add-entry" posts the new-risk form of the entry's use case (see "record" above).
            ui={
                "add-entry": Endpoint(
                    "post", lambda e: f"/use-cases/{e.use_case.key}/risk/register/new/", register_entry_form
                ),
                "change": Endpoint(
                    "post",
                    lambda e: entry_url.format(key=e.use_case.key, pk=e.pk, verb="edit"),
                    register_entry_form,
                ),
                "delete": Endpoint(
                    "post", lambda e: entry_url.format(key=e.use_case.key, pk=e.pk, verb="delete")
                ),
            },
            api={
                "view": Endpoint("get", lambda e: f"/api/risk-register/{e.pk}/"),
                "add": Endpoint("post", lambda _: "/api/risk-register/", register_entry_api),
                "change": Endpoint(
                    "patch", lambda e: f"/api/risk-register/{e.pk}/", lambda c, o: {"severity": 4}
                ),
                "delete": Endpoint("delete", lambda e: f"/api/risk-register/{e.pk}/"),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=RISK_ADDERS,
                change=RISK_WRITERS,
                delete=RISK_WRITERS,
                **{"add-entry": RISK_WRITERS},
            ),
            api_list="/api/risk-register/",
        )
    )


def test_risk_of_restricted_use_cases():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    for name, make, collection in (
        ("restricted risk", add_register_entry, "/api/risk-register/"),
        ("restricted assmt", record_assessment, "/api/risk-assessments/"),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                make_object=lambda context, make=make: make(context, visibility="restricted"),
                api={"view": Endpoint("get", lambda obj, collection=collection: f"{collection}{obj.pk}/")},
                # Restricted: other teams cannot tell the use case, its risks or its tier exist.
                expected=table(view=expect(ALLOW, **other_teams_hidden)),
                api_list=collection,
            )
        )
