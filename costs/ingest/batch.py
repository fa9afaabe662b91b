"""The normalised line-item batch every format is read into (issue 13: vectorised imports).

Each reader (FOCUS, CUR legacy and 2.0, Cost Explorer) yields ``pyarrow.RecordBatch`` objects
with exactly :data:`NORMALIZED` as schema: the fields of ``LINE_ITEM_FIELDS`` with exact types
(no float anywhere: money is ``decimal128`` with ten places, as the database stores it), plus
``row``, the row a message names (the CSV header is row 1; Parquet rows count from 1).

Tags travel as text: :func:`costs.ingest.normalize.tag_pairs_text` of the row's tags, the
``[key, value]`` pairs as the source wrote them (a key written twice included), so that the
loader parses and normalises each distinct tag set once, not once per row.
"""

import pyarrow as pa
from django.conf import settings

from costs.ingest.normalize import tag_pairs_text

MONEY_TYPE = pa.decimal128(20, 10)
QUANTITY_TYPE = pa.decimal128(28, 10)
TIME_TYPE = pa.timestamp("us", tz="UTC")

# Text fields: never null ("" for an empty cell), stripped, within normalize.TEXT_LIMITS.
TEXT_FIELDS = (
    "provider",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "service_category",
    "resource_id",
    "region",
    "sku_id",
    "charge_category",
    "charge_class",
    "provider_charge_type",
    "usage_unit",
)

NORMALIZED = pa.schema(
    [
        pa.field("row", pa.int64(), nullable=False),
        pa.field("billing_period_start", pa.date32(), nullable=False),
        pa.field("billing_period_end", pa.date32()),  # null: the format did not say
        pa.field("charge_period_start", TIME_TYPE, nullable=False),
        pa.field("charge_period_end", TIME_TYPE, nullable=False),
        *(pa.field(name, pa.string(), nullable=False) for name in TEXT_FIELDS),
        pa.field("usage_quantity", QUANTITY_TYPE),
        pa.field("billed_cost", MONEY_TYPE, nullable=False),
        pa.field("effective_cost", MONEY_TYPE, nullable=False),
        pa.field("list_cost", MONEY_TYPE),  # null: empty ListCost stays empty, not zero
        pa.field("billing_currency", pa.string(), nullable=False),  # ISO 4217, upper case
        pa.field("tags", pa.string(), nullable=False),  # tag_pairs_text(); "[]" without tags
    ]
)


def batch_rows() -> int:
    """Rows per normalised batch (PROPYLON_COST_IMPORT_BATCH_ROWS): memory is bounded by this,
    not by the size of a file."""
    return max(int(settings.PROPYLON_COST_IMPORT_BATCH_ROWS), 1)


def from_rows(rows: list[tuple[object, dict]]) -> pa.RecordBatch:
    """A NORMALIZED batch of rows as the scalar parsers make them (``(where, row dict)`` with
    ``Decimal``, aware ``datetime`` and ``TagMap`` values). Where is not a row number (Cost
    Explorer names a page and a group), rows are numbered from 1 in order."""
    columns: dict[str, list] = {name: [] for name in NORMALIZED.names}
    for number, (where, row) in enumerate(rows, start=1):
        columns["row"].append(where if isinstance(where, int) else number)
        for name in NORMALIZED.names[1:]:
            value = row[name]
            columns[name].append(tag_pairs_text(value) if name == "tags" else value)
    return pa.RecordBatch.from_pydict(columns, schema=NORMALIZED)
