"""The demo's billing data goes through the real FOCUS parser and is idempotent."""

from decimal import Decimal

import pytest

from costs.demo import PLATFORM_ACCOUNT, SOURCE_NAME, demo_months, load_costs
from costs.models import CostImport, CostLineItem
from costs.selectors.imports import line_item_details, line_item_totals

pytestmark = pytest.mark.django_db


def test_the_demo_imports_three_months_through_the_parser_and_reloads_unchanged(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    load_costs({})
    months = demo_months()
    imports = CostImport.objects.filter(source__name=SOURCE_NAME, is_current=True).order_by(
        "billing_period_start"
    )
    assert [i.billing_period_start for i in imports] == months
    for cost_import in imports:
        stored = Decimal(cost_import.totals["USD"]["billed"])
        assert line_item_totals(cost_import)["USD"]["billed"].quantize(Decimal("0.01")) == stored.quantize(
            Decimal("0.01")
        )
    rows = CostLineItem.objects.count()
    assert line_item_details(tags_normalized__use_case="uc-0001")
    assert line_item_details(sub_account_id=PLATFORM_ACCOUNT)
    assert line_item_details(sub_account_id="111111111111", tags={})  # the untagged slice

    load_costs({})

    assert CostImport.objects.count() == len(months) and CostLineItem.objects.count() == rows
