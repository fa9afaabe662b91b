"""Cell values to Python values, and the tag-key normalisation allocation rules match on.

Every parser produces the same row: a dict of :data:`LINE_ITEM_FIELDS` (the names of
``costs.models.CostLineItem``). Money is ``Decimal`` parsed from the cell's text (floats from
Parquet go through ``repr`` so 0.1 stays 0.1), time is aware UTC, and the literal ``NULL`` that
several exporters write means an empty cell.
"""

import functools
import json
import re
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from costs.ingest.errors import CostImportError

LINE_ITEM_FIELDS = (
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
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
    "usage_quantity",
    "usage_unit",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "billing_currency",
    "tags",
)
NULL_TEXTS = frozenset({"", "NULL", "null", "Null"})
# CostLineItem money columns hold 10 integer digits (max_digits 20, decimal_places 10).
MONEY_LIMIT = Decimal(10) ** 10
QUANTITY_LIMIT = Decimal(10) ** 18
DECIMAL_PLACES = 10  # of the money and quantity columns
PLACES = Decimal(10) ** -DECIMAL_PLACES
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# Lengths of the CharFields the values go into: longer values are refused, not cut.
TEXT_LIMITS = {
    "provider": 100,
    "billing_account_id": 200,
    "sub_account_id": 200,
    "service_name": 200,
    "service_category": 100,
    "resource_id": 1024,
    "region": 100,
    "sku_id": 200,
    "charge_class": 20,
    "provider_charge_type": 50,
    "usage_unit": 100,
}


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in NULL_TEXTS)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, float):
        return "a floating-point number"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    if isinstance(value, dict | list | tuple):
        return "a list or map"
    if isinstance(value, int):
        return "an integer"
    return f"a value of type {type(value).__name__}"


def text(value: Any, column: str = "", field: str = "") -> str:
    """Text as written. Integers (Parquet int64 account ids) are exact as text; floats, booleans,
    dates, bytes and nested values are refused: ``str()`` would change them (``1.1e+11``,
    ``True``, ``b'…'``) and the changed text would then be matched on as if it were the value."""
    if is_null(value):
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CostImportError(f"holds {_type_name(value)}; text is expected here.", column=column)
    result = str(value).strip()
    limit = TEXT_LIMITS.get(field)
    if limit and len(result) > limit:
        raise CostImportError(f"is {len(result)} characters long; at most {limit} are kept.", column=column)
    return result


def decimal(value: Any, column: str, *, required: bool, limit: Decimal = MONEY_LIMIT) -> Decimal | None:
    if is_null(value):
        if required:
            raise CostImportError("is empty; a number is required.", column=column)
        return None
    # bool is an int to Python: True would silently become 1 (issue 10, item 5). Money and
    # quantities are numeric or decimal columns, or numeric text; nothing else is a number.
    if isinstance(value, bool) or not isinstance(value, Decimal | float | int | str):
        raise CostImportError(
            f"holds {_type_name(value)}; a number (numeric or decimal column, or numeric text) is required.",
            column=column,
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        raw = str(value).strip()
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise CostImportError(f"“{raw[:40]}” is not a number.", column=column) from None
    if not number.is_finite():
        raise CostImportError(f"“{value}” is not a finite number.", column=column)
    if abs(number) >= limit:
        raise CostImportError(f"{number} is too large for a single line item.", column=column)
    if number.as_tuple().exponent < -DECIMAL_PLACES:
        # The columns keep 10 decimal places and the database would round the rest away after
        # the totals were summed; rounding here (half to even, as the database does) keeps the
        # stored totals equal to the sum of the stored line items.
        number = number.quantize(PLACES, rounding=ROUND_HALF_EVEN)
    return number


def timestamp(value: Any, column: str, *, required: bool = True) -> datetime | None:
    """An aware UTC datetime. FOCUS and CUR times are UTC; a time without an offset is UTC."""
    if is_null(value):
        if required:
            raise CostImportError("is empty; a date and time is required.", column=column)
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif not isinstance(value, str):
        # A number is not a date: 20261101 would otherwise be read as yyyymmdd.
        raise CostImportError(
            f"holds {_type_name(value)}, not a date and time (a timestamp column or ISO 8601 text).",
            column=column,
        )
    else:
        raw = value.strip()
        moment = _parse_time_text(raw)
        if moment is None:
            raise CostImportError(f"“{raw[:40]}” is not a date and time (ISO 8601 expected).", column=column)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_time_text(raw: str) -> datetime | None:
    candidate = raw.replace("Z", "+00:00") if raw.endswith("Z") else raw
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    # CUR legacy manifests write 20261101T000000.000Z.
    for pattern in ("%Y%m%dT%H%M%S.%f%z", "%Y%m%dT%H%M%S%z", "%Y%m%d"):
        try:
            return datetime.strptime(raw.replace("Z", "+0000"), pattern)  # noqa: DTZ007  (made aware by the caller)
        except ValueError:
            continue
    return None


def period_date(value: Any, column: str) -> date:
    """A billing period boundary as a date (UTC midnight in every format we read). A boundary at
    another time of day is refused rather than cut to its date, which would move the period."""
    moment = timestamp(value, column)
    if moment.time() != time(0):
        raise CostImportError(
            f"{moment:%Y-%m-%dT%H:%M:%S}Z is not midnight UTC; billing periods start and end at midnight UTC.",
            column=column,
        )
    return moment.date()


def currency(value: Any, column: str) -> str:
    code = text(value, column).upper()
    if not code:
        raise CostImportError("is empty; every row needs its ISO 4217 currency code.", column=column)
    if not CURRENCY_PATTERN.match(code):
        raise CostImportError(f"“{code[:20]}” is not an ISO 4217 currency code.", column=column)
    return code


@functools.lru_cache(maxsize=4096)
def normalize_tag_key(key: str) -> str:
    """The key allocation rules match on: lower case, the AWS ``user:`` / ``user_`` prefix of
    user-defined cost-allocation tags removed, anything but letters and digits as ``_``.

    ``use-case`` (FOCUS), ``user:use-case`` (legacy CUR CSV), ``resource_tags_user_use_case``
    (legacy CUR Parquet, prefix removed by the parser) and ``user_use_case`` (CUR 2.0's map) all
    become ``use_case``.
    """
    lowered = key.strip().lower()
    for prefix in ("user:", "user_"):
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :]
            break
    return re.sub(r"[^0-9a-z]+", "_", lowered).strip("_")


def normalized_tags(tags: dict[str, str]) -> dict[str, str]:
    return normalized_tags_checked(tags)[0]


def normalized_tags_checked(tags: dict[str, str]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The normalised tags, and every key that lost to an earlier one normalising the same way
    (``org`` and `` org``): ``(normalised key, kept raw key, dropped raw key)``. The first key in
    the row wins, as a person reading the row left to right would expect."""
    result: dict[str, str] = {}
    kept_by: dict[str, str] = {}
    collisions = [(normalize_tag_key(key), key, key) for key in getattr(tags, "duplicates", ())]
    for key, value in tags.items():
        normal = normalize_tag_key(key)
        if normal in result:
            collisions.append((normal, kept_by[normal], key))
            continue
        result[normal] = value.strip().lower()
        kept_by[normal] = key
    return result, collisions


class TagMap(dict):
    """Tags as the source wrote them; ``duplicates`` are keys written twice in one row (the first
    value is kept), for the import's warnings."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicates: list[str] = []

    def add(self, key: str, value: str) -> None:
        if key in self:
            self.duplicates.append(key)
        else:
            self[key] = value


class _Pairs(list):
    """A JSON object as its (key, value) pairs, in order, duplicates included."""


def _tag_value(key: str, item: Any, column: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, _Pairs | list | dict):
        raise CostImportError(f"tag “{key}” holds a list or map; a tag value is text.", column=column)
    if isinstance(item, bool | int | float | Decimal):
        # FOCUS allows numbers and booleans as tag values; keep their JSON spelling (true, 3.5),
        # not Python's (True).
        return json.dumps(item if not isinstance(item, Decimal) else str(item))
    raise CostImportError(f"tag “{key}” holds {_type_name(item)}; a tag value is text.", column=column)


def tags_from_json(value: Any, column: str) -> TagMap:
    """FOCUS ``Tags`` (a JSON object) or CUR 2.0 ``resource_tags`` (a JSON object in CSV, a map
    in Parquet). Empty values are dropped: a tag without a value attributes nothing. A key
    written twice keeps its first value (json.loads would keep the last, silently)."""
    tags = TagMap()
    if is_null(value):
        return tags
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(pair, tuple | list) and len(pair) == 2 for pair in value):
        # pyarrow returns a map column as a list of (key, value) pairs.
        pairs = [tuple(pair) for pair in value]
    elif isinstance(value, str):
        try:
            data = json.loads(value, object_pairs_hook=_Pairs)
        except json.JSONDecodeError as exc:
            raise CostImportError(f"is not a JSON object ({exc.msg}).", column=column) from None
        if data is None:
            return tags
        if not isinstance(data, _Pairs):
            raise CostImportError("is not a JSON object of tag keys and values.", column=column)
        pairs = data
    else:
        raise CostImportError(f"holds {_type_name(value)}, not a JSON object of tags.", column=column)
    for key, item in pairs:
        if is_null(item) or not str(key).strip():
            continue
        tags.add(str(key), _tag_value(str(key), item, column))
    return tags


def tag_pairs_text(tags: "TagMap | dict[str, str]") -> str:
    """The canonical text of a row's tags: its ``[key, value]`` pairs as the source wrote them,
    in order, a key written twice included (``TagMap.duplicates``, whose values are not kept,
    appear as ``[key, null]``). Equal texts are equal tag sets: the loader keys its tag-set
    dimension on this text's SHA-256 and parses each distinct text once (:func:`tags_from_pairs_text`)."""
    pairs = [[key, value] for key, value in tags.items()]
    pairs.extend([key, None] for key in getattr(tags, "duplicates", ()))
    return json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))


def tags_from_pairs_text(text: str) -> "TagMap":
    """The TagMap :func:`tag_pairs_text` was made from (duplicates included)."""
    tags = TagMap()
    for key, value in json.loads(text or "[]"):
        if value is None:
            tags.duplicates.append(key)
        else:
            tags[key] = value
    return tags


def money_text(value: Any) -> str:
    """An amount as exact fixed-point text, the way totals are stored and the API answers:
    never an exponent (``Decimal`` sums print ``0E-11``) and never a negative zero."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if number.is_zero():
        number = abs(number)
    return format(number, "f")
