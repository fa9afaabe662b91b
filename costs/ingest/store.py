"""Where line items live: one table per load, swapped in whole (issue 13).

On PostgreSQL ``costs_costlineitem`` is a declaratively partitioned table, ``PARTITION BY LIST
(cost_import_id)``, and each current import is one partition: for every (source, billing period)
exactly one. A load writes into a fresh table of its own (``costs_costlineitem_p<import id>``)
that nobody reads, with binary ``COPY`` and no index; :func:`finish` adds the partition's check
constraint and its index after the last row, and :func:`swap` attaches the new table and drops
the previous import's partition in the caller's transaction. So a restatement leaves no dead
rows and needs no long ``DELETE``, readers see the old delivery or the new one and never a mix,
and an abandoned load is one table to drop (:func:`discard`, and the reaper through
:func:`orphan_load_tables`).

On SQLite (the quick start and the embedded tests) the table is a plain one with the same
columns: a load writes its rows under its own import id, invisible to readers (who read
current imports only), and the swap deletes the previous import's rows.

Line item ids are assigned here, not by a sequence: the import's id, the file's position in the
delivery and the row's position in the file (:func:`line_item_ids`), so files can be loaded in
parallel by separate workers without coordinating.
"""

import numpy as np
import pyarrow as pa
from django.db import connections, router

from costs.ingest import pgcopy
from costs.ingest.batch import MONEY_TYPE, QUANTITY_TYPE, TIME_TYPE
from costs.ingest.errors import CostImportError
from costs.models import CostLineItem

PARENT = CostLineItem._meta.db_table
# line item id = import id << 39 | file index << 26 | row index in the file
ROW_BITS = 26
FILE_BITS = 13
IMPORT_SHIFT = ROW_BITS + FILE_BITS
MAX_ROWS_PER_FILE = 1 << ROW_BITS
MAX_FILES = 1 << FILE_BITS

# The narrow row, in table order: name, PostgreSQL type (for the binary COPY), Arrow type.
COLUMNS = (
    ("id", "int8", pa.int64()),
    ("cost_import_id", "int8", pa.int64()),
    ("source_id", "int8", pa.int64()),
    ("billing_period_start", "date", pa.date32()),
    ("charge_period_start", "timestamptz", TIME_TYPE),
    ("charge_period_end", "timestamptz", TIME_TYPE),
    ("charge_date", "date", pa.date32()),
    ("profile_id", "int4", pa.int32()),
    ("region_id", "int4", pa.int32()),
    ("sku_id", "int4", pa.int32()),
    ("charge_id", "int4", pa.int32()),
    ("usage_quantity", "numeric", QUANTITY_TYPE),
    ("billed_cost", "numeric", MONEY_TYPE),
    ("effective_cost", "numeric", MONEY_TYPE),
    ("list_cost", "numeric", MONEY_TYPE),
    ("billing_currency", "varchar", pa.string()),
)
NARROW_SCHEMA = pa.schema([pa.field(name, arrow_type) for name, _pg, arrow_type in COLUMNS])

COLUMNS_POSTGRESQL = """
    id bigint NOT NULL,
    cost_import_id bigint NOT NULL,
    source_id bigint NOT NULL,
    billing_period_start date NOT NULL,
    charge_period_start timestamp with time zone NOT NULL,
    charge_period_end timestamp with time zone NOT NULL,
    charge_date date NOT NULL,
    profile_id integer NOT NULL,
    region_id integer NOT NULL,
    sku_id integer NOT NULL,
    charge_id integer NOT NULL,
    usage_quantity numeric(28, 10),
    billed_cost numeric(20, 10) NOT NULL,
    effective_cost numeric(20, 10) NOT NULL,
    list_cost numeric(20, 10),
    billing_currency varchar(3) NOT NULL
"""


def _connection():
    return connections[router.db_for_write(CostLineItem)]


def is_partitioned() -> bool:
    return _connection().vendor == "postgresql"


def load_table(import_id: int) -> str:
    return f"{PARENT}_p{int(import_id)}"


def line_item_ids(import_id: int, file_index: int, first_row: int, count: int) -> np.ndarray:
    """The ids of ``count`` rows of file ``file_index`` of an import, from row ``first_row`` (0-based)."""
    if file_index >= MAX_FILES:
        raise CostImportError(f"a delivery has at most {MAX_FILES:,} files; this one has more.")
    if first_row + count > MAX_ROWS_PER_FILE:
        raise CostImportError(
            f"holds more than {MAX_ROWS_PER_FILE:,} rows; split the export into smaller files "
            "(AWS and the FOCUS exporters do so by size)."
        )
    base = (int(import_id) << IMPORT_SHIFT) | (int(file_index) << ROW_BITS)
    return np.arange(base + first_row, base + first_row + count, dtype=np.int64)


def prepare(import_id: int) -> None:
    """Create the load's own table (PostgreSQL); nothing to do on SQLite."""
    if not is_partitioned():
        return
    with _connection().cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {load_table(import_id)} ({COLUMNS_POSTGRESQL})")


def write(import_id: int, table: pa.Table) -> None:
    """Append narrow rows (``NARROW_SCHEMA``) to the load of ``import_id``."""
    if not table.num_rows:
        return
    connection = _connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            pgcopy.copy_table(
                cursor.cursor, load_table(import_id), table, [(name, pg) for name, pg, _a in COLUMNS]
            )
        return
    names = [name for name, _pg, _a in COLUMNS]
    marks = ", ".join(["%s"] * len(names))
    rows = zip(*(table.column(name).to_pylist() for name in names), strict=True)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {PARENT} ({', '.join(names)}) VALUES ({marks})",
            list(rows),
        )


def finish(import_id: int) -> None:
    """After the last row: the constraint that lets the attach skip its scan, the partition's
    index, and statistics for the planner (allocation's grouped queries rely on them)."""
    if not is_partitioned():
        return
    table = load_table(import_id)
    with _connection().cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_import CHECK (cost_import_id = {int(import_id)})"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_charge ON {table} USING brin (charge_period_start)"
        )
        cursor.execute(f"ANALYZE {table}")


def swap(new_import_id: int, previous_import_id: int | None) -> None:
    """Make the new load current and the previous one gone. Call inside the transaction that
    marks the imports current and superseded, under the source's lock."""
    connection = _connection()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {load_table(new_import_id)} "
                f"FOR VALUES IN ({int(new_import_id)})"
            )
            if previous_import_id is not None:
                cursor.execute(f"DROP TABLE IF EXISTS {load_table(previous_import_id)}")
        elif previous_import_id is not None:
            cursor.execute(f"DELETE FROM {PARENT} WHERE cost_import_id = %s", [previous_import_id])


def discard(import_id: int) -> int:
    """Remove what a load (or an import being deleted) holds; returns the rows removed."""
    connection = _connection()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            table = load_table(import_id)
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                return 0
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
            estimate = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {table}")
            rows = cursor.fetchone()[0] if estimate < 1_000_000 else max(estimate, 0)
            cursor.execute(f"DROP TABLE {table}")
            return rows
        cursor.execute(f"DELETE FROM {PARENT} WHERE cost_import_id = %s", [import_id])
        return cursor.rowcount


def rows_in_load(import_id: int) -> int:
    """How many rows a load holds so far (attached or not): a count, for pages and tests."""
    connection = _connection()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            table = load_table(import_id)
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                return 0
            cursor.execute(f"SELECT count(*) FROM {table}")
        else:
            cursor.execute(f"SELECT count(*) FROM {PARENT} WHERE cost_import_id = %s", [import_id])
        return cursor.fetchone()[0]


def attached_import_ids() -> set[int]:
    """Imports whose rows readers can see (PostgreSQL: attached partitions; SQLite: any rows)."""
    connection = _connection()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass",
                [PARENT],
            )
            return {int(name.rsplit("_p", 1)[1]) for (name,) in cursor.fetchall()}
        cursor.execute(f"SELECT DISTINCT cost_import_id FROM {PARENT}")
        return {row[0] for row in cursor.fetchall()}


def load_table_import_ids() -> set[int]:
    """PostgreSQL: the imports that have a table of their own, attached or not."""
    if not is_partitioned():
        return set()
    with _connection().cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s",
            [PARENT.replace("_", r"\_") + r"\_p%"],
        )
        return {
            int(name.rsplit("_p", 1)[1]) for (name,) in cursor.fetchall() if name.rsplit("_p", 1)[1].isdigit()
        }
