"""How fast costs.ingest.pgcopy encodes and COPYs line-item-shaped rows, beside psycopg's write_row.

    DJANGO_SETTINGS_MODULE=portal.settings \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/propylon_bench_pgcopy \\
    python -m bench.pgcopy_speed [--rows 1000000] [--write-row-rows 100000]

Generates random rows with numpy (not timed), then times, through Django's own connection into
an UNLOGGED scratch table it drops afterwards: ``encode`` of all rows (every slice kept in
memory), COPY of that payload, ``copy_table`` end to end (encoding slice by slice while
sending), and psycopg's ``write_row`` for fewer rows (their Python values prepared beforehand).
"""

import argparse
import time
import uuid

import django
import numpy as np
import pyarrow as pa

TABLE_COLUMNS = [
    ("id", "int8", "int8"),
    ("cost_import_id", "int8", "int8"),
    ("source_id", "int8", "int8"),
    ("billing_period_start", "date", "date"),
    ("charge_period_start", "timestamptz", "timestamptz"),
    ("charge_period_end", "timestamptz", "timestamptz"),
    ("charge_date", "date", "date"),
    ("profile_id", "int4", "int4"),
    ("region_id", "int4", "int4"),
    ("sku_id", "int4", "int4"),
    ("charge_id", "int4", "int4"),
    ("usage_quantity", "numeric", "numeric(28,10)"),
    ("billed_cost", "numeric", "numeric(20,10)"),
    ("effective_cost", "numeric", "numeric(20,10)"),
    ("list_cost", "numeric", "numeric(20,10)"),
    ("billing_currency", "varchar", "varchar(3)"),
]
COLUMNS = [(name, copy_type) for name, copy_type, _ in TABLE_COLUMNS]
LIST_COST_NULL_SHARE = 0.1


def decimals(unscaled: np.ndarray, precision: int, valid: np.ndarray | None = None) -> pa.Array:
    """A decimal128(precision, 10) array of int64 unscaled values, built without Python objects."""
    words = np.empty((len(unscaled), 2), dtype=np.int64)
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63  # sign extension into the high word
    validity = None if valid is None else pa.array(valid).buffers()[1]
    null_count = -1 if valid is None else int((~valid).sum())
    return pa.Array.from_buffers(
        pa.decimal128(precision, 10), len(unscaled), [validity, pa.py_buffer(words)], null_count=null_count
    )


def line_items(rows: int, seed: int = 13) -> pa.Table:
    rng = np.random.default_rng(seed)
    hour_starts = np.datetime64("2026-11-01T00:00:00", "us") + rng.integers(
        0, 30 * 24, rows
    ) * np.timedelta64(3_600_000_000, "us")
    days = hour_starts.astype("datetime64[D]")
    return pa.table(
        {
            "id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
            "cost_import_id": pa.array(np.full(rows, 7, dtype=np.int64)),
            "source_id": pa.array(np.full(rows, 3, dtype=np.int64)),
            "billing_period_start": pa.array(np.full(rows, np.datetime64("2026-11-01", "D"))),
            "charge_period_start": pa.array(hour_starts, pa.timestamp("us", tz="UTC")),
            "charge_period_end": pa.array(
                hour_starts + np.timedelta64(3_600_000_000, "us"), pa.timestamp("us", tz="UTC")
            ),
            "charge_date": pa.array(days),
            "profile_id": pa.array(rng.integers(1, 5_000, rows, dtype=np.int32)),
            "region_id": pa.array(rng.integers(1, 40, rows, dtype=np.int32)),
            "sku_id": pa.array(rng.integers(1, 20_000, rows, dtype=np.int32)),
            "charge_id": pa.array(rng.integers(1, 500, rows, dtype=np.int32)),
            "usage_quantity": decimals(rng.integers(0, 10**17, rows), 28),
            "billed_cost": decimals(rng.integers(-(10**14), 10**15, rows), 20),
            "effective_cost": decimals(rng.integers(-(10**14), 10**15, rows), 20),
            "list_cost": decimals(
                rng.integers(0, 10**15, rows), 20, valid=rng.random(rows) >= LIST_COST_NULL_SHARE
            ),
            "billing_currency": pa.array(np.array(["USD", "EUR", "GBP"])[rng.integers(0, 3, rows)]),
        }
    )


def best_seconds(work, rounds: int, before=None) -> float:
    """The fastest of `rounds` runs of `work` (the others are the machine's noise)."""
    timings = []
    for _ in range(rounds):
        if before:
            before()
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write-row-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the best of this many runs")
    arguments = parser.parse_args()
    rounds = arguments.rounds

    django.setup()
    from django.db import connection, transaction

    from costs.ingest import pgcopy

    table = line_items(arguments.rows)
    python_rows = [tuple(row.values()) for row in table.slice(0, arguments.write_row_rows).to_pylist()]
    payload = pgcopy.encode(table, COLUMNS)
    scratch = f"bench_pgcopy_{uuid.uuid4().hex[:8]}"
    definition = ", ".join(f"{name} {sql_type}" for name, _, sql_type in TABLE_COLUMNS)
    copy_statement = f"COPY {scratch} ({', '.join(name for name, _ in COLUMNS)}) FROM STDIN (FORMAT binary)"

    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(f"CREATE UNLOGGED TABLE {scratch} ({definition})")

        def empty_scratch():
            cursor.execute(f"TRUNCATE {scratch}")

        def copy_payload():
            with cursor.copy(copy_statement) as copy:
                for chunk in payload:
                    copy.write(chunk)

        def write_rows():
            with cursor.copy(copy_statement) as copy:
                copy.set_types([copy_type for _, copy_type in COLUMNS])
                for row in python_rows:
                    copy.write_row(row)

        try:
            encode_seconds = best_seconds(lambda: pgcopy.encode(table, COLUMNS), rounds)
            copy_seconds = best_seconds(copy_payload, rounds, before=empty_scratch)
            copy_table_seconds = best_seconds(
                lambda: pgcopy.copy_table(cursor, scratch, table, COLUMNS), rounds, before=empty_scratch
            )
            (copied,) = cursor.execute(f"SELECT count(*) FROM {scratch}").fetchone()  # noqa: S608 - our own scratch name
            assert copied == arguments.rows, copied
            write_row_seconds = best_seconds(write_rows, rounds, before=empty_scratch)
        finally:
            cursor.execute(f"DROP TABLE {scratch}")

    rows, small = arguments.rows, arguments.write_row_rows
    size = sum(len(chunk) for chunk in payload)
    print(
        f"best of {rounds} runs; payload: {size / 1e6:.1f} MB for {rows:,} rows ({size / rows:.0f} bytes a row)"
    )
    print(
        f"encode:               {encode_seconds:6.3f} s  ({encode_seconds / rows * 1e6:.3f} s per million rows)"
    )
    print(f"COPY of that payload: {copy_seconds:6.3f} s  ({rows / copy_seconds:,.0f} rows/s)")
    print(
        f"copy_table:           {copy_table_seconds:6.3f} s  ({rows / copy_table_seconds:,.0f} rows/s, encode + COPY)"
    )
    print(f"write_row, {small:,} rows: {write_row_seconds:6.3f} s  ({small / write_row_seconds:,.0f} rows/s)")


if __name__ == "__main__":
    main()
