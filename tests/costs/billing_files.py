"""Real-format billing files for the tests: FOCUS (CSV, CSV.gz, Parquet), CUR legacy and CUR 2.0
with their manifests. Totals are read back from the written files independently of the parser."""

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from portal.dates import next_month

FOCUS_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ProviderName", "PublisherName",
    "InvoiceIssuerName", "ServiceName", "ServiceCategory", "SubAccountId", "ResourceId", "RegionId", "SkuId",
    "ConsumedQuantity", "ConsumedUnit", "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "Tags",
    "x_ServiceCode",
]  # fmt: skip
TIME = "%Y-%m-%dT%H:%M:%SZ"


def focus_rows(
    month: date, *, count: int = 12, currency: str = "USD", account: str = "111122223333", salt: int = 0
) -> list[dict[str, str]]:
    """``count`` FOCUS rows of one month: tagged usage for UC-0001/UC-0002, an untagged row, a
    credit, a tax row, literal NULL and empty cells, ten decimal places."""
    rows = []
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    for i in range(count):
        day = start + timedelta(days=i % 27)
        billed = Decimal(i * 7 % 13 + salt) + Decimal("0.0123456789") * (i + 1)
        category, tags = "Usage", {"use-case": f"UC-000{1 + i % 2}", "Team": "Support Automation"}
        if i % 5 == 3:
            tags = {}
        if i == count - 2:
            category, billed, tags = "Credit", Decimal("-1.2500000000"), {}
        if i == count - 1:
            category, billed, tags = "Tax", Decimal("0.8765432100"), {}
        rows.append({
            "BillingAccountId": account, "BillingAccountName": "Demo payer", "BillingCurrency": currency,
            "BillingPeriodStart": start.strftime(TIME), "BillingPeriodEnd": datetime.combine(
                next_month(month), datetime.min.time(), tzinfo=UTC).strftime(TIME),
            "ChargePeriodStart": day.strftime(TIME), "ChargePeriodEnd": (day + timedelta(days=1)).strftime(TIME),
            "ChargeCategory": category, "ChargeClass": "NULL" if i % 2 else "", "ProviderName": "AWS",
            "PublisherName": "AWS", "InvoiceIssuerName": "AWS", "ServiceName": ["Amazon Bedrock", "Amazon SageMaker",
            "Amazon EC2"][i % 3], "ServiceCategory": "AI and Machine Learning", "SubAccountId": "444455556666",
            "ResourceId": "NULL" if category != "Usage" else f"arn:aws:sagemaker:eu-west-1:4444:endpoint/ep-{i}",
            "RegionId": "eu-west-1", "SkuId": f"SKU{i:04d}", "ConsumedQuantity": f"{i + 0.5}",
            "ConsumedUnit": "Hours", "BilledCost": f"{billed:.10f}",
            "EffectiveCost": f"{billed * Decimal('0.9'):.10f}" if category == "Usage" else f"{billed:.10f}",
            "ListCost": "" if i == 1 else f"{abs(billed) * Decimal('1.2'):.10f}", "ContractedCost": f"{billed:.10f}",
            "Tags": json.dumps(tags) if tags else ("NULL" if i % 2 else "{}"), "x_ServiceCode": "AmazonSageMaker",
        })  # fmt: skip
    return rows


def write_csv(path: Path, columns: list[str], rows: list[dict], *, gz: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _typed(value: str, kind: str):
    if value in ("", "NULL"):
        return None
    if kind == "decimal":
        return Decimal(value)
    if kind == "time":
        return datetime.strptime(value, TIME).replace(tzinfo=UTC)
    return value


def write_focus_parquet(path: Path, rows: list[dict]) -> Path:
    """Parquet as exporters write it: decimals, UTC timestamps, strings; NULL cells are nulls."""
    kinds = {"BilledCost": "decimal", "EffectiveCost": "decimal", "ListCost": "decimal", "ContractedCost": "decimal",
             "ConsumedQuantity": "decimal", "BillingPeriodStart": "time", "BillingPeriodEnd": "time",
             "ChargePeriodStart": "time", "ChargePeriodEnd": "time"}  # fmt: skip
    types = {"decimal": pa.decimal128(38, 10), "time": pa.timestamp("us", tz="UTC"), "text": pa.string()}
    arrays, fields = [], []
    for column in FOCUS_COLUMNS:
        kind = kinds.get(column, "text")
        arrays.append(pa.array([_typed(row[column], kind) for row in rows], type=types[kind]))
        fields.append(pa.field(column, types[kind]))
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path, row_group_size=4)
    return path


def billed_totals_in_file(path: Path, *, cost_column: str, currency_column: str) -> dict[str, Decimal]:
    """Sum of the billed-cost column per currency, read straight from the file."""
    totals: dict[str, Decimal] = {}
    if path.name.endswith(".parquet"):
        table = pq.read_table(path, columns=[cost_column, currency_column]).to_pylist()
        records = [(row[currency_column], row[cost_column]) for row in table]
    else:
        text = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        reader = csv.DictReader(io.StringIO(text.decode()))
        records = [(row[currency_column], row[cost_column]) for row in reader]
    for currency, cost in records:
        totals[currency] = totals.get(currency, Decimal(0)) + Decimal(str(cost))
    return totals


#
# AWS CUR
#

CUR_LEGACY_COLUMNS = [
    "identity/LineItemId", "bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate", "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId",
    "lineItem/UsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedCost", "pricing/publicOnDemandCost",
    "pricing/unit", "product/ProductName", "product/productFamily", "product/region", "product/sku",
    "reservation/EffectiveCost", "reservation/ReservationARN",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/TotalCommitmentToDate", "savingsPlan/UsedCommitment",
    "resourceTags/user:use-case", "resourceTags/user:team",
]  # fmt: skip
CUR_ITEMS = [
    # type, unblended, public, ri_eff, ri_arn, ri_unused_fee, ri_unused_rec, sp_eff, sp_total, sp_used, tag
    ("Usage", "10.5000000000", "12.0000000000", "", "", "", "", "", "", "", "UC-0001"),
    ("SavingsPlanCoveredUsage", "8.0000000000", "8.0000000000", "", "", "", "", "5.2500000000", "", "", "UC-0002"),
    ("SavingsPlanNegation", "-8.0000000000", "0", "", "", "", "", "", "", "", "UC-0002"),
    ("SavingsPlanRecurringFee", "30.0000000000", "0", "", "", "", "", "", "30.0000000000", "27.5000000000", ""),
    ("DiscountedUsage", "0", "4.0000000000", "2.1000000000", "arn:aws:ec2:ri/1", "", "", "", "", "", "UC-0001"),
    ("RIFee", "3.0000000000", "0", "", "arn:aws:ec2:ri/1", "0.4000000000", "0.3500000000", "", "", "", ""),
    ("Tax", "1.2345678901", "0", "", "", "", "", "", "", "", ""),
    ("Usage", "0.0000000001", "0.0000000002", "", "", "", "", "", "", "", ""),
]  # fmt: skip
# Effective (amortised) cost of CUR_ITEMS by AWS's formula: 10.5 + 5.25 + 0 + 2.5 + 2.1 + 0.75 + 1.2345678901 + 1e-10
CUR_ITEMS_EFFECTIVE = Decimal("22.3345678902")


def cur_legacy_rows(month: date, *, scale: int = 1) -> list[dict]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    rows = []
    for number, (
        kind,
        cost,
        public,
        ri_eff,
        ri_arn,
        ri_fee,
        ri_rec,
        sp_eff,
        sp_total,
        sp_used,
        tag,
    ) in enumerate(CUR_ITEMS):
        day = start + timedelta(days=number)
        rows.append({
            "identity/LineItemId": f"li-{number}", "bill/BillType": "Anniversary", "bill/PayerAccountId": "999988887777",
            "bill/BillingPeriodStartDate": start.strftime(TIME),
            "bill/BillingPeriodEndDate": datetime.combine(next_month(month), datetime.min.time(), tzinfo=UTC).strftime(TIME),
            "lineItem/UsageAccountId": "123412341234", "lineItem/LineItemType": kind,
            "lineItem/UsageStartDate": day.strftime(TIME), "lineItem/UsageEndDate": (day + timedelta(hours=1)).strftime(TIME),
            "lineItem/ProductCode": "AmazonSageMaker", "lineItem/UsageType": "EU-ml.g5.xlarge",
            "lineItem/ResourceId": f"arn:aws:sagemaker:eu-west-1:1234:endpoint/e{number}" if kind.endswith("Usage") else "",
            "lineItem/UsageAmount": "1", "lineItem/CurrencyCode": "USD",
            "lineItem/UnblendedCost": str(Decimal(cost) * scale), "pricing/publicOnDemandCost": public, "pricing/unit": "Hrs",
            "product/ProductName": "Amazon SageMaker", "product/productFamily": "ML Instance", "product/region": "eu-west-1",
            "product/sku": "ABCD1234", "reservation/EffectiveCost": ri_eff, "reservation/ReservationARN": ri_arn,
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": ri_fee, "reservation/UnusedRecurringFee": ri_rec,
            "savingsPlan/SavingsPlanEffectiveCost": sp_eff, "savingsPlan/TotalCommitmentToDate": sp_total,
            "savingsPlan/UsedCommitment": sp_used, "resourceTags/user:use-case": tag, "resourceTags/user:team": "ml" if tag else "",
        })  # fmt: skip
    return rows


def legacy_manifest(month: date, *, assembly_id: str, bucket: str, keys: list[str], report: str) -> bytes:
    return json.dumps({
        "assemblyId": assembly_id, "account": "999988887777", "bucket": bucket, "reportName": report,
        "reportId": "r-1", "compression": "GZIP", "contentType": "text/csv",
        "billingPeriod": {"start": f"{month:%Y%m%d}T000000.000Z", "end": f"{next_month(month):%Y%m%d}T000000.000Z"},
        "columns": [{"category": c.split("/")[0], "name": c.split("/")[1], "type": "String"} for c in CUR_LEGACY_COLUMNS],
        "reportKeys": keys,
    }).encode()  # fmt: skip


def legacy_to_cur2(row: dict) -> dict:
    """The same line item in CUR 2.0 naming: snake_case columns and one resource_tags map."""
    names = {
        "identity/LineItemId": "identity_line_item_id", "bill/BillType": "bill_bill_type",
        "bill/PayerAccountId": "bill_payer_account_id", "bill/BillingPeriodStartDate": "bill_billing_period_start_date",
        "bill/BillingPeriodEndDate": "bill_billing_period_end_date", "lineItem/UsageAccountId": "line_item_usage_account_id",
        "lineItem/LineItemType": "line_item_line_item_type", "lineItem/UsageStartDate": "line_item_usage_start_date",
        "lineItem/UsageEndDate": "line_item_usage_end_date", "lineItem/ProductCode": "line_item_product_code",
        "lineItem/UsageType": "line_item_usage_type", "lineItem/ResourceId": "line_item_resource_id",
        "lineItem/UsageAmount": "line_item_usage_amount", "lineItem/CurrencyCode": "line_item_currency_code",
        "lineItem/UnblendedCost": "line_item_unblended_cost", "pricing/publicOnDemandCost": "pricing_public_on_demand_cost",
        "pricing/unit": "pricing_unit", "product/productFamily": "product_product_family",
        "product/region": "product_region_code", "product/sku": "product_sku", "reservation/EffectiveCost": "reservation_effective_cost",
        "reservation/ReservationARN": "reservation_reservation_a_r_n",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation/UnusedRecurringFee": "reservation_unused_recurring_fee",
        "savingsPlan/SavingsPlanEffectiveCost": "savings_plan_savings_plan_effective_cost",
        "savingsPlan/TotalCommitmentToDate": "savings_plan_total_commitment_to_date",
        "savingsPlan/UsedCommitment": "savings_plan_used_commitment",
    }  # fmt: skip
    result = {new: row[old] for old, new in names.items()}
    tags = {}
    if row["resourceTags/user:use-case"]:
        tags["user_use_case"] = row["resourceTags/user:use-case"]
    if row["resourceTags/user:team"]:
        tags["user_team"] = row["resourceTags/user:team"]
    result["resource_tags"] = tags
    return result


def write_cur2_parquet(path: Path, rows: list[dict]) -> Path:
    """CUR 2.0 Parquet: doubles for money (as AWS writes them), timestamps, a map of tags."""
    money = {"line_item_unblended_cost", "pricing_public_on_demand_cost", "reservation_effective_cost",
             "reservation_unused_amortized_upfront_fee_for_billing_period", "reservation_unused_recurring_fee",
             "savings_plan_savings_plan_effective_cost", "savings_plan_total_commitment_to_date",
             "savings_plan_used_commitment", "line_item_usage_amount"}  # fmt: skip
    times = {"bill_billing_period_start_date", "bill_billing_period_end_date", "line_item_usage_start_date",
             "line_item_usage_end_date"}  # fmt: skip
    arrays, fields = [], []
    for column in rows[0]:
        if column == "resource_tags":
            kind = pa.map_(pa.string(), pa.string())
            values = [list(row[column].items()) for row in rows]
        elif column in money:
            kind = pa.float64()
            values = [float(row[column]) if row[column] not in ("",) else None for row in rows]
        elif column in times:
            kind = pa.timestamp("ms")
            # CUR 2.0 writes timestamps without a zone; they are UTC.
            values = [datetime.strptime(row[column], TIME).replace(tzinfo=None) for row in rows]  # noqa: DTZ007
        else:
            kind = pa.string()
            values = [row[column] for row in rows]
        arrays.append(pa.array(values, type=kind))
        fields.append(pa.field(column, kind))
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path)
    return path


def cur2_manifest(month: date, *, execution_id: str, data_files: list[str]) -> bytes:
    return json.dumps({
        "executionId": execution_id, "exportArn": "arn:aws:bcm-data-exports:us-east-1:999988887777:export/e",
        "exportName": "propylon-cur2", "billingPeriod": {"start": f"{month:%Y-%m-%d}T00:00:00.000Z",
        "end": f"{next_month(month):%Y-%m-%d}T00:00:00.000Z"}, "dataFiles": data_files,
        "columns": [{"name": "line_item_unblended_cost", "type": "double"}],
    }).encode()  # fmt: skip
