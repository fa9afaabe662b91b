"""CoE metrics: how long gate requests wait for a decision, per gate and risk tier, and how long
the review queue is over time.

Both come from the typed, append-only event history (``ApprovalEvent``), not from a request's
current status, so a request that went round twice (changes requested, resubmitted) counts as
two waits, and yesterday's queue length is what it was yesterday. A *wait* starts when a request
is submitted or resubmitted and ends at the first of: changes requested, approved (quorum
reached), rejected or withdrawn. Its *outcome* is the event that ended it; a withdrawal ends a
wait without a decision and is left out of the time to decision.

The figures are computed on request for a bounded window (at most ``MAX_WINDOW_DAYS``), from
one query over the events of the requests that were open in it: at DESIGN.md §6's 20,000
requests that is tens of thousands of small rows, which a page can read. Metrics reach only
people who review or oversee the whole portfolio (``approvals.policies.may_view_coe_metrics``);
they carry counts and durations, never a use case's name.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from approvals.choices import ApprovalEventChoices, ApprovalStatusChoices
from approvals.models import ApprovalEvent, ApprovalRequest
from inventory.choices import RiskTierChoices
from portal.dates import add_business_days

DEFAULT_WINDOW_DAYS = 90
MAX_WINDOW_DAYS = 366

WAIT_STARTS = frozenset({ApprovalEventChoices.SUBMITTED, ApprovalEventChoices.RESUBMITTED})
DECISION_OUTCOMES = frozenset(
    {ApprovalEventChoices.CHANGES_REQUESTED, ApprovalEventChoices.APPROVED, ApprovalEventChoices.REJECTED}
)
WAIT_ENDS = DECISION_OUTCOMES | {ApprovalEventChoices.WITHDRAWN}

HOURS = Decimal("0.1")


def tier_label(tier: str) -> str:
    """The tier a request had at submission; a use case asked for a gate before it was
    classified has none."""
    return RiskTierChoices.label(tier) if tier else "Not classified"


@dataclass(frozen=True)
class Wait:
    """One stretch of a request in the reviewers' queue."""

    request_id: int
    gate: str
    tier: str
    started_at: datetime
    due_at: datetime
    ended_at: datetime | None = None
    outcome: str = ""

    @property
    def hours(self) -> Decimal | None:
        if self.ended_at is None:
            return None
        return _hours(self.ended_at - self.started_at)

    @property
    def within_sla(self) -> bool:
        return self.ended_at is not None and self.ended_at <= self.due_at


@dataclass
class DecisionTimes:
    """Time to decision of the waits one gate and tier ended in the window."""

    gate: str
    tier: str
    hours: list[Decimal] = field(default_factory=list)
    within_sla: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def tier_label(self) -> str:
        return tier_label(self.tier)

    @property
    def count(self) -> int:
        return len(self.hours)

    @property
    def median_hours(self) -> Decimal:
        return percentile(self.hours, 50)

    @property
    def p90_hours(self) -> Decimal:
        return percentile(self.hours, 90)

    @property
    def mean_hours(self) -> Decimal:
        return (sum(self.hours, Decimal(0)) / len(self.hours)).quantize(HOURS, ROUND_HALF_UP)

    @property
    def within_sla_percent(self) -> Decimal:
        return (Decimal(100) * self.within_sla / len(self.hours)).quantize(Decimal(1), ROUND_HALF_UP)

    def as_dict(self) -> dict:
        return {
            "gate": self.gate,
            "tier": self.tier,
            "tier_label": self.tier_label,
            "decided": self.count,
            "median_hours": self.median_hours,
            "p90_hours": self.p90_hours,
            "mean_hours": self.mean_hours,
            "within_sla_percent": self.within_sla_percent,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


@dataclass(frozen=True)
class Window:
    """Whole UTC days, ``since`` to ``until`` inclusive."""

    since: date
    until: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(days=offset) for offset in range((self.until - self.since).days + 1)]


def window(*, since: date | None = None, until: date | None = None, today: date | None = None) -> Window:
    """The window asked for, or the last ``DEFAULT_WINDOW_DAYS`` days up to today. Raises a
    ValidationError naming the parameter that is wrong."""
    today = today or timezone.now().date()
    until = until or today
    since = since or until - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    if since > until:
        raise ValidationError({"since": f"The window starts ({since}) after it ends ({until})."})
    if until > today:
        raise ValidationError({"until": f"The window cannot end in the future (today is {today})."})
    if (until - since).days + 1 > MAX_WINDOW_DAYS:
        raise ValidationError(
            {
                "since": f"A window covers at most {MAX_WINDOW_DAYS} days; this one covers {(until - since).days + 1}."
            }
        )
    return Window(since=since, until=until)


def percentile(values: list[Decimal], rank: int) -> Decimal:
    """Nearest-rank percentile: the smallest value with at least ``rank`` % of values at or
    below it (so the median of 1, 2, 3, 4 is 2, a value that occurred)."""
    ordered = sorted(values)
    position = max(1, math.ceil(rank / 100 * len(ordered)))
    return ordered[position - 1]


def _hours(duration: timedelta) -> Decimal:
    return (Decimal(duration.total_seconds()) / 3600).quantize(HOURS, ROUND_HALF_UP)


def waits_in(span: Window) -> list[Wait]:
    """Every wait that overlaps the window, from the event history."""
    relevant = ApprovalEvent.objects.filter(at__gte=span.start, at__lt=span.end).values("request_id")
    still_waiting = ApprovalRequest.objects.filter(status=ApprovalStatusChoices.PENDING).values("pk")
    requests = {
        row["pk"]: row
        for row in ApprovalRequest.objects.filter(Q(pk__in=relevant) | Q(pk__in=still_waiting))
        .filter(submitted_at__lt=span.end)
        .values(
            "pk",
            "snapshot__risk__tier",
            "snapshot__policy__review_sla_days",
            "from_stage__label",
            "to_stage__label",
        )
    }
    events = (
        ApprovalEvent.objects.filter(
            request_id__in=requests, kind__in=WAIT_STARTS | WAIT_ENDS, at__lt=span.end
        )
        .order_by("request_id", "at", "pk")
        .values_list("request_id", "kind", "at")
    )
    waits: list[Wait] = []
    open_wait: dict[int, Wait] = {}
    for request_id, kind, at in events:
        if kind in WAIT_STARTS:
            request = requests[request_id]
            sla_days = request["snapshot__policy__review_sla_days"] or 0
            open_wait[request_id] = Wait(
                request_id=request_id,
                gate=f"{request['from_stage__label']} → {request['to_stage__label']}",
                tier=request["snapshot__risk__tier"] or "",
                started_at=at,
                due_at=add_business_days(at, int(sla_days)),
            )
        elif request_id in open_wait:
            started = open_wait.pop(request_id)
            waits.append(replace(started, ended_at=at, outcome=kind if kind in DECISION_OUTCOMES else ""))
    waits.extend(open_wait.values())
    return [wait for wait in waits if wait.ended_at is None or wait.ended_at >= span.start]


def time_to_decision(waits: list[Wait], span: Window) -> list[DecisionTimes]:
    """Per gate and tier, the waits a decision ended inside the window."""
    groups: dict[tuple[str, str], DecisionTimes] = {}
    for wait in waits:
        if not wait.outcome or not (span.start <= wait.ended_at < span.end):
            continue
        group = groups.setdefault((wait.gate, wait.tier), DecisionTimes(gate=wait.gate, tier=wait.tier))
        group.hours.append(wait.hours)
        group.within_sla += wait.within_sla
        group.outcomes[wait.outcome] = group.outcomes.get(wait.outcome, 0) + 1
    tier_order = {value: position for position, value in enumerate(RiskTierChoices.values())}
    return sorted(
        groups.values(), key=lambda group: (group.gate, tier_order.get(group.tier, len(tier_order)))
    )


def queue_length(waits: list[Wait], span: Window) -> list[dict]:
    """For each day of the window, how many requests waited for reviewers at its end, by tier.

    A sweep over the days rather than a count per day: each wait adds one from the day it
    started (or the window's first day) and stops counting on the day it ended, since at that
    day's end it no longer waited."""
    days = span.days
    changes: dict[str, list[int]] = defaultdict(lambda: [0] * (len(days) + 1))
    for wait in waits:
        first = max((wait.started_at.date() - span.since).days, 0)
        last = len(days) - 1 if wait.ended_at is None else (wait.ended_at.date() - span.since).days - 1
        if last < first:
            continue
        changes[wait.tier][first] += 1
        changes[wait.tier][min(last, len(days) - 1) + 1] -= 1
    running = dict.fromkeys(changes, 0)
    series = []
    for index, day in enumerate(days):
        for tier, deltas in changes.items():
            running[tier] += deltas[index]
        by_tier = {tier: count for tier, count in running.items() if count}
        series.append({"day": day, "waiting": sum(by_tier.values()), "by_tier": by_tier})
    return series


def queue_now(waits: list[Wait], *, now: datetime | None = None) -> dict:
    """The queue as it stands: waiting requests by tier, how many are past their review
    deadline, and the longest current wait (since the latest submission or resubmission)."""
    now = now or timezone.now()
    waiting = [wait for wait in waits if wait.ended_at is None]
    by_tier: dict[str, int] = defaultdict(int)
    for wait in waiting:
        by_tier[wait.tier] += 1
    oldest = min((wait.started_at for wait in waiting), default=None)
    return {
        "waiting": len(waiting),
        "overdue": sum(wait.due_at < now for wait in waiting),
        "by_tier": dict(by_tier),
        "oldest_waiting_hours": _hours(now - oldest) if oldest else None,
    }


def coe_metrics(*, since: date | None = None, until: date | None = None) -> dict:
    """Everything the metrics page and API show, for one window."""
    span = window(since=since, until=until)
    waits = waits_in(span)
    decided = time_to_decision(waits, span)
    all_hours = [hours for group in decided for hours in group.hours]
    return {
        "since": span.since,
        "until": span.until,
        "decided": len(all_hours),
        "median_hours": percentile(all_hours, 50) if all_hours else None,
        "time_to_decision": decided,
        "queue_length": queue_length(waits, span),
        "queue_now": queue_now(waits),
    }
