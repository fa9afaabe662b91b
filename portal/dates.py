"""Calendar arithmetic shared by the apps (aware UTC datetimes, dates)."""

from datetime import datetime, timedelta


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday) after ``start``, at the same time of day."""
    current, added = start, 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current
