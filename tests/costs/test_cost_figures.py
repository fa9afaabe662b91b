"""The figures of the cost pages and API (issue 10): every figure is the exact sum of what it
covers, rounded once (item 6); ROI without recorded value is "no value recorded", not -100 %
(item 7); the default range starts at the first month with data (item 8)."""

import random
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat

from costs.models import AllocationState, CostAllocation, CostDriver, CostImport, KpiReading
from costs.money import cents
from costs.selectors.reports import cost_to_date, month_range
from costs.selectors.value import Roi
from costs.services.allocation import allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import allocate
from costs.services.value import kpi_reading_record
from inventory.models import Kpi
from tests.costs.cost_data import import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

AUG, SEP, OCT, NOV, DEC = (date(2026, month, 1) for month in (8, 9, 10, 11, 12))
MONTHS = (OCT, NOV)
RANGE = {"from": "2026-10", "to": "2026-11"}
CASES = 12


def shown(value) -> str:
    """What a page shows of a figure: the template's floatformat:2."""
    return floatformat(value, 2)


def random_lines(rng: random.Random, keys: list[str]) -> list[dict]:
    """Line items whose sums often land on half a cent (where rounding parts first, or with
    another rounding rule, moves a cent), with credits and ten-decimal amounts."""
    rows = []
    for month in MONTHS:
        for _ in range(rng.randint(2, 9)):
            kind = rng.random()
            if kind < 0.2:
                amount = Decimal(rng.randint(-3000, -1)) / 1000  # a credit
            elif kind < 0.3:
                amount = Decimal(rng.randint(1, 10**11)) / 10**10
            else:
                amount = Decimal(rng.randint(1, 20000)) / 1000
            target = rng.choice([*keys, "", "platform"])
            rows.append(
                line(month, f"{amount}", day=rng.randint(1, 28),
                     tags={"use-case": target} if target not in ("", "platform") else None,
                     account="PLATFORM" if target == "platform" else "111122223333")
            )  # fmt: skip
    return rows


def test_every_figure_is_the_exact_sum_rounded_once(tmp_path, client, executive):
    team = make_team("Support")
    use_cases = [make_use_case(team, name) for name in ("Chatbot", "Summarizer", "Search")]
    pool = shared_pool_save(name="Platform", split_method="direct_cost",
                                     members=[{"use_case": use_cases[0]}, {"use_case": use_cases[1]}])  # fmt: skip
    allocation_rule_save(name="Platform", position=1, billing_account_id="PLATFORM", target_pool=pool)
    allocation_rule_save(name="Keys", position=2, kind="use_case_key_tag")
    keys = [use_case.key for use_case in use_cases]
    client.force_login(executive)
    rng = random.Random(20261203)  # noqa: S311 - seeded test data, reproducible, not a secret
    for case in range(CASES):
        for model in (CostAllocation, CostDriver, AllocationState, CostImport):
            model.objects.all().delete()
        rows = random_lines(rng, keys)
        import_lines(make_source(f"Cloud {case}"), tmp_path, rows)
        allocate()
        context = (
            f"case {case}: {[(r['BillingPeriodStart'][:7], r['EffectiveCost'], r['Tags']) for r in rows]}"
        )

        by_month = defaultdict(Decimal)
        for row in rows:
            by_month[row["BillingPeriodStart"][:7]] += Decimal(row["EffectiveCost"])
        total = sum(by_month.values(), Decimal(0))
        per_use_case, per_use_case_month = defaultdict(Decimal), defaultdict(Decimal)
        for allocation in CostAllocation.objects.filter(use_case__isnull=False):
            per_use_case[allocation.use_case.key] += allocation.effective_cost
            per_use_case_month[(allocation.use_case.key, f"{allocation.period:%Y-%m}")] += (
                allocation.effective_cost
            )

        page = client.get("/costs/", RANGE)
        (usd,) = page.context["totals"]
        assert shown(usd["grand_total"]) == str(cents(total)), context
        assert f"{cents(total)} USD" in page.content.decode(), context
        for month, _direct, _shared, _unallocated, month_total in usd["table"]:
            assert shown(month_total) == str(cents(by_month[month])), context
        for series in page.context["top_use_cases"]:
            assert shown(series["total"]) == str(cents(per_use_case[series["key"]])), context

        reconciliation = client.get("/costs/reconciliation/", RANGE).context["lines"]
        for item in reconciliation:
            assert item.ok, context
            assert (
                shown(item.allocated)
                == shown(item.billed_total)
                == str(cents(by_month[f"{item.period:%Y-%m}"]))
            )

        summary = client.get("/api/cost-allocations/summary/", {**RANGE, "by": "use_case"}).json()
        for series in summary:
            if series["key"] in per_use_case:
                assert series["total"] == str(cents(per_use_case[series["key"]])), context
                for month, amount in zip(series["months"], series["amounts"], strict=True):
                    assert amount == str(cents(per_use_case_month[(series["key"], month)])), context

        value = client.get("/costs/value/", RANGE).context
        for row in value["rows"]:
            assert shown(row["roi"].cost) == str(cents(per_use_case[row["use_case"].key])), context
        assert shown(value["portfolio"].total_cost) == str(cents(sum(per_use_case.values(), Decimal(0))))
        roi = client.get("/api/cost-allocations/roi/", RANGE).json()
        for key, entry in roi["use_cases"].items():
            assert entry["cost"] == str(cents(per_use_case[key])), context

        for use_case in use_cases:
            if use_case.key not in per_use_case:
                continue
            tab = client.get(f"/use-cases/{use_case.key}/", {"tab": "costs"}).context
            (entry,) = tab["cost_currencies"]
            assert shown(entry["total"]) == str(cents(per_use_case[use_case.key])), context
            for row in entry["rows"]:
                assert shown(row["total"]) == str(cents(per_use_case_month[(use_case.key, row["month"])]))
            (so_far,) = cost_to_date(executive, use_case)
            assert shown(so_far["total"]) == str(cents(per_use_case[use_case.key])), context


def test_half_a_cent_is_shown_the_same_everywhere():
    """Pages round with floatformat (half up); the API and reconciliation use costs.money.cents."""
    for value in ("14.975", "14.965", "-0.005", "6326.705", "0.0049999999"):
        assert shown(Decimal(value)) == str(cents(Decimal(value)))


#
# Item 7: ROI without value
#


def test_roi_without_recorded_value_is_no_value_not_minus_100(tmp_path, client, executive):
    team = make_team("Support")
    chatbot, search = make_use_case(team, "Chatbot"), make_use_case(team, "Search")
    allocation_rule_save(name="Keys", kind="use_case_key_tag")
    import_lines(make_source(), tmp_path, [
        line(NOV, "200.00", tags={"use-case": chatbot.key}),
        line(NOV, "50.00", tags={"use-case": search.key}),
    ])  # fmt: skip
    allocate()
    # A reading without a money value (no value per unit) is not value either.
    counted = Kpi.objects.create(use_case=search, name="Searches", unit="searches", target=10)
    kpi_reading_record(kpi=counted, period=NOV, value=Decimal("30"))
    client.force_login(executive)

    page = client.get("/costs/value/", RANGE)
    body = page.content.decode()
    assert "-100.0 %" not in body
    assert body.count("no value recorded") >= 3  # both rows and the portfolio card
    api = client.get("/api/cost-allocations/roi/", RANGE).json()
    for key in (chatbot.key, search.key):
        entry = api["use_cases"][key]
        assert entry["roi"] is None and entry["roi_percent"] is None and entry["roi_reason"] == "no_value"
        assert entry["value"] is None and "no value recorded" in entry["formula"]
    assert api["portfolio"]["roi"] is None and api["portfolio"]["roi_reason"] == "no_value"
    tab = client.get(f"/use-cases/{chatbot.key}/", {"tab": "costs"}).content.decode()
    assert "no value recorded" in tab and "-100.0 %" not in tab

    # Value recorded for one: its ROI is computed; the portfolio's leaves the other out.
    worth = Kpi.objects.create(use_case=chatbot, name="Hours saved", unit="hours", target=1)
    kpi_reading_record(kpi=worth, period=NOV, value=Decimal("1"), monetized_value=Decimal("300.00"))
    api = client.get("/api/cost-allocations/roi/", RANGE).json()
    assert api["use_cases"][chatbot.key]["roi_percent"] == "50.0"
    assert api["use_cases"][search.key]["roi_reason"] == "no_value"
    assert api["portfolio"]["roi_percent"] == "50.0"
    body = client.get("/costs/value/", RANGE).content.decode()
    assert "leaves out 1 use case with no value recorded (50.00 USD of cost)" in body
    # A reading worth exactly nothing is value recorded: -100 % is then the truth.
    KpiReading.objects.filter(kpi=worth).update(monetized_value=Decimal("0"))
    assert client.get("/api/cost-allocations/roi/", RANGE).json()["use_cases"][chatbot.key][
        "roi_percent"
    ] == ("-100.0")


def test_zero_cost_with_value_is_still_not_defined():
    roi = Roi(cost=Decimal(0), value=Decimal("5"), currency="USD")
    assert roi.ratio is None and roi.reason == "zero_cost" and roi.as_dict()["roi_reason"] == "zero_cost"


#
# Item 8: the default range
#


def test_the_default_range_starts_at_the_first_month_with_data(tmp_path, client, executive):
    team = make_team("Support")
    chatbot = make_use_case(team, "Chatbot")
    allocation_rule_save(name="Keys", kind="use_case_key_tag")
    import_lines(make_source(), tmp_path, [
        line(OCT, "10.00", tags={"use-case": chatbot.key}),
        line(NOV, "12.00", tags={"use-case": chatbot.key}),
    ])  # fmt: skip
    allocate()
    assert month_range(None, None) == (OCT, DEC)
    # An explicit start is kept, data or not.
    assert month_range(AUG, None) == (AUG, DEC)
    client.force_login(executive)
    page = client.get("/costs/")
    chart = page.context["chart"]["charts"][0]
    assert chart["series"][0]["x"] == ["2026-10", "2026-11"]
    tab = client.get(f"/use-cases/{chatbot.key}/", {"tab": "costs"}).context
    assert tab["cost_currencies"][0]["months"] == ["2026-10", "2026-11"]
    summary = client.get("/api/cost-allocations/summary/").json()
    assert summary[0]["months"] == ["2026-10", "2026-11"]
    # With more history than six months, the range is the six months up to the latest.
    import_lines(make_source("Older"), tmp_path, [line(date(2026, 1, 1), "1.00")])
    assert month_range(None, None) == (date(2026, 6, 1), DEC)


def test_a_use_cases_costs_tab_starts_at_its_own_first_month_with_cost(tmp_path, client, executive):
    """Follow-up to item 8: the tab started at the portfolio's first month with data, so a use
    case whose cost began later showed zero bars before it."""
    team = make_team("Support")
    chatbot = make_use_case(team, "Chatbot")
    late = make_use_case(team, "Late starter")
    allocation_rule_save(name="Keys", kind="use_case_key_tag")
    import_lines(make_source(), tmp_path, [
        line(SEP, "10.00", tags={"use-case": chatbot.key}),
        line(OCT, "11.00", tags={"use-case": chatbot.key}),
        line(NOV, "12.00", tags={"use-case": late.key}),
    ])  # fmt: skip
    allocate()
    client.force_login(executive)
    url = f"/use-cases/{late.key}/"
    tab = client.get(url, {"tab": "costs"}).context
    assert tab["cost_currencies"][0]["months"] == ["2026-11"]
    assert tab["cost_range"] == (NOV, NOV)
    # The other use case still starts at its own first month.
    other = client.get(f"/use-cases/{chatbot.key}/", {"tab": "costs"}).context
    assert other["cost_currencies"][0]["months"] == ["2026-09", "2026-10", "2026-11"]
    # An explicit "from" in the URL wins, zero months included.
    asked = client.get(url, {"tab": "costs", "from": "2026-09"}).context
    assert asked["cost_currencies"][0]["months"] == ["2026-09", "2026-10", "2026-11"]
    # A bad month is named, and the default range is shown.
    bad = client.get(url, {"tab": "costs", "from": "2026-13"})
    assert "“2026-13” is not a month for “from”: write YYYY-MM." in [str(m) for m in bad.context["messages"]]
    assert bad.context["cost_currencies"][0]["months"] == ["2026-11"]
