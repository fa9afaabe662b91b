"""FOCUS imports from local files: CSV, CSV.gz and Parquet; idempotency; replacement; bad input."""

import gzip
import zlib
from datetime import date
from decimal import Decimal

import pytest

from costs.choices import CostImportStatusChoices
from costs.ingest.errors import CostImportError
from costs.models import CostImport, CostLineItem
from costs.selectors.imports import billing_totals, line_item_details, line_item_totals
from costs.services.imports import cost_import_run
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from tests.costs.billing_files import (
    FOCUS_COLUMNS,
    billed_totals_in_file,
    focus_rows,
    write_csv,
    write_focus_parquet,
)

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)
CENT = Decimal("0.01")


def cents(value) -> Decimal:
    return Decimal(value).quantize(CENT)


def assert_reconciles(cost_import: CostImport, path) -> None:
    """Stored totals = line items in the database = the file's own BilledCost column, per currency."""
    in_file = billed_totals_in_file(path, cost_column="BilledCost", currency_column="BillingCurrency")
    in_database = line_item_totals(cost_import)
    assert set(in_file) == set(in_database) == set(cost_import.totals)
    for currency, billed in in_file.items():
        assert cents(in_database[currency]["billed"]) == cents(billed)
        assert Decimal(cost_import.totals[currency]["billed"]) == billed  # exact: summed in Decimal
        assert cents(in_database[currency]["effective"]) == cents(cost_import.totals[currency]["effective"])
        assert in_database[currency]["rows"] == cost_import.totals[currency]["rows"]


@pytest.mark.parametrize("name", ["focus.csv", "focus.csv.gz", "focus.parquet"])
def test_a_focus_export_imports_with_totals_to_the_cent(tmp_path, make_source, name):
    rows = focus_rows(NOV, count=40)
    path = tmp_path / name
    if name.endswith(".parquet"):
        write_focus_parquet(path, rows)
    else:
        write_csv(path, FOCUS_COLUMNS, rows, gz=name.endswith(".gz"))
    source = make_source(location=str(tmp_path))

    outcome = cost_import_run(source=source, location=str(path))

    (cost_import,) = outcome.imports
    assert cost_import.is_current and cost_import.status == CostImportStatusChoices.SUCCEEDED
    assert (cost_import.billing_period_start, cost_import.billing_period_end) == (NOV, DEC)
    assert cost_import.row_count == 40 == CostLineItem.objects.filter(cost_import=cost_import).count()
    assert_reconciles(cost_import, path)
    assert cost_import.files[0]["rows"] == 40 and len(cost_import.files[0]["sha256"]) == 64
    totals = billing_totals(source=source, period_start=NOV, period_end=DEC)
    assert totals["USD"]["billed"] == Decimal(cost_import.totals["USD"]["billed"])
    assert totals["USD"]["rows"] == 40


def test_line_items_carry_focus_names_tags_and_nulls(tmp_path, make_source):
    path = write_csv(tmp_path / "focus.csv", FOCUS_COLUMNS, focus_rows(NOV, count=12))
    source = make_source(location=str(path))
    cost_import_run(source=source)
    first, second = line_item_details()[:2]
    assert first["tags"] == {"use-case": "UC-0001", "Team": "Support Automation"}
    assert first["tags_normalized"] == {"use_case": "uc-0001", "team": "support automation"}
    assert first["billed_cost"] == Decimal("0.0123456789")
    assert first["effective_cost"] == Decimal("0.0111111110")
    assert first["charge_period_start"].isoformat() == "2026-11-01T00:00:00+00:00"
    assert first["charge_date"] == NOV
    assert (first["provider"], first["service_name"], first["billing_currency"]) == (
        "AWS",
        "Amazon Bedrock",
        "USD",
    )
    assert first["usage_quantity"] == Decimal("0.5") and first["usage_unit"] == "Hours"
    assert second["list_cost"] is None  # an empty ListCost cell stays empty, it is not zero
    assert second["charge_class"] == ""  # literal NULL
    (credit,) = line_item_details(charge_category="Credit")
    assert credit["resource_id"] == "" and credit["tags"] == {} and credit["billed_cost"] == Decimal("-1.25")


def test_importing_the_same_file_again_changes_nothing(tmp_path, make_source):
    path = write_csv(tmp_path / "focus.csv.gz", FOCUS_COLUMNS, focus_rows(NOV), gz=True)
    source = make_source(location=str(path))
    first = cost_import_run(source=source)
    audit_entries = AuditEntry.objects.filter(action=AuditActionChoices.IMPORT).count()

    again = cost_import_run(source=source)

    assert again.imports == [] and len(again.unchanged) == 1
    assert CostImport.objects.count() == 1
    assert CostLineItem.objects.count() == first.imports[0].row_count
    assert AuditEntry.objects.filter(action=AuditActionChoices.IMPORT).count() == audit_entries


def test_one_audit_entry_per_import_not_per_row(tmp_path, make_source):
    path = write_csv(tmp_path / "focus.csv", FOCUS_COLUMNS, focus_rows(NOV, count=30))
    source = make_source(location=str(path))
    (cost_import,) = cost_import_run(source=source).imports
    (entry,) = AuditEntry.objects.filter(action=AuditActionChoices.IMPORT)
    assert entry.object_id == str(cost_import.pk)
    assert entry.extra["rows"] == 30
    assert entry.extra["files"][0]["sha256"] == cost_import.files[0]["sha256"]
    assert entry.extra["totals"] == cost_import.totals


def test_a_new_file_for_the_period_replaces_it_atomically(tmp_path, make_source):
    source = make_source(location=str(tmp_path))
    old_path = write_csv(tmp_path / "v1.csv", FOCUS_COLUMNS, focus_rows(NOV, count=10))
    (old,) = cost_import_run(source=source, location=str(old_path)).imports
    new_path = write_csv(tmp_path / "v2.csv", FOCUS_COLUMNS, focus_rows(NOV, count=14, salt=3))

    (new,) = cost_import_run(source=source, location=str(new_path)).imports

    old.refresh_from_db()
    assert (old.is_current, old.status) == (False, CostImportStatusChoices.SUPERSEDED)
    assert new.is_current and new.replaced == old
    assert not CostLineItem.objects.filter(cost_import=old).exists()
    assert CostLineItem.objects.filter(source=source, billing_period_start=NOV).count() == 14
    assert_reconciles(new, new_path)
    assert billing_totals(source=source, period_start=NOV, period_end=DEC)["USD"]["billed"] == Decimal(
        new.totals["USD"]["billed"]
    )


def test_a_file_spanning_two_months_makes_one_import_per_period(tmp_path, make_source):
    path = write_csv(tmp_path / "two.csv", FOCUS_COLUMNS, focus_rows(NOV, count=6) + focus_rows(DEC, count=5))
    source = make_source(location=str(path))
    imports = cost_import_run(source=source).imports
    assert [(i.billing_period_start, i.row_count) for i in imports] == [(NOV, 6), (DEC, 5)]
    both = billing_totals(source=source, period_start=NOV, period_end=date(2027, 1, 1))
    assert both["USD"]["rows"] == 11


def test_currencies_are_kept_apart(tmp_path, make_source):
    rows = focus_rows(NOV, count=8) + focus_rows(NOV, count=6, currency="EUR", account="EU-BILLING-1")
    path = write_csv(tmp_path / "multi.csv", FOCUS_COLUMNS, rows)
    source = make_source(location=str(path))
    (cost_import,) = cost_import_run(source=source).imports
    assert set(cost_import.totals) == {"EUR", "USD"}
    assert_reconciles(cost_import, path)


#
# Broken input: exact message, and the previous import stays current with its line items
#


@pytest.fixture
def imported(tmp_path, make_source):
    """A good November import, to prove a failed one changes nothing."""
    path = write_csv(tmp_path / "good.csv", FOCUS_COLUMNS, focus_rows(NOV, count=9))
    source = make_source(location=str(tmp_path))
    (good,) = cost_import_run(source=source, location=str(path)).imports
    return source, good


def fails_and_keeps_previous(source, good, path, message: str) -> None:
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, location=str(path))
    assert str(raised.value) == message
    good.refresh_from_db()
    assert good.is_current and good.status == CostImportStatusChoices.SUCCEEDED
    assert CostLineItem.objects.filter(source=source).count() == 9
    assert set(CostLineItem.objects.values_list("cost_import", flat=True)) == {good.pk}
    failed = CostImport.objects.filter(source=source, status=CostImportStatusChoices.FAILED).get()
    assert failed.error_message == message and not failed.is_current
    assert billing_totals(source=source, period_start=NOV, period_end=DEC)["USD"]["rows"] == 9


def test_a_truncated_gzip_fails_naming_file_and_row(tmp_path, imported, settings):
    settings.PROPYLON_COST_IMPORT_BATCH_ROWS = 3  # rows reach the database before the break
    source, good = imported
    whole = gzip.compress(
        write_csv(tmp_path / "x.csv", FOCUS_COLUMNS, focus_rows(NOV, count=400)).read_bytes()
    )
    cut = whole[: len(whole) * 2 // 3]
    path = tmp_path / "truncated.csv.gz"
    path.write_bytes(cut)
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    row = readable.count(b"\n") + 1  # the first row that could not be read whole
    assert row > 10
    fails_and_keeps_previous(
        source,
        good,
        path,
        f"{path}, row {row}: the gzip stream ends early: the file is truncated (an interrupted upload or copy).",
    )


def test_a_missing_required_column_fails_naming_it(tmp_path, imported):
    source, good = imported
    columns = [c for c in FOCUS_COLUMNS if c != "BilledCost"]
    rows = [{k: v for k, v in row.items() if k != "BilledCost"} for row in focus_rows(NOV, count=3)]
    path = write_csv(tmp_path / "no-billed.csv", columns, rows)
    fails_and_keeps_previous(
        source,
        good,
        path,
        f"{path}, row 1, column BilledCost: the required FOCUS column BilledCost is missing.",
    )


def test_an_unparseable_number_fails_naming_row_and_column(tmp_path, imported, settings):
    settings.PROPYLON_COST_IMPORT_BATCH_ROWS = 2
    source, good = imported
    rows = focus_rows(NOV, count=8)
    rows[5]["EffectiveCost"] = "12,50"
    path = write_csv(tmp_path / "bad-number.csv", FOCUS_COLUMNS, rows)
    fails_and_keeps_previous(
        source, good, path, f"{path}, row 7, column EffectiveCost: “12,50” is not a number."
    )


def test_a_currency_mix_within_a_billing_account_fails(tmp_path, imported, settings):
    settings.PROPYLON_COST_IMPORT_BATCH_ROWS = 2
    source, good = imported
    rows = focus_rows(NOV, count=8)
    rows[6]["BillingCurrency"] = "EUR"
    path = write_csv(tmp_path / "mixed.csv", FOCUS_COLUMNS, rows)
    fails_and_keeps_previous(
        source,
        good,
        path,
        f"{path}, row 8, column BillingCurrency: currency EUR differs from USD used by billing account "
        f"111122223333 (first seen in {path}, row 2); a billing account is invoiced in one currency, so the "
        "export mixes currencies and cannot be reconciled.",
    )


def test_a_cell_that_is_not_a_currency_code_fails(tmp_path, imported):
    source, good = imported
    rows = focus_rows(NOV, count=4)
    rows[2]["BillingCurrency"] = "US$"
    path = write_csv(tmp_path / "bad-currency.csv", FOCUS_COLUMNS, rows)
    fails_and_keeps_previous(
        source, good, path, f"{path}, row 4, column BillingCurrency: “US$” is not an ISO 4217 currency code."
    )


def test_a_bad_parquet_file_fails_with_a_message(tmp_path, imported):
    source, good = imported
    path = tmp_path / "broken.parquet"
    write_focus_parquet(path, focus_rows(NOV, count=5))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, location=str(path))
    assert str(raised.value).startswith(f"{path}: is not a readable Parquet file (")
    good.refresh_from_db()
    assert good.is_current and CostLineItem.objects.count() == 9


def test_a_file_whose_month_was_replaced_since_is_read_again(tmp_path, make_source):
    source = make_source(location=str(tmp_path))
    both = write_csv(
        tmp_path / "both.csv", FOCUS_COLUMNS, focus_rows(NOV, count=4) + focus_rows(DEC, count=3)
    )
    cost_import_run(source=source, location=str(both))
    december = write_csv(tmp_path / "dec.csv", FOCUS_COLUMNS, focus_rows(DEC, count=6, salt=2))
    cost_import_run(source=source, location=str(december))

    again = cost_import_run(source=source, location=str(both))

    assert [(i.billing_period_start, i.row_count) for i in again.imports] == [(NOV, 4), (DEC, 3)]
    assert CostImport.objects.filter(is_current=True).count() == 2
    assert cost_import_run(source=source, location=str(both)).imports == []
