"""CUR legacy, CUR 2.0 and Cost Explorer through moto's server mode (real HTTP on 127.0.0.1)."""

import gzip
from datetime import date
from decimal import Decimal

import pytest

from costs.choices import CostImportStatusChoices
from costs.ingest.errors import CostImportError
from costs.ingest.plan import periods_to_pull
from costs.models import CostImport, CostLineItem
from costs.selectors.imports import billing_totals, line_item_details, line_item_totals
from costs.services.imports import cost_import_run
from tests.costs.billing_files import (
    CUR_ITEMS_EFFECTIVE,
    CUR_LEGACY_COLUMNS,
    FOCUS_COLUMNS,
    billed_totals_in_file,
    cur2_manifest,
    cur_legacy_rows,
    focus_rows,
    legacy_manifest,
    legacy_to_cur2,
    write_csv,
    write_cur2_parquet,
    write_focus_parquet,
)
from tests.costs.conftest import TEST_SECRET, queue_cost_explorer_results

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)
CENT = Decimal("0.01")
LEGACY_PREFIX = "cur/propylon-cur"
LEGACY_FOLDER = f"{LEGACY_PREFIX}/20261101-20261201"
LEGACY_MANIFEST = f"{LEGACY_FOLDER}/propylon-cur-Manifest.json"


def cents(value) -> Decimal:
    return Decimal(value).quantize(CENT)


def put_file(s3, key: str, path) -> None:
    s3.put_object(Bucket="billing", Key=key, Body=path.read_bytes())


def deliver_legacy(s3, tmp_path, *, assembly_id: str, scale: int = 1, parts: int = 2):
    """One legacy CUR delivery of November: gzip CSV parts and the manifest pointing at them."""
    rows = cur_legacy_rows(NOV, scale=scale)
    keys, paths = [], []
    for part in range(parts):
        path = tmp_path / f"{assembly_id}-{part}.csv.gz"
        write_csv(path, CUR_LEGACY_COLUMNS, rows[part::parts], gz=True)
        key = f"{LEGACY_FOLDER}/{assembly_id}/propylon-cur-0000{part + 1}.csv.gz"
        put_file(s3, key, path)
        keys.append(key)
        paths.append(path)
    manifest = legacy_manifest(
        NOV, assembly_id=assembly_id, bucket="billing", keys=keys, report="propylon-cur"
    )
    s3.put_object(Bucket="billing", Key=LEGACY_MANIFEST, Body=manifest)
    return paths


def file_billed(paths, cost_column: str, currency_column: str) -> Decimal:
    return sum(
        (
            billed_totals_in_file(p, cost_column=cost_column, currency_column=currency_column)["USD"]
            for p in paths
        ),
        Decimal(0),
    )


def test_legacy_cur_is_read_through_its_manifest_with_amortised_effective_cost(
    s3, tmp_path, make_source, aws
):
    paths = deliver_legacy(s3, tmp_path, assembly_id="a1")
    # A stray file next to the delivery: a listing would pick it up, the manifest does not.
    put_file(s3, f"{LEGACY_FOLDER}/old/propylon-cur-00001.csv.gz", paths[0])
    source = make_source(name="CUR", kind="aws_cur", location=f"s3://billing/{LEGACY_PREFIX}", endpoint=aws)

    outcome = cost_import_run(source=source, periods=[NOV])

    (cost_import,) = outcome.imports
    assert cost_import.identifier == "a1" and cost_import.billing_period_start == NOV
    assert cost_import.row_count == 8 == CostLineItem.objects.count()
    expected = file_billed(paths, "lineItem/UnblendedCost", "lineItem/CurrencyCode")
    assert expected == Decimal("44.7345678902")
    assert Decimal(cost_import.totals["USD"]["billed"]) == expected
    assert Decimal(cost_import.totals["USD"]["effective"]) == CUR_ITEMS_EFFECTIVE
    checked = line_item_totals(cost_import)["USD"]
    assert cents(checked["billed"]) == cents(expected) and cents(checked["effective"]) == cents(
        CUR_ITEMS_EFFECTIVE
    )
    (fee,) = line_item_details(provider_charge_type="SavingsPlanRecurringFee")
    assert (fee["charge_category"], fee["effective_cost"], fee["tags"]) == ("Purchase", Decimal("2.5"), {})
    (covered,) = line_item_details(provider_charge_type="SavingsPlanCoveredUsage")
    assert covered["tags"] == {"user:use-case": "UC-0002", "user:team": "ml"}
    assert covered["tags_normalized"] == {"use_case": "uc-0002", "team": "ml"}
    assert [f["name"] for f in cost_import.files] == [
        f"s3://billing/{LEGACY_FOLDER}/a1/propylon-cur-0000{n}.csv.gz" for n in (1, 2)
    ]


def test_a_restated_month_replaces_the_period_and_the_same_manifest_is_a_no_op(
    s3, tmp_path, make_source, aws
):
    source = make_source(name="CUR", kind="aws_cur", location=f"s3://billing/{LEGACY_PREFIX}", endpoint=aws)
    deliver_legacy(s3, tmp_path, assembly_id="a1")
    (first,) = cost_import_run(source=source, periods=[NOV]).imports

    again = cost_import_run(source=source, periods=[NOV])
    assert again.imports == [] and again.unchanged == [
        f"s3://billing/{LEGACY_MANIFEST}: already imported as #{first.pk}"
    ]

    paths = deliver_legacy(s3, tmp_path, assembly_id="a2", scale=3, parts=3)
    (restated,) = cost_import_run(source=source, periods=[NOV]).imports

    first.refresh_from_db()
    assert (first.is_current, first.status) == (False, CostImportStatusChoices.SUPERSEDED)
    assert restated.is_current and restated.replaced == first and restated.identifier == "a2"
    expected = file_billed(paths, "lineItem/UnblendedCost", "lineItem/CurrencyCode")
    totals = billing_totals(source=source, period_start=NOV, period_end=DEC)
    assert totals["USD"]["billed"] == expected == Decimal(restated.totals["USD"]["billed"])
    assert CostLineItem.objects.filter(source=source).count() == 8
    assert set(CostLineItem.objects.values_list("cost_import", flat=True)) == {restated.pk}


def test_a_missing_manifest_is_skipped_by_the_schedule_but_an_explicit_one_fails(s3, make_source, aws):
    source = make_source(name="CUR", kind="aws_cur", location=f"s3://billing/{LEGACY_PREFIX}", endpoint=aws)
    outcome = cost_import_run(source=source, periods=[NOV])
    assert outcome.imports == [] and outcome.skipped == [
        f"s3://billing/{LEGACY_MANIFEST}: no manifest delivered yet"
    ]
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, location=f"s3://billing/{LEGACY_MANIFEST}")
    assert (
        str(raised.value)
        == f"s3://billing/{LEGACY_MANIFEST}: cannot be read from S3 (NoSuchKey: The specified key does not exist.)."
    )


def test_a_manifest_listing_a_missing_file_fails_and_keeps_the_period(s3, tmp_path, make_source, aws):
    source = make_source(name="CUR", kind="aws_cur", location=f"s3://billing/{LEGACY_PREFIX}", endpoint=aws)
    deliver_legacy(s3, tmp_path, assembly_id="a1")
    (good,) = cost_import_run(source=source, periods=[NOV]).imports
    key = f"{LEGACY_FOLDER}/a3/propylon-cur-00001.csv.gz"
    manifest = legacy_manifest(NOV, assembly_id="a3", bucket="billing", keys=[key], report="propylon-cur")
    s3.put_object(Bucket="billing", Key=LEGACY_MANIFEST, Body=manifest)
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, periods=[NOV])
    assert str(raised.value) == f"s3://billing/{key}: cannot be read from S3 (404: Not Found)."
    good.refresh_from_db()
    assert good.is_current and CostLineItem.objects.count() == 8


def test_a_truncated_cur_part_in_s3_fails_and_keeps_the_period(s3, tmp_path, make_source, aws, settings):
    settings.PROPYLON_COST_IMPORT_BATCH_ROWS = 2
    source = make_source(name="CUR", kind="aws_cur", location=f"s3://billing/{LEGACY_PREFIX}", endpoint=aws)
    deliver_legacy(s3, tmp_path, assembly_id="a1")
    (good,) = cost_import_run(source=source, periods=[NOV]).imports
    key = f"{LEGACY_FOLDER}/a4/propylon-cur-00001.csv.gz"
    whole = gzip.compress(
        write_csv(tmp_path / "big.csv", CUR_LEGACY_COLUMNS, cur_legacy_rows(NOV) * 50).read_bytes()
    )
    s3.put_object(Bucket="billing", Key=key, Body=whole[: len(whole) // 2])
    s3.put_object(
        Bucket="billing",
        Key=LEGACY_MANIFEST,
        Body=legacy_manifest(NOV, assembly_id="a4", bucket="billing", keys=[key], report="propylon-cur"),
    )
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, periods=[NOV])
    assert str(raised.value).startswith(f"s3://billing/{key}, row ")
    assert str(raised.value).endswith(
        ": the gzip stream ends early: the file is truncated (an interrupted upload or copy)."
    )
    good.refresh_from_db()
    assert good.is_current and set(CostLineItem.objects.values_list("cost_import", flat=True)) == {good.pk}
    assert CostImport.objects.get(identifier="a4").status == CostImportStatusChoices.FAILED


def test_cur2_parquet_through_its_manifest(s3, tmp_path, make_source, aws):
    export = "exports/propylon-cur2"
    rows = [legacy_to_cur2(row) for row in cur_legacy_rows(NOV)]
    data_keys = []
    paths = []
    for part in range(2):
        path = write_cur2_parquet(tmp_path / f"part-{part}.snappy.parquet", rows[part::2])
        key = f"{export}/data/BILLING_PERIOD=2026-11/propylon-cur2-0000{part + 1}.snappy.parquet"
        put_file(s3, key, path)
        data_keys.append(f"s3://billing/{key}")
        paths.append(path)
    put_file(s3, f"{export}/data/BILLING_PERIOD=2026-11/stale-00009.snappy.parquet", paths[0])
    manifest_key = f"{export}/metadata/BILLING_PERIOD=2026-11/propylon-cur2-Manifest.json"
    s3.put_object(
        Bucket="billing", Key=manifest_key, Body=cur2_manifest(NOV, execution_id="e-1", data_files=data_keys)
    )
    source = make_source(name="CUR 2.0", kind="aws_cur2", location=f"s3://billing/{export}", endpoint=aws)

    (cost_import,) = cost_import_run(source=source, periods=[NOV]).imports

    assert cost_import.identifier == "e-1" and cost_import.row_count == 8
    expected = file_billed(paths, "line_item_unblended_cost", "line_item_currency_code")
    assert cents(cost_import.totals["USD"]["billed"]) == cents(expected) == Decimal("44.73")
    assert Decimal(cost_import.totals["USD"]["effective"]) == CUR_ITEMS_EFFECTIVE
    assert cents(line_item_totals(cost_import)["USD"]["billed"]) == cents(expected)
    assert len(line_item_details(tags_normalized__use_case="uc-0001")) == 2
    assert len(line_item_details(tags__user_use_case="UC-0002")) == 2


def test_focus_parquet_from_an_s3_prefix(s3, tmp_path, make_source, aws):
    path = write_focus_parquet(tmp_path / "focus.parquet", focus_rows(NOV, count=30))
    put_file(s3, "focus/2026-11/part-0.parquet", path)
    source = make_source(name="FOCUS S3", location="s3://billing/focus/", endpoint=aws)
    (cost_import,) = cost_import_run(source=source).imports
    expected = billed_totals_in_file(path, cost_column="BilledCost", currency_column="BillingCurrency")
    assert Decimal(cost_import.totals["USD"]["billed"]) == expected["USD"]
    assert cents(line_item_totals(cost_import)["USD"]["billed"]) == cents(expected["USD"])
    assert cost_import_run(source=source).imports == []  # same ETags: unchanged


def test_credentials_are_never_in_a_message(s3, make_source, aws):
    source = make_source(name="CUR", kind="aws_cur", location="s3://no-such-bucket/cur/r", endpoint=aws)
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, location="s3://no-such-bucket/cur/r/r-Manifest.json")
    assert TEST_SECRET not in str(raised.value)
    assert "NoSuchBucket" in str(raised.value)


#
# Cost Explorer
#


def ce_day(day: str, groups: list[tuple[str, str, str, str]], *, estimated: bool = False) -> dict:
    end = f"{day[:8]}{int(day[8:]) + 1:02d}"
    return {
        "TimePeriod": {"Start": day, "End": end},
        "Total": {},
        "Groups": [
            {
                "Keys": [tag, service],
                "Metrics": {
                    "UnblendedCost": {"Amount": billed, "Unit": "USD"},
                    "AmortizedCost": {"Amount": effective, "Unit": "USD"},
                },
            }
            for tag, service, billed, effective in groups
        ],
        "Estimated": estimated,
    }


def test_cost_explorer_two_pages_grouped_by_tag_and_service(aws, make_source):
    page_one = {
        "GroupDefinitions": [{"Type": "TAG", "Key": "use-case"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
        "ResultsByTime": [
            ce_day("2026-11-01", [("use-case$UC-0001", "Amazon Bedrock", "12.3456789012", "11.0000000001"),
                                  ("use-case$", "Amazon EC2", "4.5000000000", "4.5000000000")]),
        ],
        "NextPageToken": "page-2",
        "DimensionValueAttributes": [],
    }  # fmt: skip
    page_two = {
        "GroupDefinitions": page_one["GroupDefinitions"],
        "ResultsByTime": [
            ce_day(
                "2026-11-02",
                [("use-case$UC-0002", "Amazon SageMaker", "7.0000000001", "6.5")],
                estimated=True,
            )
        ],
        "DimensionValueAttributes": [],
    }
    queue_cost_explorer_results(aws, [page_one, page_two])
    source = make_source(name="Cost Explorer", kind="aws_cost_explorer", endpoint=aws)

    (cost_import,) = cost_import_run(source=source, periods=[NOV]).imports

    assert cost_import.row_count == 3 and cost_import.is_estimated
    assert cost_import.totals["USD"] == {
        "billed": "23.8456789013",
        "effective": "22.0000000001",
        "list": "0",
        "rows": 3,
    }
    assert cents(line_item_totals(cost_import)["USD"]["billed"]) == Decimal("23.85")
    (untagged,) = line_item_details(service_name="Amazon EC2")
    assert untagged["tags"] == {} and untagged["list_cost"] is None
    (sagemaker,) = line_item_details(service_name="Amazon SageMaker")
    assert sagemaker["tags"] == {"use-case": "UC-0002"}
    # An estimated month is pulled again by the schedule until Cost Explorer says it is final.
    assert NOV in periods_to_pull(source, today=date(2027, 3, 20))


def test_a_bad_cost_explorer_amount_fails_with_its_place(aws, make_source):
    queue_cost_explorer_results(
        aws,
        [{"ResultsByTime": [ce_day("2026-11-03", [("use-case$UC-0001", "Amazon Bedrock", "n/a", "1")])]}],
    )
    source = make_source(name="Cost Explorer", kind="aws_cost_explorer", endpoint=aws)
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source, periods=[NOV])
    assert str(raised.value) == (
        "Cost Explorer, row page 1, 2026-11-03, group use-case$UC-0001 / Amazon Bedrock, column UnblendedCost: "
        "“n/a” is not a number."
    )
    assert not CostLineItem.objects.exists()


def test_local_cur_manifest_resolves_keys_in_a_synced_copy(tmp_path, make_source):
    bucket = tmp_path / "billing"
    folder = bucket / LEGACY_FOLDER / "a9"
    folder.mkdir(parents=True)
    path = write_csv(folder / "propylon-cur-00001.csv.gz", CUR_LEGACY_COLUMNS, cur_legacy_rows(NOV), gz=True)
    manifest = bucket / LEGACY_MANIFEST
    key = f"{LEGACY_FOLDER}/a9/propylon-cur-00001.csv.gz"
    manifest.write_bytes(
        legacy_manifest(NOV, assembly_id="a9", bucket="billing", keys=[key], report="propylon-cur")
    )
    source = make_source(name="CUR local", kind="aws_cur", location=str(bucket / LEGACY_PREFIX))
    (cost_import,) = cost_import_run(source=source, location=str(manifest)).imports
    expected = billed_totals_in_file(
        path, cost_column="lineItem/UnblendedCost", currency_column="lineItem/CurrencyCode"
    )
    assert Decimal(cost_import.totals["USD"]["billed"]) == expected["USD"]


def test_a_focus_file_with_a_missing_column_in_parquet_names_the_column(tmp_path, make_source):
    rows = focus_rows(NOV, count=3)
    path = write_focus_parquet(tmp_path / "f.parquet", rows)
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(path).drop(["BillingCurrency"]), path)
    source = make_source(location=str(path))
    with pytest.raises(CostImportError) as raised:
        cost_import_run(source=source)
    assert (
        str(raised.value)
        == f"{path}, column BillingCurrency: the required FOCUS column BillingCurrency is missing."
    )
    assert FOCUS_COLUMNS  # the generator's header is the FOCUS one


def test_a_role_to_assume_is_used_for_reading(s3, tmp_path, make_source, aws):
    path = write_focus_parquet(tmp_path / "focus.parquet", focus_rows(NOV, count=4))
    put_file(s3, "focus/role/part-0.parquet", path)
    source = make_source(
        name="FOCUS via role",
        location="s3://billing/focus/role/",
        endpoint=aws,
        role_arn="arn:aws:iam::123456789012:role/propylon-billing-reader",
        external_id="propylon",
    )
    (cost_import,) = cost_import_run(source=source).imports
    assert cost_import.row_count == 4


def test_an_aws_focus_export_is_read_through_its_data_exports_manifest(s3, tmp_path, make_source, aws):
    export = "focus-export/propylon-focus"
    path = write_focus_parquet(tmp_path / "focus.parquet", focus_rows(NOV, count=9))
    key = f"{export}/data/BILLING_PERIOD=2026-11/propylon-focus-00001.snappy.parquet"
    put_file(s3, key, path)
    put_file(s3, f"{export}/data/BILLING_PERIOD=2026-11/left-over-00007.snappy.parquet", path)
    manifest_key = f"{export}/metadata/BILLING_PERIOD=2026-11/propylon-focus-Manifest.json"
    s3.put_object(
        Bucket="billing",
        Key=manifest_key,
        Body=cur2_manifest(NOV, execution_id="f-1", data_files=[f"s3://billing/{key}"]),
    )
    source = make_source(name="AWS FOCUS", endpoint=aws)
    (cost_import,) = cost_import_run(source=source, location=f"s3://billing/{manifest_key}").imports
    assert (cost_import.identifier, cost_import.row_count) == ("f-1", 9)
    expected = billed_totals_in_file(path, cost_column="BilledCost", currency_column="BillingCurrency")
    assert Decimal(cost_import.totals["USD"]["billed"]) == expected["USD"]
