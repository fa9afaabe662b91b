"""The cost pages and API: portfolio, use-case tab, rules with previews, reconciliation, budgets,
value; who sees what; query counts that do not grow with line items or use cases."""

from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from costs.models import AllocationRule, SharedPool
from costs.services.allocation import allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import allocate
from costs.services.value import kpi_reading_record
from inventory.models import Kpi
from portal.roles import Role, role_groups
from portal.testing.queries import assert_queries_do_not_grow
from tests.costs.cost_data import import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
RANGE = {"from": "2026-10", "to": "2026-11"}


@pytest.fixture
def costs(tmp_path):
    support, legal = make_team("Support"), make_team("Legal")
    chatbot = make_use_case(support, "Support chatbot")
    summarizer = make_use_case(legal, "Legal summarizer")
    secret = make_use_case(legal, "Secret review", visibility="restricted")
    source = make_source()
    pool = shared_pool_save(name="Platform", split_method="direct_cost",
                                     members=[{"use_case": chatbot}, {"use_case": summarizer}])  # fmt: skip
    allocation_rule_save(name="Platform account", position=1, billing_account_id="PLATFORM",
                                  target_pool=pool)  # fmt: skip
    allocation_rule_save(name="Use-case tag", position=2, kind="use_case_key_tag")
    for month in (OCT, NOV):
        import_lines(source, tmp_path, [
            line(month, "100.00", tags={"use-case": chatbot.key}, service="Amazon Bedrock", resource="bot-1"),
            line(month, "50.00", tags={"use-case": summarizer.key}, service="Amazon SageMaker"),
            line(month, "25.00", tags={"use-case": secret.key}),
            line(month, "30.00", account="PLATFORM"),
            line(month, "7.00", service="Amazon S3"),
        ])  # fmt: skip
    allocate()
    return {"support": support, "legal": legal, "chatbot": chatbot, "summarizer": summarizer, "secret": secret,
            "source": source, "pool": pool}  # fmt: skip


def test_portfolio_page_shows_spend_by_month_team_and_unallocated(client, executive, costs):
    client.force_login(executive)
    response = client.get("/costs/", RANGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        'id="cost-chart-data"' in body and "costs/charts.js" in body and "vendor/plotly/plotly.min.js" in body
    )
    assert "212.00" in body  # 100 + 50 + 25 + 30 + 7 per month
    assert "3.3 %" in body  # unallocated 7 of 212
    assert costs["chatbot"].key in body and costs["secret"].key in body
    assert (
        f"?team={costs['support'].slug}&amp;from=2026-10" in body
        or f"?team={costs['support'].slug}&from" in body
    )
    assert f"?bu={costs['support'].business_unit.slug}" in body


def test_a_team_sees_only_its_own_cost(client, costs):
    member = costs["support"].lead
    member.groups.add(*role_groups(Role.TEAM_LEAD))
    client.force_login(member)
    body = client.get("/costs/", RANGE).content.decode()
    assert costs["chatbot"].key in body and "120.00" in body
    assert costs["summarizer"].key not in body and costs["secret"].key not in body
    assert "212.00" not in body and "Allocation rules" not in body
    # Another team's use case: visible, but not its cost.
    tab = client.get(f"/use-cases/{costs['summarizer'].key}/?tab=costs").content.decode()
    assert "Cost is visible to the owning team" in tab
    assert client.get("/costs/reconciliation/").status_code == 403
    assert client.get("/costs/rules/").status_code == 403


def test_use_case_tab_shows_months_drivers_shared_part_and_roi(client, reviewer, costs):
    chatbot = costs["chatbot"]
    kpi = Kpi.objects.create(use_case=chatbot, name="Tickets deflected", unit="tickets", target=1000,
                             value_per_unit=Decimal("0.5"))  # fmt: skip
    kpi_reading_record(kpi=kpi, period=NOV, value=Decimal("400"))
    client.force_login(reviewer)
    body = client.get(f"/use-cases/{chatbot.key}/?tab=costs").content.decode()
    assert "Top services" in body and "Amazon Bedrock" in body and "bot-1" in body
    assert "Platform" in body  # its part of the shared pool
    assert "Tickets deflected" in body
    # Nov: 100 direct + 20 of the pool's 30 (100 : 50) = 120; 400 tickets -> 0.3000 per ticket.
    assert "0.3000 USD/tickets" in body


def test_cost_pages_query_counts_do_not_grow(
    client, executive, costs, tmp_path, django_assert_max_num_queries
):
    client.force_login(executive)
    query = "?" + urlencode(RANGE)
    pages = [f"/costs/{query}", f"/costs/reconciliation/{query}", f"/costs/rules/{query}",
             f"/costs/budgets/{query}", f"/costs/value/{query}", f"/use-cases/{costs['chatbot'].key}/?tab=costs",
             "/costs/sources/", f"/costs/sources/{costs['source'].pk}/", "/costs/imports/"]  # fmt: skip
    api_lists = ["/api/cost-sources/", "/api/cost-imports/", "/api/allocation-rules/", "/api/shared-pools/",
                 "/api/cost-allocations/"]  # fmt: skip
    for url in pages:
        with django_assert_max_num_queries(40):
            assert client.get(url).status_code == 200

    def grow():
        # Ten times the line items, more use cases, another import: the same number of queries.
        extra_team = make_team("Search")
        extra = [make_use_case(extra_team, f"Search {n}") for n in range(5)]
        rows = [
            line(NOV, "1.00", tags={"use-case": uc.key}, day=1 + n % 28) for n, uc in enumerate(extra * 20)
        ]
        import_lines(costs["source"], tmp_path, [*rows, line(NOV, "30.00", account="PLATFORM")])
        allocate()

    assert_queries_do_not_grow(client, pages + api_lists, grow)


def test_rules_page_previews_and_the_form_saves_and_names_bad_fields(client, reviewer, costs):
    client.force_login(reviewer)
    body = client.get("/costs/rules/").content.decode()
    assert "Platform account" in body and "Use-case tag" in body and "rows" in body
    response = client.post("/costs/rules/new/", {
        "name": "S3 to support", "position": 5, "enabled": "on", "kind": "match", "service_name": "Amazon S3",
        "resource_pattern_kind": "glob", "target_kind": "team", "target_team": costs["support"].pk,
    })  # fmt: skip
    assert response.status_code == 302
    assert AllocationRule.objects.filter(name="S3 to support").exists()
    bad = client.post("/costs/rules/new/", {
        "name": "Bad", "position": 5, "kind": "match", "resource_pattern": "([", "resource_pattern_kind": "regex",
        "target_kind": "team", "target_team": costs["support"].pk,
    })  # fmt: skip
    assert bad.status_code == 200 and "Not a valid regular expression" in bad.content.decode()
    assert not AllocationRule.objects.filter(name="Bad").exists()


def test_pool_form_parses_members_and_refuses_bad_percentages(client, reviewer, costs):
    client.force_login(reviewer)
    response = client.post("/costs/pools/new/", {
        "name": "Network", "split_method": "fixed",
        "members": f"{costs['chatbot'].key} 60\nteam:{costs['legal'].slug} 30",
    })  # fmt: skip
    assert response.status_code == 200
    assert "add up to 100; they add up to 90" in response.content.decode()
    response = client.post("/costs/pools/new/", {
        "name": "Network", "split_method": "fixed", "members": f"{costs['chatbot'].key} 60\nteam:{costs['legal'].slug} 40\nUC-9999",
    })  # fmt: skip
    assert "Line 3: no use case" in response.content.decode()
    response = client.post("/costs/pools/new/", {
        "name": "Network", "split_method": "fixed", "members": f"{costs['chatbot'].key} 60\nteam:{costs['legal'].slug} 40",
    })  # fmt: skip
    assert response.status_code == 302
    assert SharedPool.objects.get(name="Network").members.count() == 2


def test_reconciliation_page_and_api(client, executive, costs):
    client.force_login(executive)
    body = client.get("/costs/reconciliation/", RANGE).content.decode()
    assert "every line reconciles" in body and "212.00" in body
    api = client.get("/api/cost-allocations/reconciliation/", RANGE).json()
    assert len(api) == 2 and all(line["ok"] for line in api)
    assert api[0]["billed_total"] == "212.00" and api[0]["unallocated"] == "7.00"


def test_summary_and_roi_api(client, executive, costs):
    client.force_login(executive)
    series = client.get("/api/cost-allocations/summary/", {**RANGE, "by": "team"}).json()
    support = next(entry for entry in series if entry["key"] == costs["support"].slug)
    assert support["months"] == ["2026-10", "2026-11"] and support["amounts"] == ["120.00", "120.00"]
    roi = client.get("/api/cost-allocations/roi/", RANGE).json()
    # No KPI reading worth money: no value recorded, not -100 % (issue 10 item 7).
    chatbot_roi = roi["use_cases"][costs["chatbot"].key]
    assert chatbot_roi["roi"] is None and chatbot_roi["roi_reason"] == "no_value"
    assert client.get("/api/cost-allocations/summary/", {"by": "planet"}).status_code == 400
    assert client.get("/api/cost-allocations/roi/", {"from": "2026-13"}).status_code == 400


def test_roi_with_zero_cost_is_not_defined(client, executive, costs):
    team = make_team("Quiet")
    quiet = make_use_case(team, "Quiet one")
    kpi = Kpi.objects.create(use_case=quiet, name="Hours saved", unit="hours", target=10)
    kpi_reading_record(kpi=kpi, period=NOV, value=Decimal("10"), monetized_value=Decimal("500.00"))
    client.force_login(executive)
    roi = client.get("/api/cost-allocations/roi/", RANGE).json()["use_cases"][quiet.key]
    assert roi["roi"] is None and "not defined" in roi["formula"]
    body = client.get("/costs/value/", RANGE).content.decode()
    assert "not defined" in body and "(value \N{MINUS SIGN} cost) ÷ cost" in body


def test_the_summary_answers_the_biggest_groups_first(client, executive, costs):
    client.force_login(executive)
    everything = client.get("/api/cost-allocations/summary/", RANGE).json()
    assert [entry["total"] for entry in everything] == sorted(
        (e["total"] for e in everything), key=Decimal, reverse=True
    )
    (biggest,) = client.get("/api/cost-allocations/summary/", {**RANGE, "limit": "1"}).json()
    assert biggest == everything[0] and biggest["key"] == costs["chatbot"].key
    two = client.get("/api/cost-allocations/summary/", {**RANGE, "limit": "2"}).json()
    assert two == everything[:2]
    for bad in ("0", "-3", "ten", "10001"):
        response = client.get("/api/cost-allocations/summary/", {**RANGE, "limit": bad})
        assert response.status_code == 400 and "limit" in response.json(), bad
