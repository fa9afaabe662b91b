"""AWS Cost and Usage Reports, legacy and 2.0 (Data Exports), read through their manifest.

The manifest says which files make the billing period's current snapshot; a bucket listing may
hold files of an older delivery or a half-written one, so it is never trusted. Legacy manifests
carry ``assemblyId``, ``billingPeriod`` and ``reportKeys`` (keys in the report's bucket); CUR 2.0
manifests carry ``executionId``, ``billingPeriod`` and ``dataFiles`` (s3:// addresses).

Column names come in three spellings: legacy CSV ``lineItem/UnblendedCost``, legacy Athena or
Parquet ``line_item_unblended_cost`` and CUR 2.0 ``line_item_unblended_cost``. Lower-casing and
dropping everything but letters and digits makes them one key (``lineitemunblendedcost``).
Tags are one column per key in legacy reports (``resourceTags/user:team``,
``resource_tags_user_team``) and one map column ``resource_tags`` in CUR 2.0.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from costs.choices import ChargeCategoryChoices
from costs.ingest import normalize as n
from costs.ingest.errors import CostImportError
from costs.ingest.readers import InputFile, iter_records

COLUMNS: dict[str, tuple[str, ...]] = {
    "billing_period_start": ("billbillingperiodstartdate",),
    "billing_period_end": ("billbillingperiodenddate",),
    "charge_period_start": ("lineitemusagestartdate",),
    "charge_period_end": ("lineitemusageenddate",),
    "billing_account_id": ("billpayeraccountid",),
    "sub_account_id": ("lineitemusageaccountid",),
    "service_name": ("productproductname", "lineitemproductcode"),
    "service_category": ("productproductfamily",),
    "resource_id": ("lineitemresourceid",),
    "region": ("productregioncode", "productregion", "lineitemavailabilityzone"),
    "sku_id": ("productsku",),
    "line_item_type": ("lineitemlineitemtype",),
    "usage_quantity": ("lineitemusageamount",),
    "usage_unit": ("pricingunit",),
    "unblended_cost": ("lineitemunblendedcost",),
    "currency": ("lineitemcurrencycode",),
    "public_cost": ("pricingpublicondemandcost",),
    "sp_effective_cost": ("savingsplansavingsplaneffectivecost",),
    "sp_total_commitment": ("savingsplantotalcommitmenttodate",),
    "sp_used_commitment": ("savingsplanusedcommitment",),
    "ri_effective_cost": ("reservationeffectivecost",),
    "ri_unused_amortized_fee": ("reservationunusedamortizedupfrontfeeforbillingperiod",),
    "ri_unused_recurring_fee": ("reservationunusedrecurringfee",),
    "ri_arn": ("reservationreservationarn",),
    "tags_map": ("resourcetags",),
}
REQUIRED = (
    "billing_period_start",
    "charge_period_start",
    "charge_period_end",
    "billing_account_id",
    "line_item_type",
    "unblended_cost",
    "currency",
)
# How each name appears in a legacy CSV header, for messages people can find in their file.
LEGACY_NAMES = {
    "billing_period_start": "bill/BillingPeriodStartDate",
    "charge_period_start": "lineItem/UsageStartDate",
    "charge_period_end": "lineItem/UsageEndDate",
    "billing_account_id": "bill/PayerAccountId",
    "line_item_type": "lineItem/LineItemType",
    "unblended_cost": "lineItem/UnblendedCost",
    "currency": "lineItem/CurrencyCode",
}
CUR2_NAMES = {
    "billing_period_start": "bill_billing_period_start_date",
    "charge_period_start": "line_item_usage_start_date",
    "charge_period_end": "line_item_usage_end_date",
    "billing_account_id": "bill_payer_account_id",
    "line_item_type": "line_item_line_item_type",
    "unblended_cost": "line_item_unblended_cost",
    "currency": "line_item_currency_code",
}
TAG_COLUMN_PREFIXES = ("resourcetags/", "resource_tags_")

# CUR line item types to FOCUS charge categories (FOCUS supporting_content/chargecategory.md).
CHARGE_CATEGORY = {
    "Usage": ChargeCategoryChoices.USAGE,
    "DiscountedUsage": ChargeCategoryChoices.USAGE,
    "SavingsPlanCoveredUsage": ChargeCategoryChoices.USAGE,
    "SavingsPlanNegation": ChargeCategoryChoices.USAGE,
    "Tax": ChargeCategoryChoices.TAX,
    "Credit": ChargeCategoryChoices.CREDIT,
    "Refund": ChargeCategoryChoices.CREDIT,
    "Discount": ChargeCategoryChoices.CREDIT,
    "BundledDiscount": ChargeCategoryChoices.CREDIT,
    "EdpDiscount": ChargeCategoryChoices.CREDIT,
    "PrivateRateDiscount": ChargeCategoryChoices.CREDIT,
    "Fee": ChargeCategoryChoices.PURCHASE,
    "RIFee": ChargeCategoryChoices.PURCHASE,
    "SavingsPlanUpfrontFee": ChargeCategoryChoices.PURCHASE,
    "SavingsPlanRecurringFee": ChargeCategoryChoices.PURCHASE,
}


def squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass
class Layout:
    columns: dict[str, str]  # our field → the file's column
    tag_columns: dict[str, str]  # the file's column → tag key as the source spells it
    legacy_csv: bool

    def name(self, field: str) -> str:
        if field in self.columns:
            return self.columns[field]
        return (LEGACY_NAMES if self.legacy_csv else CUR2_NAMES).get(field, field)


def resolve_layout(header: list[str], file_name: str, header_row: int | None) -> Layout:
    by_squashed = {}
    tag_columns = {}
    for column in header:
        lowered = column.lower()
        prefix = next((p for p in TAG_COLUMN_PREFIXES if lowered.startswith(p)), None)
        if prefix:
            tag_columns[column] = column[len(prefix) :]
        else:
            by_squashed.setdefault(squash(column), column)
    columns = {}
    for field, names in COLUMNS.items():
        for name in names:
            if name in by_squashed:
                columns[field] = by_squashed[name]
                break
    layout = Layout(columns=columns, tag_columns=tag_columns, legacy_csv=any("/" in c for c in header))
    missing = [layout.name(field) for field in REQUIRED if field not in columns]
    if missing:
        raise CostImportError(
            f"the required CUR column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing.",
            file=file_name,
            row=header_row,
            column=missing[0],
        )
    return layout


def _effective_cost(
    line_type: str, unblended: Decimal, money: Callable[[str], Decimal], ri_arn: str
) -> Decimal:
    """Amortised cost as AWS's own dashboards compute it (CID/CUDOS views; see
    docs/costs.md): commitments are spread over the usage they cover, so summing it over all
    rows does not count a commitment twice."""
    if line_type == "SavingsPlanCoveredUsage":
        return money("sp_effective_cost")
    if line_type == "SavingsPlanRecurringFee":
        return money("sp_total_commitment") - money("sp_used_commitment")
    if line_type in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if line_type == "DiscountedUsage":
        return money("ri_effective_cost")
    if line_type == "RIFee":
        return money("ri_unused_amortized_fee") + money("ri_unused_recurring_fee")
    if line_type == "Fee" and ri_arn:
        return Decimal(0)
    return unblended


def row_tags(record: dict, layout: Layout) -> n.TagMap:
    """The row's tags: CUR 2.0's map column, then the legacy one-column-per-key tags in file order."""
    tags = n.TagMap()
    if "tags_map" in layout.columns:
        tags = n.tags_from_json(record.get(layout.columns["tags_map"]), layout.name("tags_map"))
    for column, key in layout.tag_columns.items():
        value = record.get(column)
        if not n.is_null(value):
            tags.add(key, n.text(value, column).strip())
    return tags


def parse_row(record: dict, layout: Layout) -> dict:
    def cell(field: str):
        column = layout.columns.get(field)
        return record.get(column) if column else None

    def money(field: str) -> Decimal:
        if field not in layout.columns:
            raise CostImportError(
                "is needed to amortise this line item type but is not in the file.", column=layout.name(field)
            )
        return n.decimal(cell(field), layout.name(field), required=True)

    line_type = n.text(cell("line_item_type"), layout.name("line_item_type"), "provider_charge_type")
    if not line_type:
        raise CostImportError("is empty.", column=layout.name("line_item_type"))
    unblended = n.decimal(cell("unblended_cost"), layout.name("unblended_cost"), required=True)
    ri_arn = n.text(cell("ri_arn"))
    start = n.period_date(cell("billing_period_start"), layout.name("billing_period_start"))
    tags = row_tags(record, layout)
    row = {
        "billing_period_start": start,
        "billing_period_end": (
            n.period_date(cell("billing_period_end"), layout.name("billing_period_end"))
            if not n.is_null(cell("billing_period_end"))
            else None
        ),
        "charge_period_start": n.timestamp(cell("charge_period_start"), layout.name("charge_period_start")),
        "charge_period_end": n.timestamp(cell("charge_period_end"), layout.name("charge_period_end")),
        "provider": "AWS",
        "charge_category": CHARGE_CATEGORY.get(line_type, ChargeCategoryChoices.ADJUSTMENT),
        "charge_class": "",
        "provider_charge_type": line_type,
        "usage_quantity": n.decimal(
            cell("usage_quantity"), layout.name("usage_quantity"), required=False, limit=n.QUANTITY_LIMIT
        ),
        "billed_cost": unblended,
        "effective_cost": _effective_cost(line_type, unblended, money, ri_arn),
        "list_cost": n.decimal(cell("public_cost"), layout.name("public_cost"), required=False),
        "billing_currency": n.currency(cell("currency"), layout.name("currency")),
        "tags": tags,
    }
    for field in (
        "billing_account_id",
        "sub_account_id",
        "service_name",
        "service_category",
        "resource_id",
        "region",
        "sku_id",
        "usage_unit",
    ):
        row[field] = n.text(cell(field), layout.name(field), field)
    if not row["billing_account_id"]:
        raise CostImportError("is empty.", column=layout.name("billing_account_id"))
    return row


def rows(input_file: InputFile) -> Iterator[tuple[int, dict]]:
    """Normalised rows of one CUR file, one by one: the reference of the column-wise reader (see
    ``focus.rows``)."""
    layout = None
    for row_number, header, record in iter_records(input_file):
        if record is None:
            layout = resolve_layout(header, input_file.name, row_number or None)
            continue
        try:
            yield row_number, parse_row(record, layout)
        except CostImportError as exc:
            raise exc.located(file=input_file.name, row=row_number) from None


#
# Manifests
#


@dataclass
class Manifest:
    name: str
    identifier: str
    period_start: date
    period_end: date
    keys: list[str]  # data files as the manifest lists them: keys (legacy) or s3:// addresses (2.0)
    bucket: str


def parse_manifest(data: bytes, name: str, *, cur2: bool) -> Manifest:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CostImportError(f"is not a JSON manifest ({exc}).", file=name) from None
    if not isinstance(document, dict):
        raise CostImportError("is not a JSON object.", file=name)
    id_fields = ("executionId", "assemblyId") if cur2 else ("assemblyId", "executionId")
    identifier = next((str(document[f]) for f in id_fields if document.get(f)), "")
    if not identifier:
        raise CostImportError(
            f"has no {id_fields[0]}: it does not identify a delivery.", file=name, column=id_fields[0]
        )
    period = document.get("billingPeriod")
    if not isinstance(period, dict) or not period.get("start") or not period.get("end"):
        raise CostImportError("has no billingPeriod with start and end.", file=name, column="billingPeriod")
    try:
        start = n.period_date(period["start"], "billingPeriod.start")
        end = n.period_date(period["end"], "billingPeriod.end")
    except CostImportError as exc:
        raise exc.located(file=name) from None
    key_field = "dataFiles" if cur2 and "dataFiles" in document else "reportKeys"
    keys = document.get(key_field)
    if keys is None:
        raise CostImportError(f"lists no data files ({key_field} is missing).", file=name, column=key_field)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CostImportError(f"{key_field} is not a list of file names.", file=name, column=key_field)
    return Manifest(
        name=name,
        identifier=identifier,
        period_start=start,
        period_end=end,
        keys=list(keys),
        bucket=str(document.get("bucket") or ""),
    )
