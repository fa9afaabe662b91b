"""Every role x every action on cost (billing sources and imports, allocation rules and pools, budgets, value), through the UI and the API
(costs/policies.py)."""

from datetime import date as _date
from decimal import Decimal as _Decimal

import pytest
from django.test import Client

from costs.models import (
    AllocationRule,
    BudgetAlert,
    CostAllocation,
    CostDriver,
    CostImport,
    CostLineItem,
    CostSource,
    KpiReading,
    SharedPool,
    SharedPoolMember,
)
from costs.services.allocation import allocation_rule_save, shared_pool_save
from costs.services.budgets import budget_save
from costs.services.value import kpi_reading_record
from inventory.models import Kpi
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


def test_cost_sources():
    readers = expect(HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=ALLOW, auditor=ALLOW)
    check_matrix(
        ModelMatrix(
            name="cost source",
            model="costs.costsource",
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
            model="costs.costimport",
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


BILLING_DATA = (
    "costs.billingaccount", "costs.billingservice", "costs.billingresource", "costs.billingregion",
    "costs.billingsku", "costs.billingcharge", "costs.billingtagset", "costs.billingprofile",
    "costs.costprofiletotal", "costs.costload", "costs.costloadfile",
)  # fmt: skip


@covers("costs.costlineitem", *BILLING_DATA)
def test_cost_line_items_and_what_they_refer_to_follow_their_import(tmp_path):
    """Line items, the dimensions they refer to (accounts, services, resources, tag sets…) and
    the per-profile totals have no endpoint of their own: they are the raw bill, read by billing
    readers and written only by imports and allocation, never by a person, admins included."""
    from django.apps import apps

    from costs.services.allocation_engine import allocate_period
    from costs.services.imports import cost_import_run
    from tests.costs.billing_files import FOCUS_COLUMNS, write_csv
    from tests.costs.cost_data import line

    context = build_context()
    source = CostSource.objects.create(name=unique("Source"), kind="focus")
    path = write_csv(
        tmp_path / "one.csv", FOCUS_COLUMNS, [line(_date(2026, 11, 1), "1.5", tags={"team": "x"})]
    )
    (cost_import,) = cost_import_run(source=source, location=str(path)).imports
    allocate_period(source=source, period=_date(2026, 11, 1))
    readers = ("admin", "coe-lead", "coe-reviewer", "executive", "auditor")
    querysets = [CostLineItem.objects.filter(cost_import=cost_import)]
    querysets += [apps.get_model(label).objects.all() for label in BILLING_DATA]
    for rows in querysets:
        assert rows.exists(), rows.model
        for persona, user in context.users.items():
            assert restrict(rows, user).exists() == (persona in readers), (rows.model, persona)
            for action in ("add", "change", "delete"):
                assert not restrict(rows, user, action).exists(), (rows.model, persona, action)


#
# Cost allocation, budgets and value (costs.allocation, costs.budgets, costs.value)
#


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
            model="costs.allocationrule",
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


@covers("costs.sharedpoolmember")
def test_shared_pools_and_their_members():
    check_matrix(
        ModelMatrix(
            name="shared pool",
            model="costs.sharedpool",
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


@covers("costs.costdriver", "costs.costrollup")
def test_cost_allocations():
    for name, make in (
        ("allocation", make_allocation),
        ("restricted alloc", lambda c: make_allocation(c, visibility="restricted")),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                model="costs.costallocation",
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
    # Daily rollups are seen as the allocations they add up to.
    from costs.models import BillingService, CostRollup

    service, _ = BillingService.objects.get_or_create(provider="AWS", service_name="Amazon Bedrock")
    rollup = CostRollup.objects.filter(
        pk=CostRollup.objects.create(
            source=allocation.source, period=allocation.period, day=allocation.period, currency="USD",
            bucket="use_case", use_case=allocation.use_case, service=service, effective_cost=_Decimal("1.5"),
            billed_cost=_Decimal("1.5"), line_count=1,
        ).pk
    )  # fmt: skip
    for persona, user in context.users.items():
        assert restrict(rollup, user).exists() == (OWN_TEAM_COST[persona] == ALLOW), persona
        assert not restrict(rollup, user, "change").exists(), persona
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
            model="costs.budget",
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
            model="costs.budgetalert",
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
            model="costs.kpireading",
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
