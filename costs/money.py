"""Money as the cost pages and API show it: sums stay exact (the ten decimal places line items
carry) until the figure is shown, and are rounded to the cent once, here.

Rounding parts before adding them makes a headline and the table under it disagree by a cent
(issue 10): every figure is the exact sum of what it covers, rounded once. Half a cent rounds
up (ROUND_HALF_UP), as Django's ``floatformat`` does in the templates, so a page and the API
never differ on the same figure.
"""

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")
EXACT = Decimal("1e-10")


def exact(value) -> Decimal:
    """A database sum as an exact Decimal: SQLite sums DECIMAL columns as floats, and ten places
    is what the columns hold, so quantizing there gives back the exact sum."""
    return ZERO if value is None else Decimal(str(value)).quantize(EXACT)


def cents(value) -> Decimal:
    """The figure shown: rounded to the cent, half up (see the module docstring)."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)
