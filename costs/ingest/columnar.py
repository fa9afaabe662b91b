"""Billing files read column by column into :data:`costs.ingest.batch.NORMALIZED` batches.

The scalar parsers (``focus.parse_row``, ``cur.parse_row``) stay the definition of what a cell
means and of every message an import shows. This module only takes the shortcuts that cannot
change an answer:

* a cell's value depends on the cell alone, so the scalar normalisers (``normalize.text``,
  ``timestamp``, ``period_date``, ``currency``, ``tags_from_json``) run once per *distinct* value
  of a column and the results are taken back to the rows;
* money and quantities are many distinct values, so the common forms (``-12.5``, ``2.5e-10``,
  decimal and integer columns, floats through their shortest text, as ``repr`` gives it) are
  converted by ``pyarrow.compute``;
* every row where some cell is not in such a form (``1E-5``, `` 1.5``, an error) is handed to the
  scalar parser whole, which returns it or raises today's message with the row's number.

The container is read by Arrow (CSV through ``pyarrow.csv.open_csv``, Parquet one record batch at
a time). Whatever Arrow refuses or cannot number exactly (a damaged gzip stream, bytes that are
not UTF-8, a short row, a blank line, a row longer than a block) is read again by
``readers.iter_records`` from the first row not yet returned, so messages and row numbers are the
record reader's.
"""

import io
import queue
import threading
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as arrow_csv
import pyarrow.parquet as pq

from costs.choices import ChargeCategoryChoices, ImportFormatChoices
from costs.ingest import cur, focus, readers
from costs.ingest import normalize as n
from costs.ingest.batch import MONEY_TYPE, NORMALIZED, QUANTITY_TYPE, TIME_TYPE, batch_rows, from_rows
from costs.ingest.errors import CostImportError

# About 100,000 FOCUS rows of ~330 bytes per CSV block or Parquet batch.
# A CSV is read in blocks of bytes, not rows: a block holds about PROPYLON_COST_IMPORT_BATCH_ROWS
# rows of a billing export (some 320 bytes each), at most CSV_BLOCK_BYTES.
CSV_BLOCK_BYTES = 32 * 1024 * 1024
CSV_BYTES_PER_ROW = 320


def csv_block_bytes() -> int:
    return min(CSV_BLOCK_BYTES, max(batch_rows() * CSV_BYTES_PER_ROW, 1 << 20))


# Arrow's failures while reading a container; the record reader then says what is wrong.
_ARROW_READ_FAILURES = (pa.ArrowException, OSError, EOFError, ValueError, zlib.error)
# Fast-path numbers: plain decimal text within the limits. Money below 1e9 and quantities below
# 1e17 (one digit short of the limits, so rounding to ten places cannot reach them); longer
# forms go to the scalar parser, which applies the limits exactly.
_WORK_TYPE = pa.decimal128(38, 18)
_MONEY_DIGITS = 9
_QUANTITY_DIGITS = 17
_NUMBER_PATTERN = r"^-?[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$"
# Small amounts in exponent form, as floats print them (1e-7, 2.5e-10): below 10, at most 36
# places, so exact in the work type below.
_SMALL_NUMBER_PATTERN = r"^-?[0-9](\.[0-9]{1,16})?[eE]-0*([1-9]|1[0-9]|20)$"
_SMALL_WORK_TYPE = pa.decimal128(38, 36)
_NULL_TEXTS = pa.array(sorted(n.NULL_TEXTS))
_CSV_STRING_COLUMNS = 4096  # columns typed as text when the header is read as the first row


class _ArrowGaveUp(Exception):
    """Arrow could not read on (or could not number the rows exactly): the record reader takes over."""


class _NeedsScalarParser(Exception):
    """A value the shortcut does not decide; the scalar parser gives its result or its message."""


#
# Per-column conversions: (values, rows the scalar parser must decide)
#


def _constant(value: Any, size: int, value_type: pa.DataType) -> pa.Array:
    return pa.array([value], type=value_type).take(pa.array(np.zeros(size, dtype=np.int32)))


class _Cache(dict):
    """Results of one column's distinct values, kept across the batches of a file (up to a
    bound, so that a column of unique values does not grow it without end)."""

    LIMIT = 200_000

    def remember(self, key: Any, result: Any) -> None:
        if len(self) < self.LIMIT:
            self[key] = result


_REFUSED = object()  # a cache entry: the scalar parser decides rows with this value


def _per_distinct(
    array: pa.Array | None,
    size: int,
    convert: Callable[[Any], Any],
    value_type: pa.DataType,
    cache: _Cache,
    *,
    plain_text_limit: int | None = None,
) -> tuple[pa.Array, np.ndarray]:
    """``convert`` applied once per distinct value of ``array`` (``None``: the column is absent).

    With ``plain_text_limit`` (0: no limit) ``convert`` is ``normalize.text`` or stricter, and a
    text value that is not a null spelling, has no surrounding white space and is within the
    limit is its own result without a call."""
    if array is None:
        try:
            return _constant(convert(None), size, value_type), np.zeros(size, dtype=bool)
        except (CostImportError, _NeedsScalarParser):
            return pa.nulls(size, value_type), np.ones(size, dtype=bool)
    try:
        encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    except pa.ArrowNotImplementedError:  # nested values: the scalar parser refuses or reads them
        return pa.nulls(size, value_type), np.ones(size, dtype=bool)
    dictionary = encoded.dictionary
    indices = encoded.indices
    if indices.null_count:
        indices = indices.fill_null(len(dictionary))
        dictionary = pa.concat_arrays([dictionary, pa.nulls(1, dictionary.type)])
    if plain_text_limit is not None and pa.types.is_string(dictionary.type):
        own = _plain_texts(dictionary, plain_text_limit)
        if own.all() and array.type == value_type:  # every value is its own result
            return array, np.zeros(size, dtype=bool)
    else:
        own = np.zeros(len(dictionary), dtype=bool)
    others = np.flatnonzero(~own)
    results: list[Any] = [None] * len(dictionary)
    refused = np.zeros(len(dictionary), dtype=bool)
    for position, value in zip(others, dictionary.take(pa.array(others)).to_pylist(), strict=True):
        if value in cache:
            result = cache[value]
        else:
            try:
                result = convert(value)
            except (CostImportError, _NeedsScalarParser):
                result = _REFUSED
            cache.remember(value, result)
        if result is _REFUSED:
            refused[position] = True
        else:
            results[position] = result
    converted = pa.array(results, type=value_type)
    if own.any():
        converted = pc.if_else(pa.array(own), dictionary, converted)
    return converted.take(indices), refused[indices.to_numpy(zero_copy_only=False)]


# The characters str.strip() removes (str.isspace()), for Arrow's regular expressions.
_WHITE_SPACE = (
    r"[\t\n\x0b\x0c\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)


def _plain_texts(values: pa.Array, limit: int) -> np.ndarray:
    """Texts ``normalize.text`` returns unchanged."""
    plain = pc.and_(
        pc.invert(pc.is_in(values, value_set=_NULL_TEXTS)),
        pc.invert(pc.match_substring_regex(values, f"^{_WHITE_SPACE}|{_WHITE_SPACE}$")),
    )
    if limit:
        plain = pc.and_(plain, pc.less_equal(pc.utf8_length(values), limit))
    return pc.fill_null(plain, False).to_numpy(zero_copy_only=False)


def _number(
    array: pa.Array | None, size: int, *, required: bool, digits: int, target: pa.DataType
) -> tuple[pa.Array, np.ndarray]:
    """A money or quantity column as ``target``, rounded half to even to ten places."""
    if array is None:
        return pa.nulls(size, target), np.full(size, required)
    kind = array.type
    null = array.is_null()
    if pa.types.is_floating(kind):
        # Arrow prints a double's shortest round-trip digits, as Python's repr() does.
        array = array.cast(pa.float64()).cast(pa.string())
        kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _number_text(array, null, size, required=required, digits=digits, target=target)
    if pa.types.is_integer(kind) or (pa.types.is_decimal(kind) and kind.scale <= 18):
        bound = Decimal(10) ** digits
        bound_type = pa.decimal128(digits + 1, 0)
        plain = pc.and_(
            pc.greater(array, pa.scalar(-bound, bound_type)), pc.less(array, pa.scalar(bound, bound_type))
        )
        # Only values within the bound are cast, so the cast cannot overflow.
        values = pc.if_else(plain, array, pa.scalar(0).cast(kind))
        if pa.types.is_integer(kind) or kind.scale <= n.DECIMAL_PLACES:
            return _kept(values.cast(target), null, plain, size, required=required)
        values = values.cast(_WORK_TYPE)
    else:  # true/false, dates, lists: the scalar parser refuses them (or finds them empty)
        values = pa.nulls(size, _WORK_TYPE)
        plain = pa.array(np.zeros(size, dtype=bool))
    rounded = pc.round(values, ndigits=n.DECIMAL_PLACES, round_mode="half_to_even").cast(target)
    return _kept(rounded, null, plain, size, required=required)


def _number_text(
    array: pa.Array, null: pa.Array, size: int, *, required: bool, digits: int, target: pa.DataType
) -> tuple[pa.Array, np.ndarray]:
    """Numeric text: at most ten places cast as they are (the common case, one pass); more
    places (up to 18) and small amounts in exponent form rounded half to even."""
    short = pc.match_substring_regex(array, _NUMBER_PATTERN.format(digits=digits, places=n.DECIMAL_PLACES))
    if not array.null_count and pc.all(short).as_py():
        return array.cast(target), np.zeros(size, dtype=bool)
    values = pc.if_else(short, array, "0").cast(target)
    plain = short
    for pattern, work_type in (
        (_NUMBER_PATTERN.format(digits=digits, places=18), _WORK_TYPE),
        (_SMALL_NUMBER_PATTERN, _SMALL_WORK_TYPE),
    ):
        rounded_here = pc.and_not(pc.match_substring_regex(array, pattern), plain)
        if pc.any(rounded_here).as_py():
            exact = pc.if_else(rounded_here, array, "0").cast(work_type)
            rounded = pc.round(exact, ndigits=n.DECIMAL_PLACES, round_mode="half_to_even").cast(target)
            values = pc.if_else(rounded_here, rounded, values)
            plain = pc.or_(plain, rounded_here)
    null = pc.or_(null, pc.is_in(array, value_set=_NULL_TEXTS))
    return _kept(values, null, plain, size, required=required)


def _kept(
    values: pa.Array, null: pa.Array, plain: pa.Array, size: int, *, required: bool
) -> tuple[pa.Array, np.ndarray]:
    """The plain values (null where empty or refused), and the rows the scalar parser decides."""
    null_rows = pc.fill_null(null, True).to_numpy(zero_copy_only=False)
    plain_rows = pc.fill_null(plain, False).to_numpy(zero_copy_only=False)
    refused = (null_rows & required) | (~null_rows & ~plain_rows)
    kept = ~null_rows & plain_rows
    if kept.all():
        return values, refused
    return pc.if_else(pa.array(kept), values, pa.nulls(size, values.type)), refused


def _cell_key(array: pa.Array) -> pa.Array | None:
    """Text that tells the column's values apart (length-prefixed, ``N`` for null), or None."""
    kind = array.type
    if pa.types.is_map(kind):
        keys, items = _cell_key(array.keys), _cell_key(array.items)
        if keys is None or items is None:
            return None
        entries = pc.binary_join_element_wise(keys, items, "=")
        lists = pa.ListArray.from_arrays(array.offsets, entries, mask=array.is_null())
        text = pc.binary_join(lists, "")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = array
    elif (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_temporal(kind)
    ):
        text = array.cast(pa.string())
    else:
        return None
    prefixed = pc.binary_join_element_wise(pc.utf8_length(text).cast(pa.string()), text, ":")
    return pc.fill_null(prefixed, "N")


def _tag_texts(
    batch: pa.RecordBatch, names: list[str], build: Callable[[dict], n.TagMap], cache: _Cache
) -> tuple[pa.Array, np.ndarray]:
    """``tag_pairs_text`` of every row, ``build`` called once per distinct combination of the
    tag columns' cells (the first row holding it stands for all of them)."""
    size = batch.num_rows
    present = [name for name in names if name in batch.schema.names]
    if not present:
        return _per_distinct(None, size, lambda _: n.tag_pairs_text(build({})), pa.string(), cache)
    if len(present) == 1 and not pa.types.is_nested(batch.column(present[0]).type):
        key = batch.column(present[0])
    else:
        parts = [_cell_key(batch.column(name)) for name in present]
        if any(part is None for part in parts):
            return pa.nulls(size, pa.string()), np.ones(size, dtype=bool)
        key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "")
    encoded = key.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    indices = encoded.indices
    if indices.null_count:
        indices = indices.fill_null(len(distinct))
        distinct.append(None)
    positions = indices.to_numpy(zero_copy_only=False)
    unseen = [slot for slot, value in enumerate(distinct) if value not in cache]
    built = {}
    if unseen:
        first_rows = np.full(len(distinct), -1, dtype=np.int64)
        # The first row of each value: positions written backwards, so the earliest row wins.
        first_rows[positions[::-1]] = np.arange(size - 1, -1, -1)
        records = batch.select(present).take(pa.array(first_rows[unseen])).to_pylist()
        for slot, record in zip(unseen, records, strict=True):
            try:
                built[distinct[slot]] = n.tag_pairs_text(build(record))
            except CostImportError:
                built[distinct[slot]] = _REFUSED
            cache.remember(distinct[slot], built[distinct[slot]])
    texts = [cache[value] if value in cache else built[value] for value in distinct]
    refused = np.asarray([text is _REFUSED for text in texts], dtype=bool)
    texts = [None if text is _REFUSED else text for text in texts]
    return pa.array(texts, type=pa.string()).take(indices), refused[positions]


#
# Formats
#


class _Columns:
    """The normalised columns of one raw batch, and which rows the scalar parser must decide."""

    def __init__(self, batch: pa.RecordBatch):
        self.batch = batch
        self.size = batch.num_rows
        self.values: dict[str, pa.Array] = {}
        self.refused = np.zeros(self.size, dtype=bool)

    def cell(self, column: str | None) -> pa.Array | None:
        return self.batch.column(column) if column else None

    def put(self, field: str, converted: tuple[pa.Array, np.ndarray]) -> pa.Array:
        values, refused = converted
        self.values[field] = values
        self.refused |= refused
        return values

    def refuse(self, rows: np.ndarray) -> None:
        self.refused |= rows

    def constant_text(self, field: str, value: str) -> None:
        self.values[field] = _constant(value, self.size, pa.string())


class _Format:
    """One file's columns resolved from its header; ``parse_row`` is the scalar parser."""

    def __init__(self, file_name: str):
        self.file_name = file_name
        self.caches: dict[str, _Cache] = defaultdict(_Cache)

    def parse_row(self, record: dict) -> dict:
        raise NotImplementedError

    def convert(self, columns: _Columns) -> None:
        raise NotImplementedError

    def distinct(
        self,
        columns: _Columns,
        field: str,
        array: pa.Array | None,
        convert: Callable[[Any], Any],
        value_type: pa.DataType = pa.string(),  # noqa: B008  (an immutable type singleton)
        *,
        plain_text_limit: int | None = None,
    ) -> pa.Array:
        converted = _per_distinct(
            array, columns.size, convert, value_type, self.caches[field], plain_text_limit=plain_text_limit
        )
        return columns.put(field, converted)

    def text(self, columns: _Columns, field: str, array: pa.Array | None, column: str) -> pa.Array:
        return self.distinct(
            columns,
            field,
            array,
            lambda value: n.text(value, column, field),
            plain_text_limit=n.TEXT_LIMITS.get(field, 0),
        )

    def times(self, columns: _Columns, name: Callable[[str], str], cell, fields: tuple[str, ...]) -> None:
        for field in fields:
            column = name(field)
            if field.startswith("billing_period"):
                self.distinct(
                    columns, field, cell(field), lambda v, c=column: n.period_date(v, c), pa.date32()
                )
            else:
                self.distinct(columns, field, cell(field), lambda v, c=column: n.timestamp(v, c), TIME_TYPE)

    def batch(self, raw: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
        columns = _Columns(raw)
        self.convert(columns)
        rows = np.arange(first_row, first_row + raw.num_rows, dtype=np.int64)
        if not columns.refused.any():
            return _assemble(columns.values, rows)
        unusual = np.flatnonzero(columns.refused)
        parsed = []
        for index, record in zip(unusual, raw.take(pa.array(unusual)).to_pylist(), strict=True):
            try:
                parsed.append((int(rows[index]), self.parse_row(record)))
            except CostImportError as exc:
                raise exc.located(file=self.file_name, row=int(rows[index])) from None
        kept = pa.array(~columns.refused)
        common = _assemble(
            {name: values.filter(kept) for name, values in columns.values.items()}, rows[~columns.refused]
        )
        table = pa.Table.from_batches([common, from_rows(parsed)], schema=NORMALIZED).sort_by("row")
        return table.combine_chunks().to_batches()[0]


class _Focus(_Format):
    def __init__(self, header: list[str], file_name: str, header_row: int | None):
        super().__init__(file_name)
        self.columns = focus.resolve_columns(header, file_name, header_row)

    def parse_row(self, record: dict) -> dict:
        return focus.parse_row(record, self.columns)

    def name(self, field: str) -> str:
        return self.columns.get(field, focus.COLUMNS[field][0])

    def convert(self, columns: _Columns) -> None:
        size = columns.size

        def cell(field: str) -> pa.Array | None:
            return columns.cell(self.columns.get(field))

        def category(value: Any) -> str:
            canonical = focus.CHARGE_CATEGORIES.get(n.text(value, self.name("charge_category")).lower())
            if canonical is None:
                raise _NeedsScalarParser
            return canonical

        for field in ("billed_cost", "effective_cost", "list_cost"):
            columns.put(
                field,
                _number(
                    cell(field), size, required=field != "list_cost", digits=_MONEY_DIGITS, target=MONEY_TYPE
                ),
            )
        columns.put(
            "usage_quantity",
            _number(
                cell("usage_quantity"), size, required=False, digits=_QUANTITY_DIGITS, target=QUANTITY_TYPE
            ),
        )
        self.distinct(columns, "charge_category", cell("charge_category"), category)
        currency_column = self.name("billing_currency")
        self.distinct(
            columns, "billing_currency", cell("billing_currency"), lambda v: n.currency(v, currency_column)
        )
        self.times(
            columns,
            self.name,
            cell,
            ("billing_period_start", "billing_period_end", "charge_period_start", "charge_period_end"),
        )
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
            self.text(columns, field, cell(field), self.name(field))
        columns.constant_text("provider_charge_type", "")
        tags_column = self.columns.get("tags")
        tags_name = self.name("tags")
        columns.put(
            "tags",
            _tag_texts(
                columns.batch,
                [tags_column] if tags_column else [],
                lambda record: n.tags_from_json(record.get(tags_column), tags_name),
                self.caches["tags"],
            ),
        )


class _Cur(_Format):
    def __init__(self, header: list[str], file_name: str, header_row: int | None):
        super().__init__(file_name)
        self.layout = cur.resolve_layout(header, file_name, header_row)

    def parse_row(self, record: dict) -> dict:
        return cur.parse_row(record, self.layout)

    def convert(self, columns: _Columns) -> None:
        size = columns.size
        layout = self.layout

        def cell(field: str) -> pa.Array | None:
            return columns.cell(layout.columns.get(field))

        def money(field: str, *, required: bool) -> tuple[pa.Array, np.ndarray]:
            return _number(cell(field), size, required=required, digits=_MONEY_DIGITS, target=MONEY_TYPE)

        def line_item_type(value: Any) -> str:
            text = n.text(value, layout.name("line_item_type"), "provider_charge_type")
            if not text:
                raise _NeedsScalarParser
            return text

        def account(value: Any) -> str:
            text = n.text(value, layout.name("billing_account_id"), "billing_account_id")
            if not text:
                raise _NeedsScalarParser
            return text

        line_type = self.distinct(
            columns,
            "provider_charge_type",
            cell("line_item_type"),
            line_item_type,
            plain_text_limit=n.TEXT_LIMITS["provider_charge_type"],
        )
        self.distinct(
            columns,
            "charge_category",
            line_type,
            lambda t: cur.CHARGE_CATEGORY.get(t, ChargeCategoryChoices.ADJUSTMENT),
        )
        unblended = columns.put("billed_cost", money("unblended_cost", required=True))
        columns.put("list_cost", money("public_cost", required=False))
        columns.put(
            "usage_quantity",
            _number(
                cell("usage_quantity"), size, required=False, digits=_QUANTITY_DIGITS, target=QUANTITY_TYPE
            ),
        )
        currency_column = layout.name("currency")
        self.distinct(columns, "billing_currency", cell("currency"), lambda v: n.currency(v, currency_column))
        self.times(
            columns, layout.name, cell, ("billing_period_start", "charge_period_start", "charge_period_end")
        )
        end_column = layout.name("billing_period_end")
        self.distinct(
            columns,
            "billing_period_end",
            cell("billing_period_end"),
            lambda v: None if n.is_null(v) else n.period_date(v, end_column),
            pa.date32(),
        )
        self.distinct(
            columns,
            "billing_account_id",
            cell("billing_account_id"),
            account,
            plain_text_limit=n.TEXT_LIMITS["billing_account_id"],
        )
        for field in (
            "sub_account_id",
            "service_name",
            "service_category",
            "resource_id",
            "region",
            "sku_id",
            "usage_unit",
        ):
            self.text(columns, field, cell(field), layout.name(field))
        columns.constant_text("provider", "AWS")
        columns.constant_text("charge_class", "")
        ri_arn = self.distinct(columns, "ri_arn", cell("ri_arn"), n.text, plain_text_limit=0)
        columns.values["effective_cost"] = self._effective_cost(columns, line_type, unblended, ri_arn, money)
        tag_names = ([layout.columns["tags_map"]] if "tags_map" in layout.columns else []) + list(
            layout.tag_columns
        )
        columns.put(
            "tags",
            _tag_texts(
                columns.batch, tag_names, lambda record: cur.row_tags(record, layout), self.caches["tags"]
            ),
        )

    def _effective_cost(self, columns, line_type, unblended, ri_arn, money) -> pa.Array:
        """``cur._effective_cost`` for every row at once; a row whose type needs an amount that
        is empty, unusual or not in the file goes to the scalar parser."""

        def is_type(*names: str) -> np.ndarray:
            return pc.fill_null(pc.is_in(line_type, value_set=pa.array(names)), False).to_numpy(
                zero_copy_only=False
            )

        def needed(field: str, rows: np.ndarray) -> pa.Array:
            values, refused = money(field, required=True)
            columns.refuse(rows & refused)
            return values

        covered = is_type("SavingsPlanCoveredUsage")
        recurring = is_type("SavingsPlanRecurringFee")
        discounted = is_type("DiscountedUsage")
        ri_fee = is_type("RIFee")
        has_arn = pc.greater(pc.utf8_length(pc.fill_null(ri_arn, "")), 0).to_numpy(zero_copy_only=False)
        nothing = is_type("SavingsPlanNegation", "SavingsPlanUpfrontFee") | (is_type("Fee") & has_arn)
        commitment_left = pc.subtract(
            needed("sp_total_commitment", recurring), needed("sp_used_commitment", recurring)
        ).cast(MONEY_TYPE)
        unused_fees = pc.add(
            needed("ri_unused_amortized_fee", ri_fee), needed("ri_unused_recurring_fee", ri_fee)
        ).cast(MONEY_TYPE)
        cases = pc.make_struct(
            pa.array(covered),
            pa.array(recurring),
            pa.array(nothing),
            pa.array(discounted),
            pa.array(ri_fee),
            field_names=["covered", "recurring", "nothing", "discounted", "ri_fee"],
        )
        return pc.case_when(
            cases,
            needed("sp_effective_cost", covered),
            commitment_left,
            _constant(Decimal(0), columns.size, MONEY_TYPE),
            needed("ri_effective_cost", discounted),
            unused_fees,
            unblended,
        )


def _assemble(values: dict[str, pa.Array], rows: np.ndarray) -> pa.RecordBatch:
    arrays = [pa.array(rows, type=pa.int64())] + [values[field.name] for field in list(NORMALIZED)[1:]]
    return pa.RecordBatch.from_arrays(arrays, schema=NORMALIZED)


def _format(fmt: str, header: list[str], file_name: str, header_row: int | None) -> _Format:
    if fmt == ImportFormatChoices.FOCUS:
        return _Focus(header, file_name, header_row)
    if fmt in (ImportFormatChoices.CUR, ImportFormatChoices.CUR2):
        return _Cur(header, file_name, header_row)
    raise ValueError(f"{fmt} files are not read by the columnar reader.")


#
# Rows of the scalar parsers
#


def _scalar_batches(input_file: readers.InputFile, fmt: str, *, skip: int) -> Iterator[pa.RecordBatch]:
    """The file read again by the record reader and the scalar parser, from data row ``skip + 1``
    on (the rows before it were returned already)."""
    input_file.rows = 0
    input_file.progress = 0.0
    parser = None
    pending: list[tuple[int, dict]] = []
    seen = 0
    for row_number, header, record in readers.iter_records(input_file):
        if record is None:
            parser = _format(fmt, header, input_file.name, row_number or None)
            continue
        seen += 1
        if seen <= skip:
            continue
        try:
            pending.append((row_number, parser.parse_row(record)))
        except CostImportError as exc:
            raise exc.located(file=input_file.name, row=row_number) from None
        if len(pending) == batch_rows():
            yield from_rows(pending)
            pending = []
    if pending:
        yield from_rows(pending)


#
# Containers
#


def file_batches(input_file: readers.InputFile, fmt: str) -> Iterator[pa.RecordBatch]:
    """The file's rows as :data:`NORMALIZED` batches, streaming; the same rows, row numbers and
    messages as the scalar reader (``focus.rows`` / ``cur.rows``)."""
    returned = 0
    arrow = (
        _parquet_batches(input_file, fmt)
        if input_file.kind == readers.PARQUET
        else _csv_batches(input_file, fmt)
    )
    try:
        for batch in arrow:
            returned += batch.num_rows
            yield batch
    except _ArrowGaveUp:
        yield from _scalar_batches(input_file, fmt, skip=returned)


class _Prefetch:
    """The next batch read in a thread while the caller normalises this one: Arrow releases the
    GIL while it decompresses, parses and decodes, so the two overlap on two cores. One batch is
    read ahead, never more, so memory stays bounded."""

    def __init__(self, read_next: Callable[[], pa.RecordBatch]):
        self.read_next = read_next
        self.handoff: queue.Queue = queue.Queue(maxsize=1)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="columnar-prefetch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                item = ("batch", self.read_next())
            except StopIteration:
                item = ("end", None)
            except BaseException as exc:  # handed to the caller, who decides what it means
                item = ("error", exc)
            while not self.stopped.is_set():
                try:
                    self.handoff.put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
            if item[0] != "batch":
                return

    def next(self) -> pa.RecordBatch:
        """The next batch; StopIteration at the end, or what reading it raised."""
        kind, value = self.handoff.get()
        if kind == "end":
            raise StopIteration
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()


def _has_empty_row(batch: pa.RecordBatch) -> bool:
    """Whether some row has every cell empty: a blank line, or a row of empty cells.

    The record reader counts a blank line as a row number but not as a row, and Arrow (told to
    keep empty lines) reads it as a row of empty cells, as it reads ``,,,``: either way the
    record reader reads on from this batch, so that row numbers and messages stay its own."""
    candidates = None
    for column in batch.columns:
        empty = pc.equal(column, "")
        candidates = empty if candidates is None else pc.and_(candidates, empty)
        if not pc.any(candidates).as_py():
            return False
    return candidates is not None


def _csv_batches(input_file: readers.InputFile, fmt: str) -> Iterator[pa.RecordBatch]:
    raw = readers._HashingReader(input_file.opener())
    prefetch = None
    try:
        stream = pa.PythonFile(io.BufferedReader(raw, buffer_size=readers.COPY_CHUNK_BYTES), mode="r")
        if input_file.kind == readers.CSV_GZ:
            stream = pa.CompressedInputStream(stream, "gzip")
        try:
            reader = arrow_csv.open_csv(
                stream,
                # The header is read as the first row, so that every column is typed as text.
                read_options=arrow_csv.ReadOptions(
                    autogenerate_column_names=True, block_size=csv_block_bytes()
                ),
                parse_options=arrow_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
                convert_options=arrow_csv.ConvertOptions(
                    column_types={f"f{i}": pa.string() for i in range(_CSV_STRING_COLUMNS)},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except _ARROW_READ_FAILURES:
            raise _ArrowGaveUp from None
        parser = None
        header: list[str] = []
        prefetch = _Prefetch(reader.read_next_batch)
        while True:
            try:
                raw_batch = prefetch.next()
            except StopIteration:
                break
            except _ARROW_READ_FAILURES:
                raise _ArrowGaveUp from None
            if any(not pa.types.is_string(t) for t in raw_batch.schema.types) or _has_empty_row(raw_batch):
                raise _ArrowGaveUp
            if parser is None:
                header = [str(cell).strip() for cell in raw_batch.slice(0, 1).to_pylist()[0].values()]
                if len(set(header)) != len(header):
                    duplicated = sorted({c for c in header if header.count(c) > 1})
                    raise CostImportError(
                        f"the header names {', '.join(duplicated)} more than once.",
                        file=input_file.name,
                        row=1,
                    )
                parser = _format(fmt, header, input_file.name, 1)
                raw_batch = raw_batch.slice(1)
            if not raw_batch.num_rows:
                continue
            first_row = input_file.rows + 2  # the header is row 1
            input_file.rows += raw_batch.num_rows
            if input_file.size:
                input_file.progress = min(raw.bytes_read / input_file.size, 1.0)
            yield parser.batch(pa.RecordBatch.from_arrays(raw_batch.columns, names=header), first_row)
    finally:
        if prefetch is not None:
            prefetch.close()
        raw.close()
    input_file.sha256 = raw.sha256.hexdigest()
    input_file.bytes_read = raw.bytes_read
    input_file.progress = 1.0


def _parquet_batches(input_file: readers.InputFile, fmt: str) -> Iterator[pa.RecordBatch]:
    with readers._seekable_copy(input_file) as (handle, sha256, size):
        try:
            parquet = pq.ParquetFile(handle)
        except (pa.ArrowException, OSError) as exc:
            raise CostImportError(f"is not a readable Parquet file ({exc}).", file=input_file.name) from None
        parser = _format(fmt, list(parquet.schema_arrow.names), input_file.name, None)
        total = parquet.metadata.num_rows or 1
        batches = parquet.iter_batches(batch_size=batch_rows())
        prefetch = _Prefetch(lambda: next(batches))
        try:
            while True:
                try:
                    raw_batch = prefetch.next()
                except StopIteration:
                    break
                except (pa.ArrowException, OSError):
                    raise _ArrowGaveUp from None
                first_row = input_file.rows + 1  # Parquet rows count from 1
                input_file.rows += raw_batch.num_rows
                yield parser.batch(raw_batch, first_row)
                input_file.progress = min(input_file.rows / total, 1.0)
        finally:
            prefetch.close()
        input_file.sha256 = sha256
        input_file.bytes_read = size
        input_file.progress = 1.0
