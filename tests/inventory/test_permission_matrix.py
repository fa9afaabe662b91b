"""Every role x every action on the organisation and the catalog (business units, teams, use cases, assets, versions,
releases), through the UI and the API
(inventory/policies.py)."""

import pytest

from inventory.models import (
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    Kpi,
    Model,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
)
from inventory.services import catalog as catalog_services
from inventory.testing import BusinessUnitFactory, TeamFactory
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
from tests.inventory.matrix_fixtures import ROLE_HOLDERS_SEE, check_matrix, file_for_own_team

pytestmark = pytest.mark.django_db


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


def test_business_units():
    check_matrix(
        ModelMatrix(
            name="business unit",
            model="inventory.businessunit",
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
            model="inventory.team",
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


#
# The catalog
#


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
            model="inventory.usecase",
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
            model="inventory.usecase",
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
        return catalog_services.release_create(use_case=use_case, actor=context.users["team-lead"], version=unique("v"),
                                       code_ref="git:abc")  # fmt: skip

    def release_data(context, obj):
        return {"use_case": file_for_own_team(context).key, "version": unique("v"), "code_ref": "git:def"}

    check_matrix(
        ModelMatrix(
            name="release",
            model="inventory.release",
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
            model="inventory.model",
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
            model="inventory.modelversion",
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
            model="inventory.dataset",
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
            model="inventory.environment",
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
            ui={
                "add": Endpoint("post", lambda _: "/environments/new/", environment_form),
                "change": Endpoint("post", lambda e: f"/environments/{e.slug}/edit/", environment_form),
            },
            expected=table(view=EVERYONE, add=ADMIN_ONLY, change=ADMIN_ONLY),
            api_list="/api/environments/",
            api_identity=lambda e: e.slug,
            ui_list="/environments/",
            ui_identity=lambda e: e.name,
        )
    )


def environment_form(context, obj):
    return {
        "name": unique("MX Env"),
        "slug": obj.slug if obj else unique("mx-env"),
        "kind": "staging",
        "description": "",
    }


def test_components_data_sources_and_prompts():
    """The other shared assets follow the same policy as models: everyone with a role reads them,
    the owning team maintains them, people file them for a team they belong to."""

    def asset_data(context, obj):
        return {"slug": unique("mx-asset"), "name": unique("A"), "owning_team": context.actors_team.slug}

    def data_source_data(context, obj):
        return {**asset_data(context, obj), "system": "Salesforce: Case", "sensitivity": "pii"}

    for name, label, model, collection, make_data, extra in (
        ("component", "inventory.component", Component, "/api/components/", asset_data, {}),
        (
            "data source",
            "inventory.datasource",
            DataSource,
            "/api/data-sources/",
            data_source_data,
            {"system": "Salesforce: Case", "sensitivity": "pii"},
        ),
        ("prompt template", "inventory.prompttemplate", PromptTemplate, "/api/prompts/", asset_data, {}),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                model=label,
                make_object=lambda c, model=model, extra=extra: model.objects.create(
                    slug=unique("asset"), name=unique("Asset"), owning_team=c.own_team, **extra
                ),
                api={
                    "view": Endpoint("get", lambda a, collection=collection: f"{collection}{a.slug}/"),
                    "add": Endpoint("post", lambda _, collection=collection: collection, make_data),
                    "change": Endpoint(
                        "patch",
                        lambda a, collection=collection: f"{collection}{a.slug}/",
                        lambda c, o: {"description": "x"},
                    ),
                    "delete": Endpoint("delete", lambda a, collection=collection: f"{collection}{a.slug}/"),
                },
                expected=table(view=ROLE_HOLDERS_SEE, add=FILERS, change=TEAM_WRITES, delete=TEAM_WRITES),
                api_list=collection,
                api_identity=lambda a: a.slug,
            )
        )


def test_prompt_and_dataset_versions_follow_their_parent():
    def make_template(context):
        return PromptTemplate.objects.create(
            slug=unique("prompt"), name=unique("Prompt"), owning_team=context.own_team
        )

    def make_dataset(context):
        return Dataset.objects.create(slug=unique("ds"), name=unique("Dataset"), owning_team=context.own_team,
                                      sensitivity="pii")  # fmt: skip

    for name, label, collection, make_version, version_data, change_data in (
        (
            "prompt version",
            "inventory.promptversion",
            "/api/prompt-versions/",
            lambda c: PromptVersion.objects.create(
                template=make_template(c), version=unique("1"), content="Hi"
            ),
            lambda c, o: {"template": make_template(c).slug, "version": "1.0", "content": "Hello"},
            {"content": "Hello again"},
        ),
        (
            "dataset version",
            "inventory.datasetversion",
            "/api/dataset-versions/",
            lambda c: DatasetVersion.objects.create(dataset=make_dataset(c), version=unique("1")),
            lambda c, o: {"dataset": make_dataset(c).slug, "version": "1.0", "sha256": "a" * 64},
            {"sha256": "b" * 64},
        ),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                model=label,
                make_object=make_version,
                api={
                    "view": Endpoint("get", lambda v, collection=collection: f"{collection}{v.pk}/"),
                    "add": Endpoint("post", lambda _, collection=collection: collection, version_data),
                    "change": Endpoint(
                        "patch",
                        lambda v, collection=collection: f"{collection}{v.pk}/",
                        lambda c, o, change_data=change_data: change_data,
                    ),
                },
                expected=table(
                    view=ROLE_HOLDERS_SEE,
                    add=expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW),
                    change=TEAM_WRITES,
                ),
                api_list=collection,
            )
        )


def test_kpis_follow_their_use_case():
    def make_kpi(context):
        return Kpi.objects.create(
            use_case=file_for_own_team(context), name=unique("KPI"), unit="tickets", target=10
        )

    def kpi_data(context, obj):
        return {
            "use_case": file_for_own_team(context).key,
            "name": unique("KPI"),
            "unit": "tickets",
            "target": "10",
        }

    check_matrix(
        ModelMatrix(
            name="kpi",
            model="inventory.kpi",
            make_object=make_kpi,
            api={
                "view": Endpoint("get", lambda k: f"/api/kpis/{k.pk}/"),
                "add": Endpoint("post", lambda _: "/api/kpis/", kpi_data),
                "change": Endpoint("patch", lambda k: f"/api/kpis/{k.pk}/", lambda c, o: {"unit": "calls"}),
                "delete": Endpoint("delete", lambda k: f"/api/kpis/{k.pk}/"),
            },
            # A KPI follows its use case: whoever sees it reads the KPI; the owning team changes it.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=expect(DENY, admin=ALLOW, team_lead=ALLOW, team_member=ALLOW),
                change=TEAM_WRITES,
                delete=TEAM_WRITES,
            ),
            api_list="/api/kpis/",
        )
    )


def test_not_duplicate_marks():
    def pair_data(context, obj):
        return {"first": file_for_own_team(context).key, "second": file_for_own_team(context).key}

    check_matrix(
        ModelMatrix(
            name="not duplicate",
            model="inventory.notduplicate",
            make_object=lambda c: None,
            ui={"add": Endpoint("post", lambda _: "/use-cases/duplicates/not-duplicate/", pair_data)},
            # Anyone who sees both may say two use cases differ; auditors never write.
            expected=table(add=expect(ALLOW, auditor=DENY, no_role=DENY)),
        )
    )
