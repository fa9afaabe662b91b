"""Parity of the columnar reader with the scalar parsers (issue 13): for good files the same rows
with the same row numbers, for bad files the same message naming the same file, row and column,
and the same file record (rows, bytes, SHA-256)."""

import gzip
import hashlib
import io
import json
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costs.choices import ImportFormatChoices
from costs.ingest import columnar, cur, focus, readers
from costs.ingest.batch import NORMALIZED, from_rows
from costs.ingest.errors import CostImportError
from tests.costs.billing_files import (
    CUR_LEGACY_COLUMNS,
    FOCUS_COLUMNS,
    cur_legacy_rows,
    focus_rows,
    legacy_to_cur2,
    write_csv,
    write_cur2_parquet,
    write_focus_parquet,
)

NOV = date(2026, 11, 1)
FOCUS = ImportFormatChoices.FOCUS
CUR = ImportFormatChoices.CUR
CUR2 = ImportFormatChoices.CUR2
SCALAR_ROWS = {FOCUS: focus.rows, CUR: cur.rows, CUR2: cur.rows}


def input_file(path) -> readers.InputFile:
    return readers.local_file(path, roots=[path.parent])


def outcome(read, path, fmt) -> tuple:
    """What a reader makes of the file: its rows (as NORMALIZED dicts) or its message, and the
    file record the import keeps."""
    source = input_file(path)
    try:
        rows = read(source, fmt)
    except CostImportError as exc:
        return ("refused", str(exc)), None
    return ("read", rows), source.as_record()


def scalar_read(source, fmt) -> list[dict]:
    return from_rows(list(SCALAR_ROWS[fmt](source))).to_pylist()


def columnar_read(source, fmt) -> list[dict]:
    batches = list(columnar.file_batches(source, fmt))
    assert all(batch.schema == NORMALIZED for batch in batches)
    return [row for batch in batches for row in batch.to_pylist()]


def assert_same(path, fmt=FOCUS) -> tuple:
    expected = outcome(scalar_read, path, fmt)
    assert outcome(columnar_read, path, fmt) == expected
    return expected[0]


def assert_read_alike(path, fmt=FOCUS) -> list[dict]:
    kind, rows = assert_same(path, fmt)
    assert kind == "read"
    assert rows
    return rows


def assert_refused_alike(path, message: str, fmt=FOCUS) -> None:
    assert assert_same(path, fmt) == ("refused", message)


def csv_text(columns: list[str], rows: list[dict]) -> str:
    path_rows = [",".join(columns)]
    for row in rows:
        path_rows.append(",".join(_quoted(row[column]) for column in columns))
    return "\n".join(path_rows) + "\n"


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value


def focus_with(path, changes: dict[int, dict], *, count: int = 12, gz: bool = False):
    """A FOCUS CSV whose data rows (0-based) are changed as ``changes`` says."""
    rows = focus_rows(NOV, count=count)
    for index, change in changes.items():
        rows[index].update(change)
    return write_csv(path, FOCUS_COLUMNS, rows, gz=gz)


def focus_parquet_with(path, column: str, values: list, arrow_type):
    write_focus_parquet(path, focus_rows(NOV, count=len(values)))
    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    table = table.set_column(index, pa.field(column, arrow_type), pa.array(values, type=arrow_type))
    pq.write_table(table, path, row_group_size=4)
    return path


@pytest.fixture
def small_batches(monkeypatch, settings):
    """Batches of a few rows, so that a small file spans several."""
    settings.PROPYLON_COST_IMPORT_BATCH_ROWS = 5
    monkeypatch.setattr(columnar, "CSV_BLOCK_BYTES", 2_000)


#
# FOCUS: good files
#


@pytest.mark.parametrize("gz", [False, True])
def test_focus_csv_gives_the_scalar_rows(tmp_path, gz):
    rows = assert_read_alike(
        write_csv(tmp_path / f"f.csv{'.gz' if gz else ''}", FOCUS_COLUMNS, focus_rows(NOV), gz=gz)
    )
    assert [row["row"] for row in rows] == list(range(2, 14))
    assert rows[1]["list_cost"] is None  # an empty ListCost stays empty


def test_focus_parquet_gives_the_scalar_rows(tmp_path):
    rows = assert_read_alike(write_focus_parquet(tmp_path / "f.parquet", focus_rows(NOV)))
    assert [row["row"] for row in rows] == list(range(1, 13))


def test_unusual_but_valid_cells_are_read_as_the_scalar_parser_reads_them(tmp_path):
    path = focus_with(
        tmp_path / "unusual.csv",
        {
            0: {"BilledCost": "1E-5", "EffectiveCost": "  1.5", "ListCost": "NULL"},
            1: {"ChargePeriodStart": "2026-11-02T00:00:00", "ChargeCategory": "usage"},
            2: {"BilledCost": "0.12345678905", "ConsumedQuantity": "+3", "RegionId": " eu-west-1 "},
            3: {"Tags": json.dumps({"cores": 8, "spot": True, "ratio": 0.5})},
            4: {"Tags": '{"team": "a", "team": "b", "Team": "c"}', "ResourceId": "null"},
            5: {"BillingPeriodStart": "2026-11-01", "BillingCurrency": "usd", "SkuId": "Null"},
            6: {"BilledCost": "1234567890.5", "ChargePeriodEnd": "2026-11-08T01:00:00+01:00"},
            7: {"BilledCost": "-0.12345678915"},
            8: {"BilledCost": "2.5E-10", "EffectiveCost": "1.5e-10", "ListCost": "7e-05"},
        },
    )
    rows = assert_read_alike(path)
    assert rows[0]["billed_cost"] == Decimal("0.00001")
    # Half to even at ten places, as the database rounds.
    assert [rows[2]["billed_cost"], rows[7]["billed_cost"]] == [
        Decimal("0.1234567890"),
        Decimal("-0.1234567892"),
    ]
    assert rows[4]["tags"] == '[["team","a"],["Team","c"],["team",null]]'
    assert rows[5]["billing_currency"] == "USD"
    assert [rows[8]["billed_cost"], rows[8]["effective_cost"]] == [Decimal("2E-10"), Decimal("2E-10")]


def test_a_bom_crlf_line_ends_quoted_line_breaks_and_trailing_blank_lines_read_alike(tmp_path):
    rows = focus_rows(NOV, count=4)
    rows[1]["BillingAccountName"] = 'Demo\n"quoted" payer'
    text = csv_text(FOCUS_COLUMNS, rows)
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode() + b"\r\n\r\n")
    rows = assert_read_alike(path)
    assert [row["row"] for row in rows] == [2, 3, 4, 5]


def test_a_blank_line_between_rows_keeps_the_row_numbers(tmp_path, small_batches):
    lines = csv_text(FOCUS_COLUMNS, focus_rows(NOV, count=12)).splitlines()
    lines.insert(9, "")
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n")
    rows = assert_read_alike(path)
    assert [row["row"] for row in rows][7:9] == [9, 11]


def test_after_a_blank_line_a_bad_row_and_a_row_of_empty_cells_are_named_alike(tmp_path, small_batches):
    lines = csv_text(FOCUS_COLUMNS, focus_rows(NOV, count=12)).splitlines()
    lines[11] = lines[11].replace("USD", "usd$")
    path = tmp_path / "blank-then-bad.csv"
    path.write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")
    assert_refused_alike(
        path, f"{path}, row 13, column BillingCurrency: “USD$” is not an ISO 4217 currency code."
    )
    path = tmp_path / "commas.csv"
    path.write_text("\n".join([*lines[:7], "," * (len(FOCUS_COLUMNS) - 1)]) + "\n")
    assert assert_same(path)[1].startswith(f"{path}, row 8, column ")


def test_a_focus_parquet_with_int64_account_ids_float_money_and_null_literals(tmp_path):
    rows = focus_rows(NOV, count=6)
    write_focus_parquet(tmp_path / "typed.parquet", rows)
    table = pq.read_table(tmp_path / "typed.parquet")
    changed = {
        "BillingAccountId": (pa.array([111122223333] * 6, pa.int64())),
        "BilledCost": pa.array([0.1, 0.30000000000000004, 1e-05, 2.5, -1.25, 1e20], pa.float64()),
        "EffectiveCost": pa.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], pa.float32()),
        "ChargeClass": pa.array(["NULL", "null", None, "", "Correction", "Null"]),
    }
    for column, values in changed.items():
        table = table.set_column(table.schema.get_field_index(column), column, values)
    pq.write_table(table, tmp_path / "typed.parquet", row_group_size=2)
    assert_refused_alike(
        tmp_path / "typed.parquet",
        f"{tmp_path / 'typed.parquet'}, row 6, column BilledCost: 1E+20 is too large for a single line item.",
    )
    pq.write_table(table.slice(0, 5), tmp_path / "typed.parquet")
    read = assert_read_alike(tmp_path / "typed.parquet")
    assert [row["billed_cost"] for row in read[:3]] == [Decimal("0.1"), Decimal("0.3"), Decimal("0.00001")]
    assert read[0]["billing_account_id"] == "111122223333"


def test_naive_parquet_timestamps_are_utc(tmp_path):
    naive = [datetime(2026, 11, 1, 0, 0), datetime(2026, 11, 2, 3, 30), None]  # noqa: DTZ001  (CUR 2.0 writes them so)
    path = focus_parquet_with(tmp_path / "naive.parquet", "ChargePeriodStart", naive, pa.timestamp("ms"))
    assert_refused_alike(
        path, f"{path}, row 3, column ChargePeriodStart: is empty; a date and time is required."
    )
    pq.write_table(pq.read_table(path).slice(0, 2), path)
    rows = assert_read_alike(path)
    assert rows[1]["charge_period_start"] == datetime(2026, 11, 2, 3, 30, tzinfo=UTC)


def test_a_tags_map_column_in_focus_parquet(tmp_path):
    tags = [[("team", "ml"), ("n", "1")], [], None, [("team", "ml"), ("n", "1")], [("x", None)]]
    path = focus_parquet_with(tmp_path / "map.parquet", "Tags", tags, pa.map_(pa.string(), pa.string()))
    rows = assert_read_alike(path)
    assert rows[0]["tags"] == rows[3]["tags"] == '[["team","ml"],["n","1"]]'
    assert rows[4]["tags"] == "[]"


#
# FOCUS: bad files
#


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BilledCost": "12,5"}, "row 5, column BilledCost: “12,5” is not a number."),
        ({"EffectiveCost": "NULL"}, "row 5, column EffectiveCost: is empty; a number is required."),
        ({"BilledCost": "Infinity"}, "row 5, column BilledCost: “Infinity” is not a finite number."),
        ({"BillingPeriodEnd": "2026-12-01T06:00:00Z"}, "row 5, column BillingPeriodEnd: 2026-12-01T06:00:00Z is not midnight UTC; billing periods start and end at midnight UTC."),
        ({"ChargePeriodStart": "yesterday"}, "row 5, column ChargePeriodStart: “yesterday” is not a date and time (ISO 8601 expected)."),
        ({"BillingCurrency": "US$"}, "row 5, column BillingCurrency: “US$” is not an ISO 4217 currency code."),
        ({"ChargeCategory": "Usage charge"}, "row 5, column ChargeCategory: “Usage charge” is not a FOCUS charge category (Usage, Purchase, Tax, Credit, Adjustment)."),
        ({"ChargeClass": "x" * 21}, "row 5, column ChargeClass: is 21 characters long; at most 20 are kept."),
        ({"Tags": '{"team": ["a"]}'}, "row 5, column Tags: tag “team” holds a list or map; a tag value is text."),
        ({"Tags": "{team}"}, "row 5, column Tags: is not a JSON object (Expecting property name enclosed in double quotes)."),
        ({"ConsumedQuantity": "1e18"}, "row 5, column ConsumedQuantity: 1E+18 is too large for a single line item."),
    ],
)  # fmt: skip
def test_a_bad_cell_is_refused_with_the_scalar_message(tmp_path, change, message):
    path = focus_with(tmp_path / "bad.csv", {3: change})
    assert_refused_alike(path, f"{path}, {message}")


def test_the_first_bad_row_of_the_file_is_the_one_named(tmp_path, small_batches):
    path = focus_with(tmp_path / "two.csv.gz", {7: {"BilledCost": "x"}, 9: {"BillingCurrency": ""}}, gz=True)
    assert_refused_alike(path, f"{path}, row 9, column BilledCost: “x” is not a number.")


def test_an_error_in_a_later_batch_names_its_row(tmp_path, small_batches):
    path = focus_with(tmp_path / "late.csv", {27: {"BillingCurrency": "EURO"}}, count=30)
    assert_refused_alike(
        path, f"{path}, row 29, column BillingCurrency: “EURO” is not an ISO 4217 currency code."
    )
    path = focus_parquet_with(
        tmp_path / "late.parquet",
        "BilledCost",
        [Decimal(i) for i in range(11)] + [None],
        pa.decimal128(38, 10),
    )
    assert_refused_alike(path, f"{path}, row 12, column BilledCost: is empty; a number is required.")


def test_multi_batch_files_give_every_row_once_in_order(tmp_path, small_batches):
    csv_rows = assert_read_alike(
        write_csv(tmp_path / "many.csv.gz", FOCUS_COLUMNS, focus_rows(NOV, count=40), gz=True)
    )
    assert [row["row"] for row in csv_rows] == list(range(2, 42))
    parquet_rows = assert_read_alike(
        write_focus_parquet(tmp_path / "many.parquet", focus_rows(NOV, count=40))
    )
    assert [row["row"] for row in parquet_rows] == list(range(1, 41))
    assert len(list(columnar.file_batches(input_file(tmp_path / "many.parquet"), FOCUS))) == 8


@pytest.mark.parametrize(
    ("arrow_type", "values", "message"),
    [
        (pa.bool_(), [True, False, True], "row 1, column BilledCost: holds a true/false value; a number (numeric or decimal column, or numeric text) is required."),
        (pa.float64(), [1.0, float("nan"), 2.0], "row 2, column BilledCost: “nan” is not a finite number."),
        (pa.date32(), [date(2026, 11, 1)] * 3, "row 1, column BilledCost: holds a date; a number (numeric or decimal column, or numeric text) is required."),
    ],
)  # fmt: skip
def test_a_parquet_money_column_of_another_type(tmp_path, arrow_type, values, message):
    path = focus_parquet_with(tmp_path / "typed.parquet", "BilledCost", values, arrow_type)
    assert_refused_alike(path, f"{path}, {message}")


def test_a_float_account_id_and_a_list_of_tags_are_refused_in_parquet(tmp_path):
    path = focus_parquet_with(tmp_path / "f.parquet", "BillingAccountId", [1.5e11, 2.0], pa.float64())
    assert_refused_alike(
        path, f"{path}, row 1, column BillingAccountId: holds a floating-point number; text is expected here."
    )
    path = focus_parquet_with(tmp_path / "l.parquet", "Tags", [["a"], ["b"]], pa.list_(pa.string()))
    assert_refused_alike(path, f"{path}, row 1, column Tags: holds a list or map, not a JSON object of tags.")


#
# Containers and headers
#


def test_header_problems_keep_their_messages(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert_refused_alike(empty, f"{empty}, row 1: is empty: it has no header row.")
    missing = tmp_path / "missing.csv"
    missing.write_text("BillingAccountId,BilledCost\n1,2\n")
    assert assert_same(missing)[1].startswith(
        f"{missing}, row 1, column EffectiveCost: the required FOCUS columns"
    )
    twice = tmp_path / "twice.csv"
    twice.write_text(",".join([*FOCUS_COLUMNS, " Tags"]) + "\n")
    assert_refused_alike(twice, f"{twice}, row 1: the header names Tags more than once.")
    header_only = write_csv(tmp_path / "header.csv", FOCUS_COLUMNS, [])
    assert outcome(columnar_read, header_only, FOCUS)[0] == ("read", [])


def test_a_short_row_a_bad_byte_and_a_damaged_gzip_keep_their_messages(tmp_path, small_batches):
    text = csv_text(FOCUS_COLUMNS, focus_rows(NOV, count=12))
    lines = text.splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join([*lines[:10], "a,b", *lines[10:]]) + "\n")
    assert_refused_alike(
        short, f"{short}, row 11: has 2 cells but the header has {len(FOCUS_COLUMNS)} columns."
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.replace("Demo payer", "Démo payer").encode("latin-1"))
    # The record reader decodes ahead of the row it parses: it names the row it was reading.
    assert_refused_alike(latin, f"{latin}, row 1: is not UTF-8 text.")
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(text.encode(), mtime=0)[:-200])
    message = assert_same(cut)[1]
    assert message.endswith(
        "the gzip stream ends early: the file is truncated (an interrupted upload or copy)."
    )
    not_gzip = tmp_path / "plain.csv.gz"
    not_gzip.write_text(text)
    assert assert_same(not_gzip)[1].startswith(f"{not_gzip}, row 1: is not a valid gzip file (")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert assert_same(broken)[1].startswith(f"{broken}: is not a readable Parquet file (")


def test_a_row_longer_than_a_block_is_read_by_the_record_reader(tmp_path, small_batches):
    path = focus_with(
        tmp_path / "long.csv", {6: {"ResourceId": "r" * 900, "Tags": json.dumps({"k": "v" * 3000})}}
    )
    rows = assert_read_alike(path)
    assert rows[6]["resource_id"] == "r" * 900


def test_a_line_longer_than_the_record_readers_limit_keeps_its_message(tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text(",".join(FOCUS_COLUMNS) + "\n" + "x" * (readers.MAX_ROW_CHARS + 10))
    message = assert_same(path)[1]
    assert message.startswith(f"{path}, row 2: the line (or row) is longer than 16,777,216 characters")


def test_the_file_record_is_the_record_readers(tmp_path):
    path = write_csv(tmp_path / "f.csv.gz", FOCUS_COLUMNS, focus_rows(NOV, count=30), gz=True)
    source = input_file(path)
    list(columnar.file_batches(source, FOCUS))
    assert source.as_record()["rows"] == 30
    assert source.bytes_read == path.stat().st_size
    assert source.progress == 1.0


class _Body:
    """An S3 object's body: read() only, not seekable."""

    def __init__(self, data: bytes):
        self.stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def close(self) -> None:
        self.stream.close()


@pytest.mark.parametrize("name", ["s3.csv.gz", "s3.parquet"])
def test_a_streamed_body_is_read_and_hashed_alike(tmp_path, name):
    rows = focus_rows(NOV, count=20)
    path = tmp_path / name
    if name.endswith(".parquet"):
        write_focus_parquet(path, rows)
    else:
        write_csv(path, FOCUS_COLUMNS, rows, gz=True)
    data = path.read_bytes()

    def body_file() -> readers.InputFile:
        kind = readers.file_kind(name)
        return readers.InputFile(
            name=f"s3://bills/{name}", kind=kind, size=len(data), opener=lambda: _Body(data)
        )

    scalar, columnar_file = body_file(), body_file()
    expected = scalar_read(scalar, FOCUS)
    assert columnar_read(columnar_file, FOCUS) == expected
    assert columnar_file.as_record() == scalar.as_record()
    assert columnar_file.sha256 == hashlib.sha256(data).hexdigest()


def test_the_white_space_arrow_looks_for_is_what_str_strip_removes():
    expected = {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    found = pa.array([*sorted(expected), "a", "_", "\u200b"])
    plain = columnar._plain_texts(found, 0)
    assert {value for value, own in zip(found.to_pylist(), plain, strict=True) if not own} == expected


#
# AWS CUR
#


def test_cur_legacy_csv_with_every_amortisation_line_type(tmp_path):
    path = write_csv(tmp_path / "cur.csv.gz", CUR_LEGACY_COLUMNS, cur_legacy_rows(NOV), gz=True)
    rows = assert_read_alike(path, CUR)
    assert sum(row["effective_cost"] for row in rows) == Decimal("22.3345678902")
    assert rows[0]["tags"] == '[["user:use-case","UC-0001"],["user:team","ml"]]'


def cur_parquet_name(column: str) -> str:
    """``lineItem/UnblendedCost`` as legacy CUR Parquet spells it: ``line_item_unblended_cost``."""
    category, name = column.split("/")
    if category == "resourceTags":
        return "resource_tags_" + name.replace(":", "_").replace("-", "_")
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in f"{category}_{name}")
    return snake.replace("__", "_").strip("_")


def test_cur_legacy_parquet_with_tag_columns(tmp_path):
    rows = cur_legacy_rows(NOV)
    names = {column: cur_parquet_name(column) for column in CUR_LEGACY_COLUMNS}
    table = pa.table({names[column]: [row[column] for row in rows] for column in CUR_LEGACY_COLUMNS})
    pq.write_table(table, tmp_path / "legacy.parquet")
    read = assert_read_alike(tmp_path / "legacy.parquet", CUR)
    assert read[0]["tags"] == '[["user_use_case","UC-0001"],["user_team","ml"]]'


def test_cur2_parquet_with_its_tag_map(tmp_path):
    rows = [legacy_to_cur2(row) for row in cur_legacy_rows(NOV)]
    read = assert_read_alike(write_cur2_parquet(tmp_path / "cur2.parquet", rows), CUR2)
    assert read[1]["effective_cost"] == Decimal("5.25")


def test_cur2_csv_with_json_tags(tmp_path):
    rows = [legacy_to_cur2(row) for row in cur_legacy_rows(NOV)]
    for row in rows:
        row["resource_tags"] = json.dumps(row["resource_tags"]) if row["resource_tags"] else ""
    rows[3]["resource_tags"] = '{"user_team": 7, "user_team ": "x"}'
    read = assert_read_alike(write_csv(tmp_path / "cur2.csv.gz", list(rows[0]), rows, gz=True), CUR2)
    assert read[3]["tags"] == '[["user_team","7"],["user_team ","x"]]'


def test_cur_refusals_keep_their_messages(tmp_path):
    rows = cur_legacy_rows(NOV)
    rows[4]["reservation/EffectiveCost"] = ""  # DiscountedUsage needs it
    path = write_csv(tmp_path / "cur.csv", CUR_LEGACY_COLUMNS, rows)
    assert_refused_alike(
        path, f"{path}, row 6, column reservation/EffectiveCost: is empty; a number is required.", CUR
    )
    rows = cur_legacy_rows(NOV)
    rows[2]["bill/PayerAccountId"] = ""
    path = write_csv(tmp_path / "payer.csv", CUR_LEGACY_COLUMNS, rows)
    assert_refused_alike(path, f"{path}, row 4, column bill/PayerAccountId: is empty.", CUR)
    without_plans = [c for c in CUR_LEGACY_COLUMNS if not c.startswith("savingsPlan/")]
    rows = [{column: row[column] for column in without_plans} for row in cur_legacy_rows(NOV)]
    path = write_csv(tmp_path / "plans.csv", without_plans, rows)
    assert_refused_alike(
        path,
        f"{path}, row 3, column sp_effective_cost: is needed to amortise this line item type but is not in the file.",
        CUR,
    )


def test_rows_to_batch_keeps_the_scalar_values():
    row = {
        "billing_period_start": NOV, "billing_period_end": None,
        "charge_period_start": datetime(2026, 11, 1, tzinfo=UTC), "charge_period_end": datetime(2026, 11, 2, tzinfo=UTC),
        "provider": "AWS", "billing_account_id": "1", "sub_account_id": "", "service_name": "Amazon EC2",
        "service_category": "", "resource_id": "", "region": "", "sku_id": "", "charge_category": "Usage",
        "charge_class": "", "provider_charge_type": "", "usage_quantity": None, "usage_unit": "",
        "billed_cost": Decimal("1E-10"), "effective_cost": Decimal("2.5"), "list_cost": None,
        "billing_currency": "EUR", "tags": {"team": "ml"},
    }  # fmt: skip
    (converted,) = from_rows([(7, row)]).to_pylist()
    assert converted == row | {"row": 7, "tags": '[["team","ml"]]', "billed_cost": Decimal("1E-10")}
