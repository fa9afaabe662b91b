"""The anchors of `python -m bench.costs`: the same generated file through raw COPY and through
DuckDB, which the imports' rates are compared with."""

import csv
import gzip
import io
from decimal import Decimal

import pytest
from django.db import connection

from bench import costs

SPEC = costs.Spec(
    period="2026-11-01",
    rows=300,
    seed=7,
    currencies=2,
    use_case_keys=[f"UC-{number:04d}" for number in range(1, 21)],
    team_slugs=["data-platform", "risk-models"],
)


@pytest.fixture
def export(tmp_path):
    """A generated month in both formats, and its BilledCost total read back with the csv module."""
    csv_path = tmp_path / "month.csv.gz"
    parquet_path = tmp_path / "month.parquet"
    costs.write_csv_gz(csv_path, SPEC)
    costs.write_parquet(parquet_path, SPEC)
    with gzip.open(csv_path, "rt", newline="") as handle:
        records = list(csv.DictReader(handle))
    return {
        "csv.gz": csv_path,
        "parquet": parquet_path,
        "billed": sum(Decimal(record["BilledCost"]) for record in records),
        "null_tags": sum(record["Tags"] == "NULL" for record in records),
    }


def test_copy_chunks_end_at_line_breaks_and_empty_the_null_tags():
    text = b'H,Tags\nA,"{""env"": ""dev""}"\nB,NULL\nC,\nNULLS,NULL\nD,NULL'
    chunks = list(costs.copy_chunks(io.BytesIO(text), size=5))

    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
    assert b"".join(chunks) == b'H,Tags\nA,"{""env"": ""dev""}"\nB,\nC,\nNULLS,\nD,'


def test_the_anchor_table_types_the_columns_as_focus_declares_them():
    ddl = costs.anchor_table_ddl("scratch")

    assert '"BilledCost" numeric' in ddl
    assert '"ConsumedQuantity" numeric' in ddl
    assert '"ChargePeriodStart" timestamptz' in ddl
    assert '"Tags" jsonb' in ddl
    assert '"ResourceId" text' in ddl
    assert "PRIMARY KEY" not in ddl and "NOT NULL" not in ddl


@pytest.mark.parametrize("kind", ["csv.gz", "parquet"])
def test_duckdb_counts_the_rows_and_sums_billed_cost(export, kind):
    pytest.importorskip("duckdb")

    scanned = costs.duckdb_scan(str(export[kind]), kind)

    assert scanned["rows"] == SPEC.rows
    if kind == "parquet":
        # The Parquet delivery holds the same draws as the CSV (not restated here), as decimals.
        assert Decimal(scanned["billed"]) == export["billed"]
    else:
        assert Decimal(scanned["billed"]) == pytest.approx(export["billed"], abs=Decimal("1e-6"))


@pytest.mark.django_db
def test_raw_copy_loads_every_row_and_drops_its_table(export):
    if connection.vendor != "postgresql":
        pytest.skip("the raw COPY anchor runs on PostgreSQL")
    assert export["null_tags"] > 0  # the NULL cells the anchor has to empty are in the file

    step = costs.run_raw_copy("Raw COPY", export["csv.gz"], rows=SPEC.rows)

    assert step.ok, step.outcome
    assert step.outcome.startswith(f"{SPEC.rows:,} rows")
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [costs.ANCHOR_TABLE])
        assert cursor.fetchone()[0] is None
