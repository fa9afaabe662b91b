"""Calendar arithmetic shared by the apps (aware UTC datetimes, dates)."""

from datetime import date, datetime, timedelta


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday) after ``start``, at the same time of day."""
    current, added = start, 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def month_start(day: date) -> date:
    """The first day of ``day``'s month (a billing period, a budget's month)."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def previous_month(day: date) -> date:
    """The first day of the month before ``day``'s."""
    return month_start(month_start(day) - timedelta(days=1))


def months_between(start: date, end: date) -> list[date]:
    """The month starts from ``start`` (a month start) up to, not including, ``end``."""
    months, month = [], start
    while month < end:
        months.append(month)
        month = next_month(month)
    return months
