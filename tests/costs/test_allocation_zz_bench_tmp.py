import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from costs import services
from costs.allocation import allocate_period
from costs.models import CostImport, CostLineItem
from costs.reports import cost_drivers
from costs.testing import assert_reconciles
from tests.costs.cost_data import make_team, make_use_case

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


def test_bench():
    team = make_team("T")
    ucs = [make_use_case(team, f"U{i}") for i in range(50)]
    source = services.cost_source_create(name="B", kind="focus", location="")
    pool = services.shared_pool_save(name="P", split_method="direct_cost", members=[{"use_case": u} for u in ucs[:10]])
    services.allocation_rule_save(name="plat", position=1, billing_account_id="PLAT", target_pool=pool)
    services.allocation_rule_save(name="key", position=2, kind="use_case_key_tag")
    services.allocation_rule_save(name="gpu", position=3, resource_pattern="*gpu*", target_team=team)
    for i in range(20):
        services.allocation_rule_save(name=f"svc{i}", position=10 + i, service_name=f"Service {i}", tag_key="env", tag_value="prod", target_use_case=ucs[i])
    imp = CostImport.objects.create(source=source, format="focus", billing_period_start=NOV, billing_period_end=date(2026, 12, 1), status="succeeded", is_current=True)
    N = 300_000
    batch = []
    total = Decimal(0)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(N):
        cost = Decimal(i % 997) / 100 + Decimal("0.0000000123")
        total += cost
        tags = {"use_case": ucs[i % 50].key.lower()} if i % 3 else ({"env": "prod"} if i % 2 else {})
        batch.append(CostLineItem(cost_import=imp, source=source, billing_period_start=NOV, charge_period_start=start.replace(day=1 + i % 28), charge_period_end=start.replace(day=2 + i % 28),
            billing_account_id="PLAT" if i % 11 == 0 else "A", service_name=f"Service {i % 30}", resource_id=f"arn:{'gpu' if i % 13 == 0 else 'cpu'}:{i}",
            billed_cost=cost, effective_cost=cost, billing_currency="USD", tags=tags, tags_normalized=tags))
        if len(batch) == 10_000:
            CostLineItem.objects.bulk_create(batch); batch = []
    imp.totals = {"USD": {"billed": str(total), "effective": str(total), "list": "0", "rows": N}}
    imp.row_count = N
    imp.save()
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("ANALYZE costs_costlineitem")
    t = time.monotonic(); allocate_period(source=source, period=NOV); print("allocate", N, time.monotonic() - t)
    t = time.monotonic(); cost_drivers(ucs[0], period=NOV); print("drivers", time.monotonic() - t)
    assert_reconciles(source, NOV, allocate=False)
