"""Health signals and their thresholds: what monitoring posts, and the range a team accepts.

Ingest (``POST /api/signals/``) is all-or-nothing: every point is checked first and the first
problem of each point is named by its index and field (``signals[3].observed_at``); nothing is
written unless all are good. A point is identified by (use case, environment, metric,
observed_at): posting it again with the same value changes nothing, with another value replaces
it (an agent that recomputed a metric). The write is one upsert, so two agents racing on the same
point cannot fail on the unique constraint; the last one wins.

Which use cases a token may post for: a ``signals:ingest`` token acts as its user, like every
token (the scope narrows what the user may do, never widens it). It posts for the use cases its
user may change: a team's monitoring token posts for the team's use cases, a platform-wide
monitoring agent holds the token of an administrator's service account. A use case outside that
set is answered exactly like an unknown key, so a token learns nothing about other teams.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory.models import Environment, UseCase
from operations.choices import HealthMetricChoices
from operations.models import HealthSignal, HealthThreshold
from portal import audit
from portal.choices import AuditActionChoices

MAX_POINTS_PER_REQUEST = 1000
# Clocks drift: a point a few minutes ahead is a clock, further ahead is a bug in the agent.
FUTURE_TOLERANCE = timedelta(minutes=5)
# HealthSignal.value is DecimalField(max_digits=20, decimal_places=6).
VALUE_PLACES = Decimal("0.000001")
VALUE_LIMIT = Decimal(10) ** 14
POINT_FIELDS = frozenset({"use_case", "environment", "metric", "value", "observed_at"})
THRESHOLD_FIELDS = ("environment", "metric", "minimum", "maximum", "stale_after_hours")


@dataclass(frozen=True)
class IngestResult:
    received: int
    created: int
    updated: int
    unchanged: int


def _value(raw) -> Decimal:
    if isinstance(raw, bool) or raw is None or raw == "":
        raise ValueError("a number is required")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError("must be a finite number (not NaN or infinity)")
    try:
        value = Decimal(str(raw)) if isinstance(raw, int | float | str) else None
    except InvalidOperation:
        value = None
    if value is None:
        raise ValueError("a number is required")
    if not value.is_finite():
        raise ValueError("must be a finite number (not NaN or infinity)")
    if abs(value) >= VALUE_LIMIT:
        raise ValueError(f"must be less than {VALUE_LIMIT:,} in absolute value")
    return value.quantize(VALUE_PLACES, rounding=ROUND_HALF_EVEN)


def _observed_at(raw, now: datetime) -> datetime:
    if raw is None or raw == "":
        return now
    try:
        moment = raw if isinstance(raw, datetime) else parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:  # well formed, but no such date or time (2026-13-01)
        moment = None
    if moment is None:
        raise ValueError("an ISO 8601 date and time is required, e.g. 2026-12-01T10:00:00Z")
    if timezone.is_naive(moment):
        raise ValueError("must carry a time zone (Z or an offset such as +02:00)")
    moment = moment.astimezone(UTC)
    if moment > now + FUTURE_TOLERANCE:
        raise ValueError(f"is more than {FUTURE_TOLERANCE.seconds // 60} minutes in the future")
    return moment


def _text(raw, what: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"{what} is required")
    return raw.strip()


def signals_ingest(
    *, points: list, use_cases: QuerySet, token=None, batch: bool = True, now: datetime | None = None
) -> IngestResult:
    """Store a batch of points, or none of them (a ValidationError naming each bad point).

    ``use_cases`` are those the caller may post for (see the module docstring); ``token`` is the
    API token that posted them, kept on each point. Errors name ``signals[i].field`` in a
    ``batch``, the bare field when one point was posted on its own."""
    now = now or timezone.now()
    if not isinstance(points, list) or not points:
        raise ValidationError({"signals": ["Send one point or a list of 1 to 1,000 points."]})
    if len(points) > MAX_POINTS_PER_REQUEST:
        raise ValidationError(
            {"signals": [f"At most {MAX_POINTS_PER_REQUEST:,} points per request (got {len(points):,})."]}
        )
    keys = {
        p["use_case"].strip().upper()
        for p in points
        if isinstance(p, dict) and isinstance(p.get("use_case"), str)
    }
    slugs = {
        p["environment"].strip()
        for p in points
        if isinstance(p, dict) and isinstance(p.get("environment"), str)
    }
    known_use_cases = dict(use_cases.filter(key__in=keys).values_list("key", "pk"))
    known_environments = dict(Environment.objects.filter(slug__in=slugs).values_list("slug", "pk"))

    errors: dict[str, list[str]] = {}
    parsed: dict[tuple, tuple[int, Decimal]] = {}
    for index, point in enumerate(points):
        failures_before = len(errors)

        def fail(field: str, message: str, index=index) -> None:
            errors.setdefault(f"signals[{index}].{field}" if batch else field, []).append(message)

        if not isinstance(point, dict):
            fail(
                "non_field_errors",
                "A point is an object with use_case, environment, metric, value, observed_at.",
            )
            continue
        for name in sorted(set(point) - POINT_FIELDS):
            fail(name, "Unknown field.")
        try:
            key = _text(point.get("use_case"), "a use case key").upper()
            use_case_id = known_use_cases.get(key)
            if use_case_id is None:
                raise ValueError(f"no use case {key} that this token may post signals for")
        except ValueError as exc:
            fail("use_case", f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            use_case_id = None
        try:
            slug = _text(point.get("environment"), "an environment slug")
            environment_id = known_environments.get(slug)
            if environment_id is None:
                raise ValueError(f"no environment “{slug}”")
        except ValueError as exc:
            fail("environment", f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            environment_id = None
        metric = point.get("metric")
        if metric not in HealthMetricChoices.values():
            fail("metric", f"Unknown metric {metric!r}: one of {', '.join(HealthMetricChoices.values())}.")
        try:
            value = _value(point.get("value"))
        except ValueError as exc:
            fail("value", f"The value {exc}.")
            value = None
        try:
            observed_at = _observed_at(point.get("observed_at"), now)
        except ValueError as exc:
            fail("observed_at", f"The time {exc}.")
            observed_at = None
        if len(errors) > failures_before:
            continue
        identity = (use_case_id, environment_id, metric, observed_at)
        if identity in parsed and parsed[identity][1] != value:
            fail("observed_at", f"Repeats point {parsed[identity][0]} with another value.")
            continue
        parsed.setdefault(identity, (index, value))
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        existing = {
            (signal.use_case_id, signal.environment_id, signal.metric, signal.observed_at): signal.value
            for signal in HealthSignal.objects.filter(
                use_case_id__in={identity[0] for identity in parsed},
                environment_id__in={identity[1] for identity in parsed},
                metric__in={identity[2] for identity in parsed},
                observed_at__in={identity[3] for identity in parsed},
            ).only("use_case_id", "environment_id", "metric", "observed_at", "value")
        }
        writes = [
            HealthSignal(
                use_case_id=use_case_id,
                environment_id=environment_id,
                metric=metric,
                value=value,
                observed_at=observed_at,
                received_at=now,
                token=token,
            )
            for (use_case_id, environment_id, metric, observed_at), (_index, value) in parsed.items()
            if existing.get((use_case_id, environment_id, metric, observed_at)) != value
        ]
        updated = sum(1 for signal in writes if signal_identity(signal) in existing)
        if writes:
            # One upsert: a point another request inserted meanwhile is replaced, not a 500.
            HealthSignal.objects.bulk_create(
                writes,
                update_conflicts=True,
                unique_fields=["use_case", "environment", "metric", "observed_at"],
                update_fields=["value", "received_at", "token"],
            )
            # One typed entry per batch (signals are telemetry, not governed records).
            audit.record(
                AuditActionChoices.IMPORT,
                message=f"Health signals: {len(writes) - updated} new, {updated} replaced.",
                extra={"kind": "health_signals", "created": len(writes) - updated, "updated": updated,
                       "unchanged": len(parsed) - len(writes)},
            )  # fmt: skip
    return IngestResult(
        received=len(points),
        created=len(writes) - updated,
        updated=updated,
        unchanged=len(points) - len(writes),
    )


def signal_identity(signal: HealthSignal) -> tuple:
    return (signal.use_case_id, signal.environment_id, signal.metric, signal.observed_at)


#
# Thresholds
#


def health_threshold_save(
    *, use_case: UseCase | None = None, threshold: HealthThreshold | None = None, **fields
):
    """Create a threshold for ``use_case`` or change ``threshold``; a minimum above the maximum
    or a threshold repeating another (same metric and environment) is refused."""
    with transaction.atomic():
        if threshold is None:
            if use_case is None:
                raise ValidationError({"use_case": ["Name the use case the threshold is for."]})
            threshold = HealthThreshold(use_case=use_case)
        else:
            # Two people editing the same threshold: the second sees the first's values.
            threshold = HealthThreshold.objects.select_for_update().get(pk=threshold.pk)
        for name in THRESHOLD_FIELDS:
            if name in fields:
                setattr(threshold, name, fields[name])
        _check_bounds(threshold)
        threshold.full_clean()
        threshold.save()
    return threshold


def _check_bounds(threshold: HealthThreshold) -> None:
    if threshold.minimum is None and threshold.maximum is None:
        raise ValidationError({"minimum": ["Set a minimum, a maximum or both."]})
    if (
        threshold.minimum is not None
        and threshold.maximum is not None
        and threshold.minimum > threshold.maximum
    ):
        raise ValidationError(
            {"maximum": [f"The maximum ({threshold.maximum}) is below the minimum ({threshold.minimum})."]}
        )
    if threshold.stale_after_hours is not None and threshold.stale_after_hours < 1:
        raise ValidationError({"stale_after_hours": ["At least one hour."]})


def health_threshold_delete(*, threshold: HealthThreshold) -> None:
    threshold.delete()
