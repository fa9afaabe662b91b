"""costs.ingest.pgcopy: Arrow tables into PostgreSQL through binary COPY, encoded with numpy.

Every round trip goes through a real temporary table and compares what SELECT returns with the
Arrow values exactly (Decimal equality, aware datetimes)."""

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from django.db import connection

from costs.ingest import pgcopy

TIME = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(20, 10)
QUANTITY = pa.decimal128(28, 10)
LARGEST_QUANTITY = Decimal(10**18) - Decimal("1e-10")
# Unscaled 2**64: negating it carries from the low 64-bit word into the high one.
TWO_TO_THE_64_UNSCALED = Decimal(2**64).scaleb(-10)

# (name, Arrow type, COPY type, column definition) of the table every round trip writes.
SCRATCH_COLUMNS = [
    ("position", pa.int64(), "int8", "int8"),
    ("small", pa.int32(), "int4", "int4"),
    ("big", pa.int64(), "int8", "int8"),
    ("day", pa.date32(), "date", "date"),
    ("moment", TIME, "timestamptz", "timestamptz"),
    ("cost", MONEY, "numeric", "numeric(20,10)"),
    ("quantity", QUANTITY, "numeric", "numeric(28,10)"),
    ("cents", pa.decimal128(12, 2), "numeric", "numeric(12,2)"),
    ("whole", pa.decimal128(5, 0), "numeric", "numeric(5,0)"),
    ("fraction", pa.decimal128(10, 10), "numeric", "numeric(10,10)"),
    ("currency", pa.string(), "varchar", "varchar(40)"),
]
COPY_COLUMNS = [(name, copy_type) for name, _, copy_type, _ in SCRATCH_COLUMNS]

EDGE_ROWS = {
    "small": [0, 1, -1, -(2**31), 2**31 - 1, None],
    "big": [0, 1, -1, -(2**63), 2**63 - 1, None],
    "day": [
        date(2000, 1, 1),
        date(1999, 12, 31),
        date(1970, 1, 1),
        date(1900, 2, 28),
        date(2100, 12, 31),
        None,
    ],
    "moment": [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1901, 6, 30, 12, 0, 0, 500_000, tzinfo=UTC),
        datetime(2026, 11, 30, 23, 0, 0, 123_456, tzinfo=UTC),
        None,
    ],
    "cost": [Decimal("0"), Decimal("-0"), Decimal("1e-10"), Decimal("-1e-10"), Decimal("0.1"), None],
    "quantity": [
        LARGEST_QUANTITY,
        -LARGEST_QUANTITY,
        Decimal("123.45"),
        -TWO_TO_THE_64_UNSCALED,
        Decimal("0"),
        None,
    ],
    "cents": [
        Decimal("9999999999.99"),
        Decimal("-0.01"),
        Decimal("0.50"),
        Decimal("0"),
        Decimal("-12.3"),
        None,
    ],
    "whole": [Decimal("99999"), Decimal("-99999"), Decimal("0"), Decimal("1"), Decimal("-10000"), None],
    "fraction": [
        Decimal("0.9999999999"),
        Decimal("-0.9999999999"),
        Decimal("1e-10"),
        Decimal("0"),
        Decimal("-0.5"),
        None,
    ],
    "currency": ["EUR", "", "a€b", "USDX", "a text of twenty-six chars", None],
}
MORE_COSTS = [
    Decimal("123.45"),
    Decimal("999999999.9999999999"),
    Decimal("-999999999.9999999999"),
    Decimal("-0.1"),
]


def scratch_table(columns: dict[str, list]) -> pa.Table:
    """A table of the scratch columns, `position` numbering the rows."""
    rows = len(next(iter(columns.values())))
    arrays = {"position": pa.array(range(rows), pa.int64())}
    for name, arrow_type, _, _ in SCRATCH_COLUMNS[1:]:
        arrays[name] = (
            columns[name] if isinstance(columns[name], pa.Array) else pa.array(columns[name], arrow_type)
        )
    return pa.table(arrays)


def edge_table() -> pa.Table:
    # Rows 6 to 9 carry the other cost edge values; the other columns repeat their first ones.
    columns = {name: values + values[: len(MORE_COSTS)] for name, values in EDGE_ROWS.items()}
    columns["cost"] = EDGE_ROWS["cost"] + MORE_COSTS
    return scratch_table(columns)


def copied_back(table: pa.Table) -> list[tuple]:
    """Rows of `table` written with copy_table into a temporary table, as SELECT returns them."""
    definition = ", ".join(f"{name} {sql_type}" for name, _, _, sql_type in SCRATCH_COLUMNS)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own cursor, in the test's transaction
        cursor.execute(f"CREATE TEMPORARY TABLE pgcopy_scratch ({definition}) ")
        pgcopy.copy_table(cursor, "pgcopy_scratch", table, COPY_COLUMNS)
        rows = cursor.execute("SELECT * FROM pgcopy_scratch ORDER BY position").fetchall()
        cursor.execute("DROP TABLE pgcopy_scratch")
    return rows


def as_rows(table: pa.Table) -> list[tuple]:
    return [tuple(row.values()) for row in table.to_pylist()]


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_type_round_trips_with_edge_values_and_nulls():
    table = edge_table()
    assert all(table.column(name).null_count for name, *_ in SCRATCH_COLUMNS[1:])
    assert copied_back(table) == as_rows(table)


@pytest.mark.postgres
@pytest.mark.django_db
def test_numeric_keeps_its_scale_and_negative_zero_is_zero():
    table = edge_table()
    rows = {row[0]: row for row in copied_back(table)}
    cost = [name for name, *_ in SCRATCH_COLUMNS].index("cost")
    assert [str(rows[position][cost]) for position in range(4)] == ["0E-10", "0E-10", "1E-10", "-1E-10"]
    assert str(rows[6][cost]) == "123.4500000000"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_slice_at_an_odd_offset_and_a_table_of_several_chunks_round_trip():
    table = edge_table()
    sliced = table.slice(3)
    chunked = pa.concat_tables([table.slice(0, 5), table.slice(5)])
    assert sliced.column("cost").chunk(0).offset == 3 and chunked.column("cost").num_chunks == 2
    assert copied_back(sliced) == as_rows(sliced)
    assert copied_back(chunked) == as_rows(chunked)


@pytest.mark.postgres
@pytest.mark.django_db
def test_large_string_text_round_trips():
    table = edge_table()
    index = table.column_names.index("currency")
    large = table.set_column(index, "currency", table.column("currency").cast(pa.large_string()))
    assert copied_back(large) == as_rows(table)


def random_decimals(rng: random.Random, rows: int, integer_digits: int) -> list[Decimal | None]:
    values = []
    for _ in range(rows):
        if rng.random() < 0.05:
            values.append(None)
            continue
        integer = rng.randrange(10 ** rng.randint(0, integer_digits))
        sign = rng.choice("-+")
        values.append(Decimal(f"{sign}{integer}.{rng.randrange(10**10):010d}"))
    return values


@pytest.mark.postgres
@pytest.mark.django_db
def test_100001_random_rows_round_trip_exactly():
    rows = 100_001  # more than six slices, the last one short
    rng = random.Random(13)  # noqa: S311 - seeded test data, reproducible, not a secret
    generator = np.random.default_rng(13)

    def nulls():
        return generator.random(rows) < 0.05

    microseconds = generator.integers(-(2**52), 2**52, rows)  # 1827 to 2112
    texts = np.array(["EUR", "USD", "JPY", "", "CHF", "long-ish text", "ñ"])
    table = scratch_table(
        {
            "small": pa.array(generator.integers(-(2**31), 2**31, rows, dtype=np.int32), mask=nulls()),
            "big": pa.array(generator.integers(-(2**63), 2**63 - 1, rows, dtype=np.int64), mask=nulls()),
            "day": pa.array(generator.integers(-25_000, 50_000, rows).astype("datetime64[D]"), mask=nulls()),
            "moment": pa.array(microseconds.astype("datetime64[us]"), mask=nulls()).cast(TIME),
            "cost": pa.array(random_decimals(rng, rows, 10), MONEY),
            "quantity": pa.array(random_decimals(rng, rows, 18), QUANTITY),
            "cents": pa.array([rng.choice([None, Decimal(rng.randrange(-(10**12), 10**12)).scaleb(-2)]) for _ in range(rows)], pa.decimal128(12, 2)),
            "whole": pa.array([rng.choice([None, Decimal(rng.randrange(-99_999, 100_000))]) for _ in range(rows)], pa.decimal128(5, 0)),
            "fraction": pa.array([rng.choice([None, Decimal(rng.randrange(-(10**10) + 1, 10**10)).scaleb(-10)]) for _ in range(rows)], pa.decimal128(10, 10)),
            "currency": pa.array(texts[generator.integers(0, len(texts), rows)], mask=nulls()),
        }
    )  # fmt: skip
    assert copied_back(table) == as_rows(table)


def test_the_payload_is_framed_by_the_signature_and_the_trailer():
    table = pa.table({"small": pa.array([7], pa.int32())})
    payload = b"".join(pgcopy.encode(table, [("small", "int4")]))
    row = b"\x00\x01" + b"\x00\x00\x00\x04" + b"\x00\x00\x00\x07"
    assert payload == b"PGCOPY\n\xff\r\n\x00" + bytes(8) + row + b"\xff\xff"
    assert (
        b"".join(pgcopy.encode(table.slice(0, 0), [("small", "int4")])) == pgcopy.SIGNATURE + pgcopy.TRAILER
    )


@pytest.mark.parametrize(
    ("arrow_type", "copy_type", "message"),
    [
        (
            pa.float64(),
            "numeric",
            r"'value' \(double\) cannot be copied as numeric: it needs an Arrow decimal128",
        ),
        (pa.int64(), "int4", "it needs an Arrow int32"),
        (pa.timestamp("us"), "timestamptz", "a timestamp without a time zone is ambiguous"),
        (pa.timestamp("ns", tz="UTC"), "timestamptz", "it needs an Arrow timestamp"),
        (pa.string(), "int8", "it needs an Arrow int64"),
        (pa.decimal128(38, 10), "numeric", "precision up to 28"),
        (pa.decimal128(28, 2), "numeric", "up to 18 integer digits"),
        (pa.int32(), "integer", "must be one of int4, int8, date, timestamptz, numeric, varchar"),
    ],
)
def test_a_column_of_the_wrong_type_is_refused_with_a_clear_message(arrow_type, copy_type, message):
    table = pa.table({"value": pa.array([], arrow_type)})
    with pytest.raises(ValueError, match=message):
        pgcopy.encode(table, [("value", copy_type)])


def test_a_column_missing_from_the_table_is_refused():
    table = pa.table({"value": pa.array([1], pa.int32())})
    with pytest.raises(ValueError, match="column 'other' is not in the table"):
        pgcopy.encode(table, [("other", "int4")])
