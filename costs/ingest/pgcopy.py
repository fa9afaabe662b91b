"""PostgreSQL binary COPY of Arrow tables, encoded with numpy (issue 13: vectorised imports).

Writing rows one at a time through psycopg's ``Copy.write_row`` costs microseconds per row in
Python; the import's target of 150,000 rows a second leaves no room for that. :func:`encode`
builds the ``COPY ... (FORMAT binary)`` stream of a whole ``pyarrow.Table`` with numpy instead,
and :func:`copy_table` sends it through a psycopg 3 cursor (Django's own connection, so the rows
land inside the caller's transaction).

Each slice of rows becomes a numpy structured array with one record per row: the field count,
then per column its int32 length and its big-endian value, every value of a column the same
width. A NULL (length -1) carries no value and a short text fewer bytes than the column's
longest, so when a slice has either, a keep-mask over the record bytes drops the unused ones.

The binary format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from psycopg import Cursor, sql

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4) + (0).to_bytes(4)  # flags, extension length
TRAILER = (-1).to_bytes(2, signed=True)
NULL_LENGTH = -1

# Rows per encoded slice: a slice of line items is ~3.5 MB of payload, so memory stays bounded
# and a slice's records stay in the CPU's cache while their fields are filled in one by one
# (measured: 16,384 rows encode faster than 4,096 or 50,000).
SLICE_ROWS = 16_384

# PostgreSQL counts dates and times from 2000-01-01; Arrow from 1970-01-01.
POSTGRES_EPOCH_DAYS = 10_957
POSTGRES_EPOCH_MICROSECONDS = POSTGRES_EPOCH_DAYS * 86_400 * 1_000_000

NUMERIC_POSITIVE = 0x0000
NUMERIC_NEGATIVE = 0x4000
NUMERIC_BASE = 10_000
# Decimals are taken apart with uint64 arithmetic (see _split_decimals), which bounds these.
NUMERIC_MAX_PRECISION = 28
NUMERIC_MAX_SCALE = 10
NUMERIC_MAX_INTEGER_DIGITS = 18

POSTGRES_TYPES = ("int4", "int8", "date", "timestamptz", "numeric", "varchar")


@dataclass
class _EncodedColumn:
    """One column of a slice, ready for its place in the records."""

    # (numpy format, values) after the length word: values is an array of the slice's length
    # (rows by n for a sub-array format) or a scalar the same for every row.
    parts: list[tuple[np.dtype, np.ndarray | int]]
    width: int  # bytes of every value's slot in the record
    valid: np.ndarray | None  # None: the slice has no NULL in this column
    used: np.ndarray | None = None  # bytes of each row's slot its value uses; None: all of them

    def lengths(self) -> np.ndarray | int:
        length = self.width if self.used is None else self.used
        if self.valid is None:
            return length
        return np.where(self.valid, length, NULL_LENGTH)

    def is_variable(self) -> bool:
        """Whether some row leaves bytes of its slot unused (a NULL, a shorter text)."""
        if self.valid is not None:
            return True
        return self.used is not None and bool(np.any(self.used != self.width))


def encode(table: pa.Table, columns: list[tuple[str, str]]) -> list[memoryview | bytes]:
    """The ``COPY ... FROM STDIN (FORMAT binary)`` stream of `table`'s `columns`, as buffers to
    write one after the other (``b"".join(...)`` copies them into one ``bytes``).

    `columns` names, in the order of the COPY column list, each column of `table` with its
    PostgreSQL type: ``int4`` (Arrow int32), ``int8`` (int64), ``date`` (date32),
    ``timestamptz`` (timestamp in microseconds with a time zone), ``numeric`` (decimal128 with
    precision up to 28, scale up to 10 and up to 18 integer digits) or ``varchar`` (string or
    large_string: short texts, as every row is first laid out at the slice's longest). Any
    column may hold NULLs. A column of another Arrow type raises ``ValueError``.
    """
    _check_columns(table, columns)
    return list(_chunks(table, columns))


def copy_table(cursor: Cursor, table_name: str, table: pa.Table, columns: list[tuple[str, str]]) -> None:
    """COPY `table`'s `columns` (as for :func:`encode`) into the database table `table_name`
    (quoted as one identifier).

    `cursor` is a psycopg 3 cursor (``django.db.connection.cursor().cursor``); the rows are
    written in the cursor's transaction, one encoded slice of :data:`SLICE_ROWS` at a time.
    """
    _check_columns(table, columns)
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT binary)").format(
        table=sql.Identifier(table_name),
        columns=sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
    )
    with cursor.copy(statement) as copy:
        for chunk in _chunks(table, columns):
            copy.write(chunk)


def _chunks(table: pa.Table, columns: list[tuple[str, str]]) -> Iterator[memoryview | bytes]:
    yield SIGNATURE
    selected = table.select([name for name, _ in columns])
    for batch in selected.to_batches(max_chunksize=SLICE_ROWS):
        if batch.num_rows:
            yield memoryview(_encode_slice(batch, [postgres_type for _, postgres_type in columns]))
    yield TRAILER


def _check_columns(table: pa.Table, columns: list[tuple[str, str]]) -> None:
    if not columns:
        raise ValueError("COPY needs at least one column")
    for name, postgres_type in columns:
        if name not in table.column_names:
            raise ValueError(f"column {name!r} is not in the table (it has {table.column_names})")
        arrow_type = table.schema.field(name).type
        problem = _type_problem(postgres_type, arrow_type)
        if problem:
            raise ValueError(f"column {name!r} ({arrow_type}) cannot be copied as {postgres_type}: {problem}")


def _type_problem(postgres_type: str, arrow_type: pa.DataType) -> str | None:
    """Why `arrow_type` cannot be encoded as `postgres_type`, or None when it can."""
    if postgres_type not in POSTGRES_TYPES:
        return f"the PostgreSQL type must be one of {', '.join(POSTGRES_TYPES)}"
    expected = {
        "int4": (pa.types.is_int32, "int32"),
        "int8": (pa.types.is_int64, "int64"),
        "date": (pa.types.is_date32, "date32"),
        "timestamptz": (
            lambda t: pa.types.is_timestamp(t) and t.unit == "us" and t.tz is not None,
            "timestamp('us', tz=...) (cast it first; a timestamp without a time zone is ambiguous)",
        ),
        "numeric": (pa.types.is_decimal128, "decimal128"),
        "varchar": (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "string"),
    }
    is_expected, description = expected[postgres_type]
    if not is_expected(arrow_type):
        return f"it needs an Arrow {description}"
    if postgres_type == "numeric":
        precision, scale = arrow_type.precision, arrow_type.scale
        if precision > NUMERIC_MAX_PRECISION or not 0 <= scale <= NUMERIC_MAX_SCALE:
            return f"precision up to {NUMERIC_MAX_PRECISION} and scale 0 to {NUMERIC_MAX_SCALE} are supported"
        if precision - scale > NUMERIC_MAX_INTEGER_DIGITS:
            return f"up to {NUMERIC_MAX_INTEGER_DIGITS} integer digits are supported"
    return None


def _encode_slice(batch: pa.RecordBatch, postgres_types: list[str]) -> np.ndarray:
    """The records of `batch`'s rows as bytes (a uint8 array)."""
    encoded = [
        ENCODERS[postgres_type](column)
        for column, postgres_type in zip(batch.columns, postgres_types, strict=True)
    ]
    layout = [("field_count", ">i2")]
    for index, column in enumerate(encoded):
        layout.append((f"length_{index}", ">i4"))
        layout.extend((f"value_{index}_{part}", dtype) for part, (dtype, _) in enumerate(column.parts))
    record = np.dtype(layout)

    # Values the same in every row go into one template record, copied to all rows at once:
    # much faster than filling each of those narrow fields across the rows.
    template = np.zeros(1, dtype=record)
    per_row = []
    template["field_count"] = len(encoded)
    for index, column in enumerate(encoded):
        fields = [(f"length_{index}", column.lengths())]
        fields += [(f"value_{index}_{part}", values) for part, (_, values) in enumerate(column.parts)]
        for name, values in fields:
            if np.ndim(values):
                per_row.append((name, values))
            else:
                template[name] = values
    rows = np.empty(batch.num_rows, dtype=record)
    record_bytes = rows.view(np.uint8).reshape(batch.num_rows, record.itemsize)
    record_bytes[:] = template.view(np.uint8)
    for name, values in per_row:
        rows[name] = values

    variable = [(index, column) for index, column in enumerate(encoded) if column.is_variable()]
    if not variable:
        return record_bytes.reshape(-1)
    keep = np.ones(record_bytes.shape, dtype=bool)
    for index, column in variable:
        start = record.fields[f"length_{index}"][1] + 4
        slot = keep[:, start : start + column.width]
        if column.used is not None:
            slot &= np.arange(column.width) < column.used[:, np.newaxis]
        if column.valid is not None:
            slot[~column.valid] = False
    return record_bytes[keep]


def _validity(array: pa.Array) -> np.ndarray | None:
    if array.null_count == 0:
        return None
    return array.is_valid().to_numpy(zero_copy_only=False)


def _fixed_values(array: pa.Array, dtype: str, words_per_value: int = 1) -> np.ndarray:
    """The values buffer of a fixed-width `array`, `words_per_value` items of `dtype` a value
    (values under NULLs are unspecified)."""
    if not len(array):
        return np.empty(0, dtype=dtype)
    words = np.frombuffer(
        array.buffers()[1], dtype=dtype, count=(array.offset + len(array)) * words_per_value
    )
    return words[array.offset * words_per_value :]


def _encode_int4(array: pa.Array) -> _EncodedColumn:
    return _EncodedColumn([(np.dtype(">i4"), _fixed_values(array, "<i4"))], 4, _validity(array))


def _encode_int8(array: pa.Array) -> _EncodedColumn:
    return _EncodedColumn([(np.dtype(">i8"), _fixed_values(array, "<i8"))], 8, _validity(array))


def _encode_date(array: pa.Array) -> _EncodedColumn:
    days = _fixed_values(array, "<i4") - np.int32(POSTGRES_EPOCH_DAYS)
    return _EncodedColumn([(np.dtype(">i4"), days)], 4, _validity(array))


def _encode_timestamptz(array: pa.Array) -> _EncodedColumn:
    microseconds = _fixed_values(array, "<i8") - np.int64(POSTGRES_EPOCH_MICROSECONDS)
    return _EncodedColumn([(np.dtype(">i8"), microseconds)], 8, _validity(array))


def _encode_numeric(array: pa.Array) -> _EncodedColumn:
    """Every value in the same layout: enough base-10000 digits for the column's precision,
    leading and trailing zero digits included (numeric_recv accepts them; make_result strips)."""
    precision, scale = array.type.precision, array.type.scale
    integer_groups = -(-(precision - scale) // 4)
    fraction_groups = -(-scale // 4)
    negative, integer, fraction = _split_decimals(array, scale)

    # Remainders as x - (x // d) * d: numpy divides by a constant quickly, but not np.divmod.
    base = np.uint64(NUMERIC_BASE)
    digits = np.empty((len(array), integer_groups + fraction_groups), dtype=np.uint16)
    for group in range(integer_groups):
        quotient = integer // base
        digits[:, integer_groups - 1 - group] = integer - quotient * base
        integer = quotient
    if fraction_groups:
        # The fraction is `scale` digits; its last base-10000 digit is padded with zeros on the
        # right (scale 10: the fraction's digits 9-10 are the first two of that digit's four).
        last_group_digits = np.uint64(10 ** (scale - 4 * (fraction_groups - 1)))
        quotient = fraction // last_group_digits
        digits[:, -1] = (fraction - quotient * last_group_digits) * np.uint64(10**4 // last_group_digits)
        fraction = quotient
        for group in range(2, fraction_groups + 1):
            quotient = fraction // base
            digits[:, -group] = fraction - quotient * base
            fraction = quotient

    short = np.dtype(">i2")
    parts = [
        (short, digits.shape[1]),  # ndigits
        (short, integer_groups - 1),  # weight: of the first digit, in powers of 10000 (may be -1)
        (short, negative.astype(np.int16) * np.int16(NUMERIC_NEGATIVE)),  # sign
        (short, scale),  # dscale
        # Swapped to big-endian at once: the copy into the records is then a plain one.
        (np.dtype((">u2", (digits.shape[1],))), digits.byteswap().view(">u2")),
    ]
    return _EncodedColumn(parts, 8 + 2 * digits.shape[1], _validity(array))


def _split_decimals(array: pa.Array, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sign, integer part and fraction (as an integer of `scale` digits) of each decimal128.

    The unscaled value is a little-endian two's complement 128-bit integer, two uint64 words
    (low, high). Its magnitude is below 10**28 < 2**94, so high < 2**30, and with
    2**64 = q·10**scale + r (r < 10**10 < 2**34 as scale <= 10):
    magnitude = (high·q + low // 10**scale)·10**scale + high·r + low % 10**scale,
    where high·r + low % 10**scale stays below 2**64.
    """
    words = _fixed_values(array, "<u8", words_per_value=2).reshape(-1, 2)
    low, high = words[:, 0], words[:, 1]
    # Negation in two's complement is complement plus one, the one carried into the high word
    # when the low word wraps to zero; all-ones `negative_mask` applies it without branches.
    negative_mask = (high.view(np.int64) >> 63).view(np.uint64)
    one_if_negative = negative_mask & np.uint64(1)
    low = (low ^ negative_mask) + one_if_negative
    high = (high ^ negative_mask) + (one_if_negative & (low == 0))
    negative = one_if_negative.astype(bool)
    if scale == 0:
        return negative, low, np.zeros(len(array), dtype=np.uint64)

    divisor = np.uint64(10**scale)
    low_integer = low // divisor
    low_fraction = low - low_integer * divisor
    if not high.any():  # every magnitude below 2**64 (amounts of money below ~1.8 billion)
        return negative, low_integer, low_fraction
    quotient_of_2_64, remainder_of_2_64 = divmod(2**64, 10**scale)
    rest = high * np.uint64(remainder_of_2_64) + low_fraction
    carry = rest // divisor
    fraction = rest - carry * divisor
    integer = high * np.uint64(quotient_of_2_64) + low_integer + carry
    return negative, integer, fraction


def _encode_varchar(array: pa.Array) -> _EncodedColumn:
    offset_type = "<i8" if pa.types.is_large_string(array.type) else "<i4"
    offsets = np.frombuffer(array.buffers()[1], dtype=offset_type, count=array.offset + len(array) + 1)
    offsets = offsets[array.offset :]
    used = np.diff(offsets)
    valid = _validity(array)
    used_by_values = used if valid is None else used[valid]
    width = int(used_by_values.max()) if len(used_by_values) else 0
    if width == 0:
        return _EncodedColumn([], 0, valid, used=np.zeros(len(array), dtype=np.int64))
    text = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    # Every row's slot is `width` bytes from its offset; bytes past its own text (and past the
    # buffer's end, for the last rows) are read and then dropped by the keep-mask.
    positions = np.minimum(offsets[:-1, np.newaxis] + np.arange(width), len(text) - 1)
    return _EncodedColumn([(np.dtype(("u1", (width,))), text[positions])], width, valid, used=used)


ENCODERS = {
    "int4": _encode_int4,
    "int8": _encode_int8,
    "date": _encode_date,
    "timestamptz": _encode_timestamptz,
    "numeric": _encode_numeric,
    "varchar": _encode_varchar,
}
