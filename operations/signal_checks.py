"""The health audit checks: production use cases that stopped reporting, and metrics out of range.

Registered with ``portal.auditing`` when ``OperationsConfig.ready()`` imports this module. Each
check runs a fixed number of queries (five and two) whatever the size of the portfolio.

``health-signal-missing``: which use cases must report, and what counts as missing.

- *Must report*: a use case running in production, that is with a current deployment in an
  environment of kind production, or at a lifecycle stage of kind production (a use case
  deployed outside Propylon is in production too). Drafts, pilots and retired use cases are not
  asked for signals: nothing runs that could report.
- *With thresholds*, the team said what it watches: each thresholded metric must have a signal
  from production within that threshold's ``stale_after_hours``. A threshold for one
  environment is checked there (if it is a production environment); a threshold for every
  environment is checked in each production environment the use case is currently deployed
  to, or, without a deployment Propylon knows of, in any production environment. One finding per
  (use case, environment, metric): ``UC-0001:production:accuracy``, or ``UC-0001:*:accuracy``
  when no environment is known.
- *Without thresholds*, at least something must arrive: no signal at all from a production
  environment in ``PROPYLON_AUDIT_SIGNAL_STALE_HOURS`` (48) is one finding for the use case
  (``UC-0001``). A use case with thresholds is judged by them only, so one silence is not
  reported twice.

``health-threshold-breach``: the latest value of each series (use case, environment, metric)
is outside the threshold that applies to it (the environment's own, else the one for every
environment). The latest value, however old: a stale breach is still the last thing known (and
the missing-signal check says it is stale). One finding per series: ``UC-0001:production:accuracy``.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from approvals.choices import StageKindChoices
from inventory.choices import EnvironmentKindChoices
from inventory.models import UseCase
from operations.choices import HealthMetricChoices
from operations.models import Deployment, HealthSignal, HealthThreshold
from operations.selectors.signals import latest_signals, threshold_for
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices

PRODUCTION = EnvironmentKindChoices.PRODUCTION


def _in_scope(queryset, scope: AuditScope, field: str = "use_case_id"):
    return queryset if scope.is_portfolio else queryset.filter(**{field: scope.use_case_id})


def _health_link(key: str) -> str:
    return reverse("inventory:usecase-detail", args=[key]) + "?tab=health"


def _number(value) -> str:
    return format(value.normalize(), "f")


def _bounds(threshold: HealthThreshold) -> str:
    if threshold.minimum is not None and threshold.maximum is not None:
        return f"between {_number(threshold.minimum)} and {_number(threshold.maximum)}"
    if threshold.minimum is not None:
        return f"at least {_number(threshold.minimum)}"
    return f"at most {_number(threshold.maximum)}"


@register_check(
    id="health-signal-missing",
    title="Production use case without recent health signals",
    severity=SeverityChoices.MEDIUM,
    controls=("monitoring_drift.signals_arrive",),
    description="A use case in production whose thresholded metrics stopped reporting (within each "
    "threshold's stale_after_hours), or that reported nothing at all in PROPYLON_AUDIT_SIGNAL_STALE_HOURS.",
)
def health_signal_missing(scope: AuditScope) -> Iterable[Observation]:
    now = scope.now or timezone.now()
    current = _in_scope(
        Deployment.objects.filter(is_current=True, environment__kind=PRODUCTION), scope
    ).values_list("use_case_id", "environment_id", "environment__slug")
    deployed: dict[int, dict[int, str]] = {}
    for use_case_id, environment_id, slug in current:
        deployed.setdefault(use_case_id, {})[environment_id] = slug
    staged = _in_scope(
        UseCase.objects.filter(lifecycle_stage__kind=StageKindChoices.PRODUCTION), scope, "pk"
    ).values_list("pk", flat=True)
    in_production_ids = set(staged) | set(deployed)
    if not in_production_ids:
        return
    use_cases = dict(UseCase.objects.filter(pk__in=in_production_ids).values_list("pk", "key"))
    thresholds: dict[int, list[HealthThreshold]] = {}
    for threshold in HealthThreshold.objects.filter(use_case_id__in=in_production_ids).select_related(
        "environment"
    ):
        thresholds.setdefault(threshold.use_case_id, []).append(threshold)
    # use case → (environment, metric) → when production last reported it.
    last_seen: dict[int, dict[tuple, object]] = {}
    for row in (
        HealthSignal.objects.filter(use_case_id__in=in_production_ids, environment__kind=PRODUCTION)
        .values("use_case_id", "environment_id", "metric")
        .annotate(last=Max("observed_at"))
    ):
        last_seen.setdefault(row["use_case_id"], {})[(row["environment_id"], row["metric"])] = row["last"]
    for use_case_id in sorted(in_production_ids):
        key = use_cases[use_case_id]
        mine = last_seen.get(use_case_id, {})
        if use_case_id not in thresholds:
            hours = settings.PROPYLON_AUDIT_SIGNAL_STALE_HOURS
            newest = max(mine.values(), default=None)
            if newest is None or newest < now - timedelta(hours=hours):
                yield Observation(
                    subject_key=key,
                    title=f"{key} reported no health signal from production in {hours} hours",
                    detail=(
                        f"Nothing arrived from a production environment since {newest:%Y-%m-%d %H:%M} UTC."
                        if newest
                        else "No health signal ever arrived from production."
                    )
                    + " Post signals to /api/signals/ (a token with the signals:ingest scope) and set thresholds.",
                    use_case_id=use_case_id,
                    link=_health_link(key),
                    data={"last_signal": newest.isoformat() if newest else None, "hours": hours},
                )
            continue
        for threshold in thresholds[use_case_id]:
            if threshold.environment_id is not None:
                if threshold.environment.kind != PRODUCTION:
                    continue
                places = {threshold.environment_id: threshold.environment.slug}
            else:
                places = deployed.get(use_case_id) or {None: "*"}
            for environment_id, slug in sorted(places.items(), key=lambda item: item[1]):
                if environment_id is None:
                    newest = max((last for (_env, metric), last in mine.items() if metric == threshold.metric),
                                 default=None)  # fmt: skip
                else:
                    newest = mine.get((environment_id, threshold.metric))
                if newest is not None and newest >= now - timedelta(hours=threshold.stale_after_hours):
                    continue
                label = HealthMetricChoices.label(threshold.metric)
                where = "production" if environment_id is None else slug
                yield Observation(
                    subject_key=f"{key}:{slug}:{threshold.metric}",
                    title=f"{key}: no {label.lower()} from {where} in {threshold.stale_after_hours} hours",
                    detail=(
                        f"The last {label.lower()} signal from {where} was observed {newest:%Y-%m-%d %H:%M} UTC."
                        if newest else f"No {label.lower()} signal ever arrived from {where}."
                    ),
                    use_case_id=use_case_id,
                    link=_health_link(key),
                    data={"metric": threshold.metric, "environment": None if environment_id is None else slug,
                          "last_signal": newest.isoformat() if newest else None,
                          "stale_after_hours": threshold.stale_after_hours},
                )  # fmt: skip


@register_check(
    id="health-threshold-breach",
    title="Health metric outside its threshold",
    severity=SeverityChoices.HIGH,
    controls=("monitoring_drift.drift_thresholds",),
    description="The latest value of a use case's metric in an environment is outside the threshold "
    "its team set.",
)
def health_threshold_breach(scope: AuditScope) -> Iterable[Observation]:
    thresholds: dict[int, list[HealthThreshold]] = {}
    for threshold in _in_scope(HealthThreshold.objects.all(), scope).select_related("use_case"):
        thresholds.setdefault(threshold.use_case_id, []).append(threshold)
    if not thresholds:
        return
    metrics = {threshold.metric for group in thresholds.values() for threshold in group}
    latest = latest_signals(
        HealthSignal.objects.filter(use_case_id__in=list(thresholds), metric__in=metrics).select_related(
            "environment"
        )
    )
    for signal in latest:
        threshold = threshold_for(
            thresholds[signal.use_case_id], environment_id=signal.environment_id, metric=signal.metric
        )
        if threshold is None or not threshold.breached_by(signal.value):
            continue
        key = threshold.use_case.key
        label = HealthMetricChoices.label(signal.metric)
        yield Observation(
            subject_key=f"{key}:{signal.environment.slug}:{signal.metric}",
            title=f"{key}: {label.lower()} {_number(signal.value)} in {signal.environment.name} is out of range",
            detail=(
                f"Observed {signal.observed_at:%Y-%m-%d %H:%M} UTC; the threshold is {_bounds(threshold)}"
                f"{'' if threshold.environment_id else ' (every environment)'}."
            ),
            use_case_id=signal.use_case_id,
            link=_health_link(key),
            data={
                "metric": signal.metric,
                "environment": signal.environment.slug,
                "value": _number(signal.value),
                "observed_at": signal.observed_at.isoformat(),
                "minimum": None if threshold.minimum is None else _number(threshold.minimum),
                "maximum": None if threshold.maximum is None else _number(threshold.maximum),
            },
        )


__all__ = ["health_signal_missing", "health_threshold_breach"]
