"""KPI readings: what a KPI measured in a month, the input of value and ROI."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from costs.models import KpiReading


def kpi_reading_record(*, kpi, period: date, value: Decimal, monetized_value: Decimal | None = None,
                       note: str = "", actor=None):  # fmt: skip
    """Record (or correct) what a KPI measured in a month; one reading per KPI and month."""
    with transaction.atomic():
        reading = KpiReading.objects.select_for_update().filter(kpi=kpi, period=period).first()
        if reading is None:
            reading = KpiReading(kpi=kpi, period=period)
        reading.value = value
        reading.monetized_value = monetized_value
        reading.note = note
        reading.recorded_by = actor if getattr(actor, "is_authenticated", False) else None
        reading.recorded_at = timezone.now()
        reading.full_clean(validate_unique=False)
        reading.save()
    return reading


def kpi_reading_delete(*, reading) -> None:
    reading.delete()
