from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from costs.models import CostAllocation, CostLineItem

pytestmark = pytest.mark.django_db

def test_probe():
    call_command("quickstart", "--no-serve", stdout=StringIO())
    rows = CostAllocation.objects.filter(period="2026-11-01").values("bucket", "team__slug", "rule_name").annotate(b=Sum("billed_cost")).order_by()
    for r in rows: print(r)
    print([f.name for f in CostLineItem._meta.fields])
