"""Cell values to Python values, and the tag-key normalisation allocation rules match on.

Every parser produces the same row: a dict of :data:`LINE_ITEM_FIELDS` (the names of
``costs.models.CostLineItem``). Money is ``Decimal`` parsed from the cell's text (floats from
Parquet go through ``repr`` so 0.1 stays 0.1), time is aware UTC, and the literal ``NULL`` that
several exporters write means an empty cell.
"""

import functools
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
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


def text(value: Any, column: str = "", field: str = "") -> str:
    if is_null(value):
        return ""
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
    else:
        raw = str(value).strip()
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
    """A billing period boundary as a date (UTC midnight in every format we read)."""
    return timestamp(value, column).date()


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
    return {normalize_tag_key(key): value.strip().lower() for key, value in tags.items()}


def tags_from_json(value: Any, column: str) -> dict[str, str]:
    """FOCUS ``Tags`` (a JSON object) or CUR 2.0 ``resource_tags`` (a JSON object in CSV, a map
    in Parquet). Empty values are dropped: a tag without a value attributes nothing."""
    if is_null(value):
        return {}
    if isinstance(value, dict):
        data = value
    elif isinstance(value, list):
        # pyarrow returns a map column as a list of (key, value) pairs.
        data = dict(value)
    else:
        try:
            data = json.loads(str(value))
        except json.JSONDecodeError as exc:
            raise CostImportError(f"is not a JSON object ({exc.msg}).", column=column) from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise CostImportError("is not a JSON object of tag keys and values.", column=column)
    return {str(key): str(item) for key, item in data.items() if not is_null(item) and str(key).strip()}
