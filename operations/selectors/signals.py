"""Reads of health signals: the latest value per series, recent series for sparklines, and the
Health tab of a use case. A series is one (use case, environment, metric); every read here is a
fixed number of queries, whatever the number of series or points."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from operations.choices import HealthMetricChoices
from operations.models import HealthSignal, HealthThreshold
from portal.permissions import Action, restrict

SPARKLINE_DAYS = 30
SPARKLINE_POINTS = 200


def signals_for(*, user) -> QuerySet:
    """The signals a person may read (API list), newest first."""
    return restrict(HealthSignal.objects.select_related("use_case", "environment"), user, Action.VIEW)


def _ranked(signals: QuerySet) -> QuerySet:
    """Each signal numbered within its series, newest first (1 = the latest)."""
    return signals.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("use_case_id"), F("environment_id"), F("metric")],
            order_by=[F("observed_at").desc(), F("pk").desc()],
        )
    )


def latest_signals(signals: QuerySet) -> list[HealthSignal]:
    """The latest point of every series among ``signals``, in one query."""
    return list(_ranked(signals).filter(rank=1).order_by("use_case_id", "environment_id", "metric"))


def recent_series(signals: QuerySet, *, now: datetime, days: int = SPARKLINE_DAYS,
                  points: int = SPARKLINE_POINTS) -> dict[tuple, list[HealthSignal]]:  # fmt: skip
    """(use case id, environment id, metric) → its points of the last ``days`` days (at most
    ``points``, the newest), oldest first; one query."""
    recent = (
        _ranked(signals.filter(observed_at__gte=now - timedelta(days=days)))
        .filter(rank__lte=points)
        .order_by("use_case_id", "environment_id", "metric", "observed_at")
    )
    series: dict[tuple, list[HealthSignal]] = {}
    for signal in recent.only("use_case_id", "environment_id", "metric", "observed_at", "value"):
        series.setdefault((signal.use_case_id, signal.environment_id, signal.metric), []).append(signal)
    return series


def threshold_for(
    thresholds: list[HealthThreshold], *, environment_id: int, metric: str
) -> HealthThreshold | None:
    """The threshold of this environment, else the one of every environment."""
    everywhere = None
    for threshold in thresholds:
        if threshold.metric != metric:
            continue
        if threshold.environment_id == environment_id:
            return threshold
        if threshold.environment_id is None:
            everywhere = threshold
    return everywhere


def is_stale(threshold: HealthThreshold | None, observed_at: datetime, now: datetime) -> bool:
    return threshold is not None and observed_at < now - timedelta(hours=threshold.stale_after_hours)


@dataclass
class HealthRow:
    environment: object
    metric: str
    latest: HealthSignal | None
    threshold: HealthThreshold | None
    breached: bool = False
    stale: bool = False
    chart_id: str = ""
    points: list = field(default_factory=list)

    @property
    def metric_label(self) -> str:
        return HealthMetricChoices.label(self.metric)

    @property
    def state(self) -> tuple[str, str]:
        """(label, colour) of the row's badge."""
        if self.latest is None:
            return ("no signal", "amber")
        if self.breached:
            return ("breach", "red")
        if self.stale:
            return ("stale", "amber")
        if self.threshold is None:
            return ("no threshold", "grey")
        return ("within range", "green")


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f") if value is not None else ""


def use_case_health(*, user, use_case, now: datetime | None = None) -> dict:
    """The Health tab: per environment and metric the latest value, its threshold, a breach or
    stale badge and the recent points. Three queries: thresholds, latest values, series."""
    now = now or timezone.now()
    signals = restrict(HealthSignal.objects.filter(use_case=use_case), user, Action.VIEW)
    thresholds = list(
        restrict(HealthThreshold.objects.filter(use_case=use_case), user, Action.VIEW).select_related(
            "environment"
        )
    )
    latest = latest_signals(signals.select_related("environment"))
    series = recent_series(signals, now=now)
    rows: list[HealthRow] = []
    seen = set()
    for signal in latest:
        threshold = threshold_for(thresholds, environment_id=signal.environment_id, metric=signal.metric)
        points = series.get((use_case.pk, signal.environment_id, signal.metric), [])
        rows.append(
            HealthRow(
                environment=signal.environment, metric=signal.metric, latest=signal, threshold=threshold,
                breached=threshold is not None and threshold.breached_by(signal.value),
                stale=is_stale(threshold, signal.observed_at, now),
                chart_id=f"health-{signal.environment.slug}-{signal.metric}", points=points,
            )
        )  # fmt: skip
        seen.add((signal.environment_id, signal.metric))
    # A threshold for one environment without any signal there: the row says "no signal".
    for threshold in thresholds:
        if threshold.environment_id is not None and (threshold.environment_id, threshold.metric) not in seen:
            rows.append(HealthRow(environment=threshold.environment, metric=threshold.metric, latest=None,
                                  threshold=threshold))  # fmt: skip
    order = {value: index for index, value in enumerate(HealthMetricChoices.values())}
    rows.sort(key=lambda row: (row.environment.kind != "production", row.environment.name, order[row.metric]))
    chart = {
        "charts": [
            {
                "element": row.chart_id,
                "metric": row.metric_label,
                # UTC without an offset: Plotly's date axis does not read time zones.
                "x": [f"{point.observed_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}" for point in row.points],
                "y": [_number(point.value) for point in row.points],
                "minimum": _number(row.threshold.minimum) if row.threshold else "",
                "maximum": _number(row.threshold.maximum) if row.threshold else "",
                "breached": row.breached,
            }
            for row in rows
            if row.points
        ]
    }
    return {
        "health_rows": rows,
        "health_thresholds": thresholds,
        "health_chart": chart,
        "health_sparkline_days": SPARKLINE_DAYS,
        "health_sparkline_points": SPARKLINE_POINTS,
    }
