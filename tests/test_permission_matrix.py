"""Every role x every model x every action, through the UI and the API (portal.permissions)."""

import itertools

import pytest

from approvals.models import LifecycleStage
from costs.models import CostImport, CostSource
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
            ui={
                "admin-site": Endpoint("get", lambda source: f"/admin/costs/costsource/{source.pk}/change/"),
                "view": Endpoint("get", lambda source: f"/costs/sources/{source.pk}/"),
                "add": Endpoint("post", lambda _: "/costs/sources/new/", cost_source_form),
                "change": Endpoint(
                    "post", lambda source: f"/costs/sources/{source.pk}/edit/", cost_source_form
                ),
            },
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
            ui_list="/costs/sources/",
            ui_identity=lambda source: source.name,
        )
    )


def cost_source_form(context, obj):
    return {"name": unique("MX Source"), "kind": "focus", "location": "", "enabled": "on", "description": "",
            "use_case_tag_key": "use-case", "aws_region": "", "endpoint_url": "", "role_arn": "",
            "external_id": "", "access_key_id": "", "secret_access_key": ""}  # fmt: skip


def make_cost_import(context):
    source = CostSource.objects.create(name=unique("Import source"), kind="focus")
    return CostImport.objects.create(
        source=source, format="focus", status="failed", error_message=unique("Bad")
    )


def test_cost_imports():
    # Billing imports: admins run them; readers read them; team people have no raw billing pages.
    readers = expect(HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=ALLOW, auditor=ALLOW)
    readers_denied = expect(HIDE, admin=ALLOW, coe_lead=DENY, coe_reviewer=DENY, executive=DENY, auditor=DENY)
    check_matrix(
        ModelMatrix(
            name="cost import",
            make_object=make_cost_import,
            ui={
                "view": Endpoint("get", lambda item: f"/costs/imports/{item.pk}/"),
                "import-now": Endpoint("post", lambda item: f"/costs/sources/{item.source_id}/import/"),
                "upload-page": Endpoint("get", lambda item: f"/costs/sources/{item.source_id}/upload/"),
            },
            api={
                "view": Endpoint("get", lambda item: f"/api/cost-imports/{item.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/cost-imports/run/",
                    lambda c, o: {"source": make_cost_import(c).source_id},
                ),
            },
            expected=table(
                view=readers, add=ADMIN_ONLY, **{"import-now": readers_denied, "upload-page": readers_denied}
            ),
            api_list="/api/cost-imports/",
            ui_list="/costs/imports/",
            ui_identity=lambda item: f"/costs/imports/{item.pk}/",
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

from approvals.services import risk as approvals_services  # noqa: E402

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


#
# Maturity assessment: assessments and evidence follow their use case (like risk)
#

from approvals.services import maturity as maturity_services  # noqa: E402


def assess_maturity(context, *, visibility="normal"):
    return maturity_services.maturity_assess(
        use_case=file_for_own_team(context, visibility=visibility), trigger="manual"
    )


def add_evidence(context, *, visibility="normal"):
    return maturity_services.evidence_add(
        use_case=file_for_own_team(context, visibility=visibility), check_key="ownership.handover_plan",
        actor=context.users["team-lead"], note=unique("Plan"),
    )  # fmt: skip


def evidence_form(context, obj):
    return {"check_key": "ownership.handover_plan", "kind": "note", "note": unique("Plan")}


def evidence_api(context, obj):
    return {
        "use_case": file_for_own_team(context).key,
        "check_key": "ownership.handover_plan",
        "note": unique("Plan"),
    }


def test_maturity_assessments():
    check_matrix(
        ModelMatrix(
            name="maturity assmt",
            make_object=assess_maturity,
            # "reassess" posts for the assessment's use case: a new version, never a change.
            ui={
                "view": Endpoint("get", lambda a: f"/use-cases/{a.use_case.key}/?tab=maturity"),
                "reassess": Endpoint("post", lambda a: f"/use-cases/{a.use_case.key}/maturity/assess/"),
                "admin-site": Endpoint(
                    "get", lambda a: f"/admin/approvals/maturityassessment/{a.pk}/change/"
                ),
            },
            api={
                "view": Endpoint("get", lambda a: f"/api/maturity-assessments/{a.pk}/"),
                "summary": Endpoint("get", lambda a: f"/api/use-cases/{a.use_case.key}/maturity/"),
                "reassess": Endpoint("post", lambda a: f"/api/use-cases/{a.use_case.key}/maturity/assess/"),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                summary=ROLE_HOLDERS_SEE,
                reassess=RISK_WRITERS,
                **{"admin-site": ADMIN_ONLY},
            ),
            api_list="/api/maturity-assessments/",
        )
    )


def test_maturity_evidence():
    check_matrix(
        ModelMatrix(
            name="maturity evidence",
            make_object=add_evidence,
            ui={
                "add-evidence": Endpoint(
                    "post", lambda e: f"/use-cases/{e.use_case.key}/maturity/evidence/new/", evidence_form
                ),
                "custom:withdraw": Endpoint(
                    "post", lambda e: f"/use-cases/{e.use_case.key}/maturity/evidence/{e.pk}/withdraw/"
                ),
            },
            api={
                "view": Endpoint("get", lambda e: f"/api/maturity-evidence/{e.pk}/"),
                "add": Endpoint("post", lambda _: "/api/maturity-evidence/", evidence_api),
                "custom:withdraw": Endpoint("post", lambda e: f"/api/maturity-evidence/{e.pk}/withdraw/"),
            },
            # The owning team and the CoE attach and withdraw evidence; readers read; nobody edits.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=RISK_ADDERS,
                **{"add-evidence": RISK_WRITERS, "custom:withdraw": RISK_WRITERS},
            ),
            api_list="/api/maturity-evidence/",
        )
    )


def test_maturity_of_restricted_use_cases():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    for name, make, collection in (
        ("restricted mat.", assess_maturity, "/api/maturity-assessments/"),
        ("restricted evid.", add_evidence, "/api/maturity-evidence/"),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                make_object=lambda context, make=make: make(context, visibility="restricted"),
                ui={"view": Endpoint("get", lambda obj: f"/use-cases/{obj.use_case.key}/?tab=maturity")},
                api={
                    "view": Endpoint("get", lambda obj, collection=collection: f"{collection}{obj.pk}/"),
                    "summary": Endpoint("get", lambda obj: f"/api/use-cases/{obj.use_case.key}/maturity/"),
                },
                # Restricted: other teams cannot tell the use case or its maturity exist.
                expected=table(
                    view=expect(ALLOW, **other_teams_hidden), summary=expect(ALLOW, **other_teams_hidden)
                ),
                api_list=collection,
            )
        )


#
# Lifecycle editing, gate policies, approval requests and their history, notifications
#

from approvals.models import (  # noqa: E402
    APPROVER_ROLES,
    ApprovalComment,
    ApprovalDecision,
    ApprovalEvent,
    GateApproverRequirement,
    GatePolicy,
    LifecycleTransition,
)
from approvals.services import gate_policies  # noqa: E402
from approvals.services import gates as gate_services  # noqa: E402
from approvals.services import lifecycle as lifecycle_services  # noqa: E402
from portal.models import Notification  # noqa: E402
from portal.permissions import restrict  # noqa: E402
from portal.roles import Role  # noqa: E402
from tests.approvals.gate_fixtures import pinned_release, record_maturity  # noqa: E402

COE_LEAD_WRITES = expect(DENY, admin=ALLOW, coe_lead=ALLOW)


def stage_data(context, obj):
    return {"key": unique("stage").replace("-", "_"), "label": unique("Stage"), "kind": "active", "order": 50,
            "colour": "teal", "description": ""}  # fmt: skip


def make_stage(context):
    return lifecycle_services.stage_create(
        actor=None, key=unique("stage").replace("-", "_"), label=unique("Stage"), kind="active", order=70
    )


def test_lifecycle_editing():
    check_matrix(
        ModelMatrix(
            name="lifecycle stage",
            make_object=make_stage,
            ui={
                "view": Endpoint("get", lambda stage: "/lifecycle/"),
                "add": Endpoint("post", lambda _: "/lifecycle/stages/new/", stage_data),
                "change": Endpoint("post", lambda stage: f"/lifecycle/stages/{stage.key}/edit/", stage_data),
                "delete": Endpoint("post", lambda stage: f"/lifecycle/stages/{stage.key}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda stage: f"/api/lifecycle-stages/{stage.key}/"),
                "add": Endpoint("post", lambda _: "/api/lifecycle-stages/", stage_data),
                "change": Endpoint(
                    "patch",
                    lambda stage: f"/api/lifecycle-stages/{stage.key}/",
                    lambda c, o: {"label": "Renamed"},
                ),
                "delete": Endpoint("delete", lambda stage: f"/api/lifecycle-stages/{stage.key}/"),
            },
            expected=table(
                view=EVERYONE, add=COE_LEAD_WRITES, change=COE_LEAD_WRITES, delete=COE_LEAD_WRITES
            ),
            ui_list="/lifecycle/",
            api_list="/api/lifecycle-stages/",
            api_identity=lambda stage: stage.key,
            ui_identity=lambda stage: stage.key,
        )
    )
    check_matrix(
        ModelMatrix(
            name="lifecycle move",
            make_object=lambda context: lifecycle_services.transition_create(
                actor=None, from_stage=make_stage(context), to_stage=make_stage(context), requires_gate=True
            ),
            ui={
                "add": Endpoint(
                    "post",
                    lambda _: "/lifecycle/transitions/new/",
                    lambda c, o: {"from_stage": make_stage(c).key, "to_stage": make_stage(c).key},
                ),
                "change": Endpoint("post", lambda t: f"/lifecycle/transitions/{t.pk}/edit/", lambda c, o: {}),
                "delete": Endpoint("post", lambda t: f"/lifecycle/transitions/{t.pk}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda t: f"/api/lifecycle-transitions/{t.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/lifecycle-transitions/",
                    lambda c, o: {"from_stage": make_stage(c).key, "to_stage": make_stage(c).key},
                ),
                "change": Endpoint(
                    "patch",
                    lambda t: f"/api/lifecycle-transitions/{t.pk}/",
                    lambda c, o: {"requires_gate": False},
                ),
                "delete": Endpoint("delete", lambda t: f"/api/lifecycle-transitions/{t.pk}/"),
            },
            expected=table(
                view=EVERYONE, add=COE_LEAD_WRITES, change=COE_LEAD_WRITES, delete=COE_LEAD_WRITES
            ),
            api_list="/api/lifecycle-transitions/",
        )
    )


def make_gate_policy(context):
    transition = LifecycleTransition.objects.create(
        from_stage=make_stage(context), to_stage=make_stage(context), requires_gate=True
    )
    return gate_policies.gate_policy_save(
        actor=None, transition=transition, risk_tier="", requirements={Role.COE_REVIEWER: 1}
    )


def gate_policy_form(context, obj):
    return {"min_readiness": "1.0", "review_sla_days": 5, "approvers_coe-reviewer": 1}


def gate_policy_api(context, obj):
    transition = LifecycleTransition.objects.create(
        from_stage=make_stage(context), to_stage=make_stage(context), requires_gate=True
    )
    return {"transition": transition.pk, "risk_tier": "", "requirements": {Role.COE_REVIEWER: 1}}


def test_gate_policies():
    check_matrix(
        ModelMatrix(
            name="gate policy",
            make_object=make_gate_policy,
            ui={
                "change": Endpoint("post", lambda p: f"/gates/policies/{p.pk}/edit/", gate_policy_form),
                "delete": Endpoint("post", lambda p: f"/gates/policies/{p.pk}/delete/"),
                "add-page": Endpoint("get", lambda p: "/gates/policies/new/"),
            },
            api={
                "view": Endpoint("get", lambda p: f"/api/gate-policies/{p.pk}/"),
                "add": Endpoint("post", lambda _: "/api/gate-policies/", gate_policy_api),
                "change": Endpoint(
                    "patch", lambda p: f"/api/gate-policies/{p.pk}/", lambda c, o: {"validity_days": 30}
                ),
                "delete": Endpoint("delete", lambda p: f"/api/gate-policies/{p.pk}/"),
            },
            expected=table(
                view=EVERYONE,
                add=COE_LEAD_WRITES,
                change=COE_LEAD_WRITES,
                delete=COE_LEAD_WRITES,
                **{"add-page": COE_LEAD_WRITES},
            ),
            ui_list="/gates/policies/",
            api_list="/api/gate-policies/",
            ui_identity=lambda p: str(p.transition),
        )
    )


def submit_gate_request(context, *, visibility="normal"):
    use_case = file_for_own_team(context, visibility=visibility, submit=True)
    approvals_services.risk_assessment_record(use_case=use_case, answers={"role": "deployer"},
                                              actor=context.users["team-lead"])  # fmt: skip
    release = pinned_release(use_case)
    record_maturity(use_case, "3.5")
    return gate_services.approval_request_submit(
        use_case=use_case, release=release, to_stage="pilot", actor=context.users["team-lead"]
    )


def approved_gate_request(context):
    request = submit_gate_request(context)
    approver = UserFactory(username=unique("approver"), roles=[Role.COE_REVIEWER])
    gate_services.approval_request_decide(request=request, actor=approver, decision="approve")
    request.refresh_from_db()
    return request


OWNING_TEAM_AND = {"team_lead": ALLOW, "team_member": ALLOW}
REQUEST_WRITES_DENIED = expect(DENY, no_role=HIDE)


def test_approval_requests():
    url = "/gates/requests/{pk}/{verb}/"
    api_url = "/api/approval-requests/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="gate request",
            make_object=submit_gate_request,
            ui={
                "view": Endpoint("get", lambda r: f"/gates/requests/{r.pk}/"),
                "custom:decide": Endpoint(
                    "post", lambda r: url.format(pk=r.pk, verb="decide"), lambda c, o: {"decision": "approve"}
                ),
                "custom:comment": Endpoint(
                    "post", lambda r: url.format(pk=r.pk, verb="comment"), lambda c, o: {"body": "Question"}
                ),
                "custom:withdraw": Endpoint("post", lambda r: url.format(pk=r.pk, verb="withdraw")),
            },
            api={
                "view": Endpoint("get", lambda r: f"/api/approval-requests/{r.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/approval-requests/",
                    lambda c, o: (
                        lambda r: {
                            "use_case": r.use_case.key,
                            "release": pinned_release(r.use_case, unique("v")).pk,
                            "to_stage": "production",
                        }
                    )(approved_gate_request(c)),
                ),
                "events": Endpoint("get", lambda r: f"/api/approval-requests/{r.pk}/events/"),
                "custom:decide": Endpoint(
                    "post",
                    lambda r: api_url.format(pk=r.pk, verb="decide"),
                    lambda c, o: {"decision": "approve"},
                ),
                "custom:comment": Endpoint(
                    "post",
                    lambda r: api_url.format(pk=r.pk, verb="comment"),
                    lambda c, o: {"body": "Question"},
                ),
                "custom:withdraw": Endpoint("post", lambda r: api_url.format(pk=r.pk, verb="withdraw")),
            },
            # Approvers decide (segregation of duties is the service's: see test_gates_services);
            # the owning team asks, comments and withdraws; everyone who sees the use case reads.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                events=ROLE_HOLDERS_SEE,
                add=expect(DENY, admin=ALLOW, **OWNING_TEAM_AND),
                **{
                    "custom:decide": expect(DENY, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE),
                    "custom:comment": expect(
                        DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE, **OWNING_TEAM_AND
                    ),
                    "custom:withdraw": expect(DENY, admin=ALLOW, no_role=HIDE, **OWNING_TEAM_AND),
                },
            ),
            ui_list="/gates/?view=open",
            api_list="/api/approval-requests/",
            ui_identity=lambda r: f"/gates/requests/{r.pk}/",
        )
    )


def test_approved_requests_revoke_and_recertify():
    api_url = "/api/approval-requests/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="approval",
            make_object=approved_gate_request,
            ui={
                "custom:revoke": Endpoint(
                    "post", lambda r: f"/gates/requests/{r.pk}/revoke/", lambda c, o: {"reason": "Leak"}
                ),
                "custom:recertify": Endpoint("post", lambda r: f"/gates/requests/{r.pk}/recertify/"),
            },
            api={
                "custom:revoke": Endpoint(
                    "post", lambda r: api_url.format(pk=r.pk, verb="revoke"), lambda c, o: {"reason": "Leak"}
                ),
                "custom:recertify": Endpoint(
                    "post", lambda r: api_url.format(pk=r.pk, verb="recertify"), lambda c, o: {}
                ),
            },
            expected=table(
                **{
                    "custom:revoke": expect(DENY, admin=ALLOW, coe_lead=ALLOW, no_role=HIDE),
                    "custom:recertify": expect(
                        DENY, admin=ALLOW, coe_lead=ALLOW, no_role=HIDE, **OWNING_TEAM_AND
                    ),
                }
            ),
        )
    )


def test_restricted_gate_requests():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    check_matrix(
        ModelMatrix(
            name="restricted gate",
            make_object=lambda context: submit_gate_request(context, visibility="restricted"),
            ui={"view": Endpoint("get", lambda r: f"/gates/requests/{r.pk}/")},
            api={"view": Endpoint("get", lambda r: f"/api/approval-requests/{r.pk}/")},
            expected=table(view=expect(ALLOW, **other_teams_hidden)),
            api_list="/api/approval-requests/",
        )
    )


def test_every_required_approver_role_can_open_what_it_must_decide():
    """Issue 10, item 1: security and legal reviewers answered 404 for the requests they were
    notified to decide. Whatever role any policy names, a person holding it opens the request,
    its restricted use case and its evidence, and may decide."""
    from approvals.services import maturity as maturity_services
    from portal.testing.permission_matrix import build_context, check_approvers_can_open

    named = set(GateApproverRequirement.objects.values_list("role", flat=True)) | set(APPROVER_ROLES)
    assert {Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER} <= named
    pilot_policy = GatePolicy.objects.get(
        transition__from_stage__key="proposed", transition__to_stage__key="pilot", risk_tier="minimal"
    )
    gate_policies.gate_policy_save(actor=None, policy=pilot_policy, requirements=dict.fromkeys(named, 1))
    context = build_context()
    use_case = file_for_own_team(context, visibility="restricted", submit=True)
    approvals_services.risk_assessment_record(use_case=use_case, answers={"role": "deployer"},
                                              actor=context.users["team-lead"])  # fmt: skip
    maturity_services.evidence_add(use_case=use_case, check_key="ownership.handover_plan",
                                   actor=context.users["team-lead"], note="Handover plan")  # fmt: skip
    record_maturity(use_case, "3.5")
    request = gate_services.approval_request_submit(
        use_case=use_case,
        release=pinned_release(use_case),
        to_stage="pilot",
        actor=context.users["team-lead"],
    )
    assert set(request.quorum) == named
    check_approvers_can_open(request)


def test_approval_events_and_notifications():
    check_matrix(
        ModelMatrix(
            name="approval event",
            make_object=lambda context: submit_gate_request(context).events.get(),
            api={"view": Endpoint("get", lambda e: f"/api/approval-events/{e.pk}/")},
            expected=table(view=ROLE_HOLDERS_SEE),
            api_list="/api/approval-events/",
        )
    )
    check_matrix(
        ModelMatrix(
            name="notification",
            make_object=lambda context: Notification.objects.create(
                key=unique("note"),
                channel="email",
                recipient=context.users["team-member"],
                subject="S",
                body="B",
            ),
            api={"view": Endpoint("get", lambda n: f"/api/notifications/{n.pk}/")},
            expected=table(view=expect(HIDE, admin=ALLOW, team_member=ALLOW)),
            api_list="/api/notifications/",
        )
    )


def test_append_only_gate_rows_have_no_writers():
    """Decisions, comments, events and requirement rows have no endpoints of their own: they are
    read with their request or policy and written only through its actions. The choke point
    says the same for every persona."""
    from portal.testing.permission_matrix import build_context

    context = build_context()
    request = approved_gate_request(context)
    gate_services.approval_request_comment(request=request, actor=context.users["team-lead"], body="Thanks")
    for model in (ApprovalDecision, ApprovalComment, ApprovalEvent):
        for persona, user in context.users.items():
            visible = restrict(model.objects.filter(request=request), user).exists()
            assert visible == (persona != "no-role"), (model.__name__, persona)
            for action in ("add", "change", "delete"):
                assert not restrict(model.objects.all(), user, action).exists(), (
                    model.__name__,
                    persona,
                    action,
                )
    requirement = GateApproverRequirement.objects.filter(policy=request.policy)
    for persona, user in context.users.items():
        assert restrict(requirement, user).exists()
        assert restrict(requirement, user, "change").exists() == (persona in ("admin", "coe-lead")), persona
    assert GatePolicy.objects.filter(pk=request.policy_id).exists()


#
# Cost allocation, budgets and value (costs.services.allocation_engine, costs.selectors.budgets, costs.selectors.value)
#

from datetime import date as _date  # noqa: E402
from decimal import Decimal as _Decimal  # noqa: E402

from django.test import Client  # noqa: E402

from costs.models import (  # noqa: E402
    AllocationRule,
    BudgetAlert,
    CostAllocation,
    CostDriver,
    KpiReading,
    SharedPool,
    SharedPoolMember,
)
from costs.services.allocation import allocation_rule_save, shared_pool_save  # noqa: E402
from costs.services.budgets import budget_save  # noqa: E402
from costs.services.value import kpi_reading_record  # noqa: E402
from inventory.models import Kpi  # noqa: E402
from portal.testing.permission_matrix import build_context  # noqa: E402

COST_READERS = {
    "admin": ALLOW,
    "coe_lead": ALLOW,
    "coe_reviewer": ALLOW,
    "executive": ALLOW,
    "auditor": ALLOW,
}
CURATOR_WRITES = expect(
    HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=DENY, auditor=DENY
)  # readers see it; the CoE and admins change it
CURATOR_ADDS = expect(DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW)


def make_rule(context):
    return allocation_rule_save(
        name=unique("Rule"), service_name="Amazon Bedrock", target_use_case=file_for_own_team(context)
    )


def rule_form(context, obj):
    return {"name": unique("Rule"), "position": 10, "enabled": "on", "kind": "match", "service_name": "Amazon S3",
            "resource_pattern_kind": "glob", "target_kind": "team", "target_team": context.own_team.pk}  # fmt: skip


def rule_api(context, obj):
    return {"name": unique("Rule"), "service_name": "Amazon S3", "target_kind": "team",
            "target_team": context.own_team.slug}  # fmt: skip


def test_allocation_rules():
    check_matrix(
        ModelMatrix(
            name="allocation rule",
            make_object=make_rule,
            ui={
                "add": Endpoint("post", lambda _: "/costs/rules/new/", rule_form),
                "change": Endpoint("post", lambda r: f"/costs/rules/{r.pk}/edit/", rule_form),
                "delete": Endpoint("post", lambda r: f"/costs/rules/{r.pk}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda r: f"/api/allocation-rules/{r.pk}/"),
                "add": Endpoint("post", lambda _: "/api/allocation-rules/", rule_api),
                "change": Endpoint(
                    "patch", lambda r: f"/api/allocation-rules/{r.pk}/", lambda c, o: {"position": 7}
                ),
                "delete": Endpoint("delete", lambda r: f"/api/allocation-rules/{r.pk}/"),
                "custom:preview": Endpoint("get", lambda r: f"/api/allocation-rules/{r.pk}/preview/"),
            },
            # The CoE and admins maintain the rules; executives and auditors read them; teams
            # see their cost, not the rules (which name other teams' restricted use cases).
            expected=table(
                view=expect(HIDE, **COST_READERS),
                add=CURATOR_ADDS,
                change=CURATOR_WRITES,
                delete=CURATOR_WRITES,
                **{"custom:preview": expect(HIDE, **COST_READERS)},
            ),
            ui_list="/costs/rules/",
            api_list="/api/allocation-rules/",
            ui_identity=lambda r: r.name,
        )
    )


def make_pool(context):
    return shared_pool_save(name=unique("Pool"), split_method="even", members=[{"team": context.own_team}])


def test_shared_pools_and_their_members():
    check_matrix(
        ModelMatrix(
            name="shared pool",
            make_object=make_pool,
            ui={
                "add": Endpoint("post", lambda _: "/costs/pools/new/", lambda c, o: {
                    "name": unique("Pool"), "split_method": "even", "members": f"team:{c.own_team.slug}"}),
                "change": Endpoint("post", lambda p: f"/costs/pools/{p.pk}/edit/", lambda c, o: {
                    "name": unique("Pool"), "split_method": "even", "members": f"team:{c.own_team.slug}"}),
                "delete": Endpoint("post", lambda p: f"/costs/pools/{p.pk}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda p: f"/api/shared-pools/{p.pk}/"),
                "add": Endpoint("post", lambda _: "/api/shared-pools/", lambda c, o: {
                    "name": unique("Pool"), "split_method": "even", "members": [{"team": c.own_team.slug}]}),
                "change": Endpoint("patch", lambda p: f"/api/shared-pools/{p.pk}/", lambda c, o: {"description": "x"}),
                "delete": Endpoint("delete", lambda p: f"/api/shared-pools/{p.pk}/"),
            },
            expected=table(view=expect(HIDE, **COST_READERS), add=CURATOR_ADDS, change=CURATOR_WRITES,
                           delete=CURATOR_WRITES),
            ui_list="/costs/rules/",
            api_list="/api/shared-pools/",
            ui_identity=lambda p: p.name,
        )
    )  # fmt: skip
    # Members have no page of their own: they follow the pool's policy exactly.
    context = build_context()
    member = SharedPoolMember.objects.filter(pool=make_pool(context))
    for persona, user in context.users.items():
        readers = ("admin", "coe-lead", "coe-reviewer", "executive", "auditor")
        assert restrict(member, user).exists() == (persona in readers), persona
        assert restrict(member, user, "change").exists() == (persona in ("admin", "coe-lead", "coe-reviewer"))


def make_allocation(context, *, visibility="normal"):
    source = CostSource.objects.create(name=unique("Source"), kind="focus")
    return CostAllocation.objects.create(
        source=source, period=_date(2026, 11, 1), currency="USD", bucket="use_case",
        use_case=file_for_own_team(context, visibility=visibility), effective_cost=_Decimal("1.5"),
        billed_cost=_Decimal("1.5"), line_count=1,
    )  # fmt: skip


OWN_TEAM_COST = expect(HIDE, **COST_READERS, team_lead=ALLOW, team_member=ALLOW)


def test_cost_allocations():
    for name, make in (
        ("allocation", make_allocation),
        ("restricted alloc", lambda c: make_allocation(c, visibility="restricted")),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                make_object=make,
                api={"view": Endpoint("get", lambda a: f"/api/cost-allocations/{a.pk}/")},
                # A team sees its own cost (restricted or not); readers see all; other teams none.
                expected=table(view=OWN_TEAM_COST),
                api_list="/api/cost-allocations/",
            )
        )
    # What drives a use case's cost is seen with that cost (no endpoint of its own: its tab).
    context = build_context()
    allocation = make_allocation(context)
    driver = CostDriver.objects.filter(
        pk=CostDriver.objects.create(
            source=allocation.source, period=allocation.period, currency="USD", use_case=allocation.use_case,
            kind="service", name="Amazon Bedrock", effective_cost=_Decimal("1.5"), line_count=1,
        ).pk
    )  # fmt: skip
    for persona, user in context.users.items():
        assert restrict(driver, user).exists() == (OWN_TEAM_COST[persona] == ALLOW), persona
        assert not restrict(driver, user, "change").exists(), persona
    # Unallocated cost has no team: only readers see it.
    context = build_context()
    unallocated = CostAllocation.objects.filter(pk=make_allocation(context).pk)
    unallocated.update(bucket="unallocated", use_case=None)
    for persona, user in context.users.items():
        assert restrict(unallocated, user).exists() == (persona.replace("-", "_") in COST_READERS), persona


def make_budget(context):
    return budget_save(use_case=file_for_own_team(context), amount=_Decimal("100"), currency="USD")


def budget_form(context, obj):
    return {"use_case": file_for_own_team(context).pk, "amount": "50", "currency": "USD", "thresholds": "80",
            "notes": ""}  # fmt: skip


BUDGET_WRITES = expect(
    HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=DENY, auditor=DENY, team_lead=DENY,
    team_member=DENY,
)  # fmt: skip


def test_budgets_and_alerts():
    check_matrix(
        ModelMatrix(
            name="budget",
            make_object=make_budget,
            ui={
                "add": Endpoint("post", lambda _: "/costs/budgets/new/", budget_form),
                "change": Endpoint("post", lambda b: f"/costs/budgets/{b.pk}/edit/", budget_form),
                "delete": Endpoint("post", lambda b: f"/costs/budgets/{b.pk}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda b: f"/api/budgets/{b.pk}/"),
                "add": Endpoint("post", lambda _: "/api/budgets/", lambda c, o: {
                    "use_case": file_for_own_team(c).key, "amount": "10", "currency": "USD"}),
                "change": Endpoint("patch", lambda b: f"/api/budgets/{b.pk}/", lambda c, o: {"amount": "75"}),
                "delete": Endpoint("delete", lambda b: f"/api/budgets/{b.pk}/"),
            },
            expected=table(view=OWN_TEAM_COST, add=CURATOR_ADDS, change=BUDGET_WRITES, delete=BUDGET_WRITES),
            api_list="/api/budgets/",
        )
    )  # fmt: skip
    check_matrix(
        ModelMatrix(
            name="budget alert",
            make_object=lambda c: BudgetAlert.objects.create(budget=make_budget(c), period=_date(2026, 11, 1),
                                                             threshold=50, spent=_Decimal("60")),
            api={"view": Endpoint("get", lambda a: f"/api/budget-alerts/{a.pk}/")},
            expected=table(view=OWN_TEAM_COST),
            api_list="/api/budget-alerts/",
        )
    )  # fmt: skip


def make_kpi(context):
    return Kpi.objects.create(
        use_case=file_for_own_team(context), name=unique("KPI"), unit="tickets", target=10
    )


def make_reading(context):
    return kpi_reading_record(kpi=make_kpi(context), period=_date(2026, 11, 1), value=_Decimal("3"))


VALUE_WRITERS = expect(
    DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, team_lead=ALLOW, team_member=ALLOW, no_role=HIDE
)


def test_kpi_readings():
    check_matrix(
        ModelMatrix(
            name="kpi reading",
            make_object=make_reading,
            ui={
                "record": Endpoint("post", lambda r: "/costs/value/readings/new/", lambda c, r: {
                    "kpi": r.kpi_id, "period": "2026-10", "value": "4", "note": ""}),
                "change": Endpoint("post", lambda r: f"/costs/value/readings/{r.pk}/edit/", lambda c, r: {
                    "kpi": r.kpi_id, "period": "2026-11", "value": "5", "note": ""}),
                "delete": Endpoint("post", lambda r: f"/costs/value/readings/{r.pk}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda r: f"/api/kpi-readings/{r.pk}/"),
                "add": Endpoint("post", lambda _: "/api/kpi-readings/", lambda c, o: {
                    "kpi": make_kpi(c).pk, "period": "2026-11", "value": "2"}),
                "change": Endpoint("patch", lambda r: f"/api/kpi-readings/{r.pk}/", lambda c, o: {"value": "9"}),
                "delete": Endpoint("delete", lambda r: f"/api/kpi-readings/{r.pk}/"),
            },
            # Whoever sees the use case reads its readings; the owning team and the CoE record them.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=expect(DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, team_lead=ALLOW,
                           team_member=ALLOW),
                record=expect(DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, team_lead=ALLOW,
                              team_member=ALLOW),
                change=VALUE_WRITERS,
                delete=VALUE_WRITERS,
            ),
            api_list="/api/kpi-readings/",
        )
    )  # fmt: skip
    assert KpiReading.objects.exists()


def test_cost_pages_by_role():
    """The cost pages: everyone with a role sees spend, budgets and value (their own, for
    teams); reconciliation and the rules are for portfolio readers."""
    context = build_context()
    make_allocation(context)
    readers = {"admin", "coe-lead", "coe-reviewer", "executive", "auditor"}
    for persona, user in context.users.items():
        client = Client()
        client.force_login(user)
        for url in ("/costs/", "/costs/budgets/", "/costs/value/"):
            assert client.get(url).status_code == (403 if persona == "no-role" else 200), (persona, url)
        for url in ("/costs/reconciliation/", "/costs/rules/"):
            assert client.get(url).status_code == (200 if persona in readers else 403), (persona, url)
        wanted = 202 if persona in ("admin", "coe-lead", "coe-reviewer") else 403
        assert api_client_for(user).post("/api/cost-allocations/recompute/").status_code == wanted, persona
    assert AllocationRule.objects.count() == 0 and SharedPool.objects.count() == 0


def api_client_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
