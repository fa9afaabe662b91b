"""FOCUS 1.x cost-and-usage rows (AWS, Azure, Google Cloud, OCI exports) to line items.

Column names follow the FOCUS specification (FinOps-Open-Cost-and-Usage-Spec, columns/*.md)
and are matched without regard to case, because exporters differ in casing. Where a column was
renamed between FOCUS versions both names are accepted (1.3's ``ServiceProviderName`` for
``ProviderName``, 1.0-preview's ``Region`` for ``RegionId``).
"""

from collections.abc import Iterator

from costs.choices import ChargeCategoryChoices
from costs.ingest import normalize as n
from costs.ingest.errors import CostImportError
from costs.ingest.readers import InputFile, iter_records

# Our field: the FOCUS column names that may carry it, preferred first.
COLUMNS: dict[str, tuple[str, ...]] = {
    "billed_cost": ("BilledCost",),
    "effective_cost": ("EffectiveCost",),
    "list_cost": ("ListCost",),
    "billing_currency": ("BillingCurrency",),
    "billing_period_start": ("BillingPeriodStart",),
    "billing_period_end": ("BillingPeriodEnd",),
    "charge_period_start": ("ChargePeriodStart",),
    "charge_period_end": ("ChargePeriodEnd",),
    "charge_category": ("ChargeCategory",),
    "charge_class": ("ChargeClass",),
    "billing_account_id": ("BillingAccountId",),
    "sub_account_id": ("SubAccountId",),
    "provider": ("ProviderName", "ServiceProviderName"),
    "service_name": ("ServiceName",),
    "service_category": ("ServiceCategory",),
    "resource_id": ("ResourceId",),
    "region": ("RegionId", "Region"),
    "sku_id": ("SkuId",),
    "usage_quantity": ("ConsumedQuantity", "PricingQuantity"),
    "usage_unit": ("ConsumedUnit", "PricingUnit"),
    "tags": ("Tags",),
}
# What attribution and reconciliation cannot do without (FOCUS 1.0 marks them non-null).
REQUIRED = (
    "billed_cost",
    "effective_cost",
    "list_cost",
    "billing_currency",
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "billing_account_id",
    "provider",
    "service_name",
)
CHARGE_CATEGORIES = {value.lower(): value for value in ChargeCategoryChoices.values()}


def resolve_columns(header: list[str], file_name: str, header_row: int | None = 1) -> dict[str, str]:
    """Our field → the file's column name; a missing required column is an error on the header."""
    by_lower = {column.lower(): column for column in header}
    resolved = {}
    for field, names in COLUMNS.items():
        for name in names:
            if name.lower() in by_lower:
                resolved[field] = by_lower[name.lower()]
                break
    missing = [COLUMNS[field][0] for field in REQUIRED if field not in resolved]
    if missing:
        raise CostImportError(
            f"the required FOCUS column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing.",
            file=file_name,
            row=header_row,
            column=missing[0],
        )
    return resolved


def parse_row(record: dict, columns: dict[str, str]) -> dict:
    def cell(field: str):
        column = columns.get(field)
        return record.get(column) if column else None

    def col(field: str) -> str:
        return columns.get(field, COLUMNS[field][0])

    category_text = n.text(cell("charge_category"), col("charge_category"))
    category = CHARGE_CATEGORIES.get(category_text.lower())
    if category is None:
        raise CostImportError(
            f"“{category_text}” is not a FOCUS charge category ({', '.join(ChargeCategoryChoices.values())}).",
            column=col("charge_category"),
        )
    row = {
        "billed_cost": n.decimal(cell("billed_cost"), col("billed_cost"), required=True),
        "effective_cost": n.decimal(cell("effective_cost"), col("effective_cost"), required=True),
        "list_cost": n.decimal(cell("list_cost"), col("list_cost"), required=False),
        "billing_currency": n.currency(cell("billing_currency"), col("billing_currency")),
        "billing_period_start": n.period_date(cell("billing_period_start"), col("billing_period_start")),
        "billing_period_end": n.period_date(cell("billing_period_end"), col("billing_period_end")),
        "charge_period_start": n.timestamp(cell("charge_period_start"), col("charge_period_start")),
        "charge_period_end": n.timestamp(cell("charge_period_end"), col("charge_period_end")),
        "charge_category": category,
        "usage_quantity": n.decimal(
            cell("usage_quantity"), col("usage_quantity"), required=False, limit=n.QUANTITY_LIMIT
        ),
        "tags": n.tags_from_json(cell("tags"), col("tags")),
        "provider_charge_type": "",
    }
    for field in (
        "charge_class",
        "billing_account_id",
        "sub_account_id",
        "provider",
        "service_name",
        "service_category",
        "resource_id",
        "region",
        "sku_id",
        "usage_unit",
    ):
        row[field] = n.text(cell(field), col(field), field)
    return row


def rows(input_file: InputFile) -> Iterator[tuple[int, dict]]:
    """Normalised rows of one FOCUS file, with their row numbers, one by one: the reference the
    column-wise reader (costs.ingest.columnar, which imports use) must agree with row for row and
    message for message (tests/costs/test_columnar.py)."""
    columns: dict[str, str] = {}
    for row_number, header, record in iter_records(input_file):
        if record is None:
            columns = resolve_columns(header, input_file.name, row_number or None)
            continue
        try:
            yield row_number, parse_row(record, columns)
        except CostImportError as exc:
            raise exc.located(file=input_file.name, row=row_number) from None
