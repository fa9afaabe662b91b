"""The use-case list, the detail tabs the catalog owns and the catalog's API lists make as many
queries with many rows as with a few (portal.testing.queries); the caps beside them stay in
test_usecases.py and test_catalog_api.py."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.choices import AssetKindChoices, KpiDirectionChoices, VisibilityChoices
from inventory.models import Kpi
from inventory.services import catalog as catalog_services
from inventory.services import usecases as services
from inventory.testing import TeamFactory
from portal.testing.queries import assert_queries_do_not_grow

pytestmark = pytest.mark.django_db

CATALOG_TABS = ("overview", "ownership", "releases", "data", "deployments", "findings", "history")
API_LISTS = ("/api/use-cases/", "/api/releases/", "/api/kpis/", "/api/components/", "/api/data-sources/",
             "/api/models/", "/api/model-versions/", "/api/prompts/", "/api/prompt-versions/", "/api/datasets/",
             "/api/dataset-versions/", "/api/teams/", "/api/business-units/")  # fmt: skip


def assemble(use_case, index: int):
    """A release pinning a new version of a model, a prompt and a dataset, read from a new data
    source; a KPI and a shared component: one of each row the tabs and lists show."""
    team, lead = use_case.owning_team, use_case.owning_team.lead

    def asset(kind, **fields):
        return catalog_services.asset_create(actor=lead, kind=kind, owning_team=team, name=f"{kind} {use_case.pk}-{index}",
                                     **fields)  # fmt: skip

    source = asset(AssetKindChoices.DATA_SOURCE, system=f"CRM {index}: Case", sensitivity="pii")
    dataset = asset(AssetKindChoices.DATASET, sources=[source], sensitivity="pii")
    model = catalog_services.model_version_create(actor=lead, model=asset(AssetKindChoices.MODEL, provider="in_house"),
                                          version=f"{index}.0", sha256="c" * 64)  # fmt: skip
    prompt = catalog_services.prompt_version_create(actor=lead, template=asset(AssetKindChoices.PROMPT), version="1",
                                            content=f"Answer politely ({index}).")  # fmt: skip
    catalog_services.dataset_version_create(actor=lead, dataset=dataset, version=f"{index}", sha256="d" * 64)
    asset(AssetKindChoices.COMPONENT, use_case=use_case)
    catalog_services.release_create(
        use_case=use_case, actor=lead, version=f"{index}.0.0", code_ref=f"git:{index:07x}",
        model_versions=[model], prompt_versions=[prompt], dataset_versions=[dataset.versions.get()],
    )  # fmt: skip
    Kpi.objects.create(use_case=use_case, name=f"Tickets deflected {index}", unit="tickets",
                       target=Decimal(100 + index), direction=KpiDirectionChoices.values()[0])  # fmt: skip
    services.usecase_update(use_case=use_case, actor=lead, purpose=f"{use_case.purpose} Revision {index}.")


def test_the_use_case_list_does_not_grow_with_use_cases(
    login, support_team, legal_team, file_use_case, executive, team_member
):
    # Every list shows a row before it grows: a list that was empty may rightly ask more.
    first = file_use_case(support_team, name="First support bot", tags=["support"])
    services.usecase_update(use_case=first, actor=support_team.lead, visibility=VisibilityChoices.RESTRICTED)
    support_team.members.add(team_member)
    urls = [reverse("inventory:usecase-list"), reverse("inventory:usecase-list") + "?q=support&sort=-updated",
            reverse("inventory:usecase-list") + "?visibility=restricted"]  # fmt: skip

    def grow():
        for index in range(12):
            team = support_team if index % 2 else legal_team
            use_case = file_use_case(team, name=f"Use case {index}", tags=[f"tag-{index}", "support"],
                                     submit=bool(index % 3))  # fmt: skip
            if index % 4 == 0:
                services.usecase_update(
                    use_case=use_case, actor=team.lead, visibility=VisibilityChoices.RESTRICTED
                )

    for person in (executive, team_member):  # everything, and the restricted path through the team
        client = login(person)
        assert_queries_do_not_grow(client, urls, grow)


def test_the_catalog_tabs_do_not_grow_with_releases_assets_kpis_and_history(
    login, support_team, file_use_case, executive
):
    use_case = file_use_case(support_team, submit=True)
    assemble(use_case, 1)
    urls = [f"{use_case.get_absolute_url()}?tab={tab}" for tab in CATALOG_TABS]
    after = assert_queries_do_not_grow(
        login(executive), urls, lambda: [assemble(use_case, n) for n in (2, 3, 4)]
    )
    assert use_case.releases.count() == 4
    assert after[f"{use_case.get_absolute_url()}?tab=overview"] <= 16  # the cap of test_usecases.py


def test_the_catalog_api_lists_do_not_grow(support_team, legal_team, file_use_case, executive):
    assemble(file_use_case(support_team, name="First"), 1)
    api = APIClient()
    api.force_authenticate(executive)

    def grow():
        TeamFactory()
        for index in range(2, 6):
            assemble(
                file_use_case(legal_team if index % 2 else support_team, name=f"Use case {index}"), index
            )

    after = assert_queries_do_not_grow(api, API_LISTS, grow)
    assert after["/api/use-cases/"] <= 10  # the cap of test_catalog_api.py
