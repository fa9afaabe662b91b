"""Money as people read it, the same on the import pages, in job logs and on the command line:
two decimals, thousands separated, half away from zero, no exponent and no ``-0.00``. The exact
amount (``money_exact``) goes in the title attribute and the API."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

from costs.ingest.normalize import money_text

register = template.Library()

CENT = Decimal("0.01")


@register.filter
def money(value) -> str:
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return str(value)
    if number.is_zero():
        number = abs(number)  # -0.004 rounds to 0.00, not -0.00
    return f"{number:,.2f}"


@register.filter
def money_exact(value) -> str:
    if value is None or value == "":
        return ""
    try:
        return money_text(value)
    except InvalidOperation:
        return str(value)
