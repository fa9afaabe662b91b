"""Issue 10 item 5: no silent coercion of cell values. A boolean cost column, a floating-point
account id, a number where a date belongs, a billing period boundary that is not midnight, a
nested tag value: each is refused naming file, row and column, and the previous import stays."""

import json
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costs.choices import CostImportStatusChoices
from costs.ingest import normalize
from costs.ingest.errors import CostImportError
from costs.models import CostImport, CostLineItem
from costs.selectors.imports import line_item_details
from costs.services.imports import cost_import_run
from tests.costs.billing_files import FOCUS_COLUMNS, focus_rows, write_csv, write_focus_parquet

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def imported(tmp_path, make_source):
    path = write_csv(tmp_path / "good.csv", FOCUS_COLUMNS, focus_rows(NOV, count=9))
    source = make_source(location=str(tmp_path))
    (good,) = cost_import_run(source=source, location=str(path)).imports
    return source, good


def refused_and_previous_kept(source, good, path, message: str) -> None:
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, location=str(path))
    assert str(raised.value) == message
    good.refresh_from_db()
    assert good.is_current and good.status == CostImportStatusChoices.SUCCEEDED
    assert set(CostLineItem.objects.values_list("cost_import", flat=True)) == {good.pk}
    failed = CostImport.objects.get(source=source, status=CostImportStatusChoices.FAILED)
    assert failed.error_message == message


def parquet_with(path, column: str, values: list, arrow_type) -> str:
    """A real FOCUS Parquet file whose ``column`` has another Arrow type."""
    write_focus_parquet(path, focus_rows(NOV, count=len(values)))
    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    table = table.set_column(index, pa.field(column, arrow_type), pa.array(values, type=arrow_type))
    pq.write_table(table, path)
    return str(path)


def test_a_boolean_cost_column_is_refused_not_read_as_one(tmp_path, imported):
    source, good = imported
    path = parquet_with(tmp_path / "bool.parquet", "BilledCost", [True, False, True], pa.bool_())
    refused_and_previous_kept(
        source,
        good,
        path,
        f"{path}, row 1, column BilledCost: holds a true/false value; a number (numeric or decimal "
        "column, or numeric text) is required.",
    )


def test_a_boolean_quantity_is_refused(tmp_path, imported):
    source, good = imported
    path = parquet_with(tmp_path / "qty.parquet", "ConsumedQuantity", [False, True], pa.bool_())
    refused_and_previous_kept(
        source,
        good,
        path,
        f"{path}, row 1, column ConsumedQuantity: holds a true/false value; a number (numeric or "
        "decimal column, or numeric text) is required.",
    )


def test_a_floating_point_account_id_is_refused_not_rewritten(tmp_path, imported):
    # str(111122223333.0) is "111122223333.0": rules matching the account would silently miss.
    source, good = imported
    path = parquet_with(tmp_path / "float-id.parquet", "BillingAccountId", [111122223333.0] * 2, pa.float64())
    refused_and_previous_kept(
        source,
        good,
        path,
        f"{path}, row 1, column BillingAccountId: holds a floating-point number; text is expected here.",
    )


def test_an_integer_account_id_is_exact_text(tmp_path, make_source):
    path = parquet_with(tmp_path / "int-id.parquet", "BillingAccountId", [111122223333] * 3, pa.int64())
    source = make_source(location=str(tmp_path))
    cost_import_run(source=source, location=path)
    assert {row["billing_account_id"] for row in line_item_details()} == {"111122223333"}


def test_a_number_where_a_date_belongs_is_refused(tmp_path, imported):
    # 20261105 used to parse as yyyymmdd.
    source, good = imported
    path = parquet_with(tmp_path / "int-date.parquet", "ChargePeriodStart", [20261105, 20261106], pa.int64())
    refused_and_previous_kept(
        source,
        good,
        path,
        f"{path}, row 1, column ChargePeriodStart: holds an integer, not a date and time (a timestamp "
        "column or ISO 8601 text).",
    )


def test_a_billing_period_boundary_not_at_midnight_is_refused_not_cut(tmp_path, imported):
    source, good = imported
    rows = focus_rows(NOV, count=3)
    rows[1]["BillingPeriodStart"] = "2026-11-01T08:00:00-08:00"  # 16:00 UTC: not a period boundary
    path = write_csv(tmp_path / "offset.csv", FOCUS_COLUMNS, rows)
    refused_and_previous_kept(
        source,
        good,
        path,
        f"{path}, row 3, column BillingPeriodStart: 2026-11-01T16:00:00Z is not midnight UTC; billing "
        "periods start and end at midnight UTC.",
    )


def test_a_nested_tag_value_is_refused(tmp_path, imported):
    source, good = imported
    rows = focus_rows(NOV, count=3)
    rows[0]["Tags"] = json.dumps({"use-case": {"id": "UC-0001"}})
    path = write_csv(tmp_path / "nested.csv", FOCUS_COLUMNS, rows)
    refused_and_previous_kept(
        source,
        good,
        path,
        f"{path}, row 2, column Tags: tag “use-case” holds a list or map; a tag value is text.",
    )


def test_scalar_tag_values_keep_their_json_spelling():
    tags = normalize.tags_from_json('{"billable": true, "cores": 4, "ratio": 0.5}', "Tags")
    assert dict(tags) == {"billable": "true", "cores": "4", "ratio": "0.5"}


def test_numeric_text_and_decimal_columns_are_still_money():
    assert normalize.decimal(" 12.50 ", "BilledCost", required=True) == Decimal("12.50")
    assert normalize.decimal(Decimal("0.1000000000"), "BilledCost", required=True) == Decimal("0.1")
    assert normalize.decimal(0.1, "BilledCost", required=True) == Decimal("0.1")
    with pytest.raises(CostImportError, match="holds a true/false value"):
        normalize.decimal(False, "BilledCost", required=True)


def test_amounts_beyond_ten_places_are_rounded_before_the_totals_are_summed(tmp_path, make_source):
    # A Parquet double such as 0.1 + 0.2 has 17 decimal places; the column keeps 10. The totals
    # used to add the unrounded values while the database stored rounded ones.
    rows = focus_rows(NOV, count=3)
    path = parquet_with(
        tmp_path / "doubles.parquet", "BilledCost", [0.1 + 0.2, 1.00000000004999, 2e-11], pa.float64()
    )
    source = make_source(location=str(tmp_path))
    (item,) = cost_import_run(source=source, location=path).imports
    stored = sorted(CostLineItem.objects.filter(cost_import=item).values_list("billed_cost", flat=True))
    assert stored == [Decimal("0E-10"), Decimal("0.3000000000"), Decimal("1.0000000000")]
    assert Decimal(item.totals[rows[0]["BillingCurrency"]]["billed"]) == sum(stored)
    assert normalize.decimal("0.00000000005", "BilledCost", required=True) == Decimal("0E-10")  # half to even
    assert normalize.decimal("0.00000000015", "BilledCost", required=True) == Decimal("2E-10")
