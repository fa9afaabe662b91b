"""Cost allocation: where every current line item's money goes, recomputed from scratch.

For one (source, billing period) :func:`allocate_period`:

1. turns the enabled rules, in order, into one SQL ``CASE`` (first match wins) and groups the
   period's current line items by (currency, winning rule, use-case key tag value) with sums of
   effective and billed cost — one aggregate query whatever the number of line items
   (DESIGN.md §6: never a Python loop over line items);
2. sends each group to its use case or team (direct), to a shared pool, or — no rule matched,
   or a "tag value is a use-case key" rule whose value names no use case — to *unallocated*;
3. splits each pool among its members (in proportion to their direct cost, evenly, or by fixed
   percentages) with largest-remainder rounding at the currency's minor units;
4. replaces the (source, period)'s :class:`~costs.models.CostAllocation` rows in one
   transaction.

It reads nothing but the current import, the rules, the pools and the use cases, so running it
twice gives the same rows (DESIGN.md §4.6), and every (source, period, currency) adds up to the
import's totals (§4.4; :func:`costs.testing.assert_reconciles`).
"""

import hashlib
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Lower
from django.utils import timezone

from costs.choices import (
    AllocationBucketChoices,
    AllocationRuleKindChoices,
    AllocationStateChoices,
    AllocationTargetKindChoices,
    CostKindChoices,
    ResourcePatternKindChoices,
    RollupBucketChoices,
    SplitMethodChoices,
)
from costs.models import (
    AllocationRule,
    AllocationState,
    BillingProfile,
    BillingResource,
    BillingService,
    CostAllocation,
    CostDriver,
    CostImport,
    CostLineItem,
    CostProfileTotal,
    CostRollup,
    CostSource,
    SharedPool,
    SharedPoolMember,
)
from costs.money import cents
from inventory.models import UseCase
from inventory.signals import use_case_facts_changed
from portal import jobs
from portal.choices import ChannelChoices
from portal.dates import month_start, next_month

logger = logging.getLogger(__name__)
ZERO = Decimal(0)
# ISO 4217 minor units where they are not two (the rest have cents).
MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0,
    "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip
# Top services and resources kept per use case, source, month and currency.
DRIVERS_KEPT = 10
# The forecast's run-rate window: a whole week, so every weekday counts once.
RUN_RATE_DAYS = 7


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


#
# Rules as SQL
#


def glob_to_regex(pattern: str) -> str:
    """``*`` any run of characters, ``?`` one character, everything else literal; anchored."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return "^" + "".join(parts) + "$"


def _tag_alias(key: str) -> str:
    return f"_tag_{key}"


def _tag_text(key: str, prefix: str = ""):
    """The tag's value as plain text (NULL when absent); ``prefix`` leads from the queried model
    to the profile (``profile__`` from CostProfileTotal). Cast, because a bare key transform
    compares with JSON semantics on SQLite, which reads the right-hand side as JSON."""
    return Cast(KeyTextTransform(key, f"{prefix}tag_set__tags_normalized"), output_field=CharField())


def _key_value_alias(rule: AllocationRule) -> str:
    return f"_ucval_{rule.pk or 'new'}"


def _key_value(rule: AllocationRule):
    """The first of the rule's tag keys present on the line item (aliases in the order given)."""
    aliases = [F(_tag_alias(key)) for key in rule.tag_keys]
    if not aliases:
        return Value(None, output_field=CharField())
    return Coalesce(*aliases) if len(aliases) > 1 else aliases[0]


def rule_condition(rule: AllocationRule, key_value_alias: str = "", prefix: str = "") -> Q:
    """The rule's criteria over BillingProfile (a line item's account, service, resource and
    tags; ``prefix`` leads there from another model), with tag values read from ``_tag_<key>``
    annotations and a key-tag rule's value from ``key_value_alias`` (see :func:`_annotated`)."""
    condition = Q()
    keys = rule.tag_keys
    if rule.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG:
        keys_lowered = UseCase.objects.annotate(lowered=Lower("key")).values("lowered")
        condition &= Q(**{f"{key_value_alias or _key_value_alias(rule)}__in": keys_lowered})
    elif keys:
        value = rule.tag_value.strip().lower()
        any_key = Q()
        for key in keys:
            any_key |= Q(**{_tag_alias(key): value}) if value else Q(**{f"{_tag_alias(key)}__isnull": False})
        condition &= any_key
    if rule.billing_account_id.strip():
        condition &= Q(**{f"{prefix}account__billing_account_id": rule.billing_account_id.strip()})
    if rule.sub_account_id.strip():
        condition &= Q(**{f"{prefix}account__sub_account_id": rule.sub_account_id.strip()})
    if rule.service_name.strip():
        condition &= Q(**{f"{prefix}service__service_name__iexact": rule.service_name.strip()})
    if rule.provider.strip():
        condition &= Q(**{f"{prefix}service__provider__iexact": rule.provider.strip()})
    if rule.resource_pattern:
        if rule.resource_pattern_kind == ResourcePatternKindChoices.GLOB:
            condition &= Q(**{f"{prefix}resource__resource_id__iregex": glob_to_regex(rule.resource_pattern)})
        else:
            condition &= Q(**{f"{prefix}resource__resource_id__regex": rule.resource_pattern})
    return condition


def _annotated(items: QuerySet, rules: list[AllocationRule]) -> QuerySet:
    """Billing profiles with one text column per tag key the rules read, the use-case key value
    of each key-tag rule (first key present wins), ``_rule``: the first matching rule's id (0:
    none) and ``_ucval``: the matching key-tag rule's use-case key value."""
    keys = sorted({key for rule in rules for key in rule.tag_keys})
    items = items.annotate(**{_tag_alias(key): _tag_text(key) for key in keys})
    key_rules = [rule for rule in rules if rule.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG]
    for rule in key_rules:
        items = items.annotate(**{_key_value_alias(rule): _key_value(rule)})
    if rules:
        rule_case = Case(
            *[When(rule_condition(rule), then=Value(rule.pk)) for rule in rules],
            default=Value(0),
            output_field=IntegerField(),
        )
    else:
        rule_case = Value(0, output_field=IntegerField())
    items = items.annotate(_rule=rule_case)
    if key_rules:
        items = items.annotate(
            _ucval=Case(
                *[When(_rule=rule.pk, then=F(_key_value_alias(rule))) for rule in key_rules],
                default=None,
                output_field=CharField(),
            )
        )
    else:
        items = items.annotate(_ucval=Value(None, output_field=CharField()))
    return items


def rules_for(source: CostSource | None) -> list[AllocationRule]:
    rules = AllocationRule.objects.filter(enabled=True).select_related("target_pool")
    if source is not None:
        rules = rules.filter(Q(source__isnull=True) | Q(source=source))
    return list(rules.order_by("position", "pk"))


# What of a rule decides where money goes (and the rule name the rows keep).
_RULE_FINGERPRINT_FIELDS = (
    "pk", "position", "kind", "source_id", "tag_key", "tag_value", "billing_account_id", "sub_account_id",
    "resource_pattern", "resource_pattern_kind", "service_name", "provider", "target_kind",
    "target_use_case_id", "target_team_id", "target_pool_id", "name",
)  # fmt: skip


def _pool_members(pool_ids) -> dict[int, list]:
    members: dict[int, list] = defaultdict(list)
    rows = (
        SharedPoolMember.objects.filter(pool_id__in=pool_ids)
        .order_by("pool_id", "pk")
        .values_list("pool_id", "use_case_id", "team_id", "percentage")
    )
    for pool_id, use_case_id, team_id, percentage in rows:
        members[pool_id].append([use_case_id, team_id, None if percentage is None else f"{percentage:f}"])
    return members


def rules_fingerprint(rules: list[AllocationRule], members: dict[int, list] | None = None) -> str:
    """A digest of the rules (in order) and of the pools they send money to, with their split
    and members: two allocations with the same fingerprint and import give the same rows.
    Reconciliation compares it with the current one to tell an allocation computed under rules
    that have since changed (and whose recomputation has not run, or failed)."""
    if members is None:
        members = _pool_members({rule.target_pool_id for rule in rules if rule.target_pool_id})
    parts = []
    for rule in rules:
        parts.append([getattr(rule, name) for name in _RULE_FINGERPRINT_FIELDS])
        if rule.target_pool_id:
            parts.append(["pool", rule.target_pool_id, rule.target_pool.split_method,
                          members.get(rule.target_pool_id, [])])  # fmt: skip
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def current_fingerprints(source_ids) -> dict[int, str]:
    """source id → the fingerprint its allocation would be computed with now (two queries)."""
    rules = list(
        AllocationRule.objects.filter(enabled=True).select_related("target_pool").order_by("position", "pk")
    )
    members = _pool_members({rule.target_pool_id for rule in rules if rule.target_pool_id})
    return {
        source_id: rules_fingerprint([rule for rule in rules if rule.source_id in (None, source_id)], members)
        for source_id in source_ids
    }


#
# Splitting
#


def split_largest_remainder(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """Parts of ``total`` in proportion to ``weights`` (non-negative, not all zero), in the
    currency's minor units, adding up exactly to ``total``.

    The total rounded to minor units is split by largest remainder (floors first, then one
    unit each to the largest fractional remainders; ties to the earlier member). Whatever the
    source data holds below a minor unit (line items carry ten decimals) stays with the largest
    part, so the parts sum to the whole to the last decimal and each still shows to the cent.
    """
    step = quantum(currency)
    rounded = total.quantize(step, rounding=ROUND_HALF_EVEN)
    units = int((rounded / step).to_integral_value())
    sign = -1 if units < 0 else 1
    units = abs(units)
    weight_sum = sum(weights, ZERO)
    raw = [Decimal(units) * weight / weight_sum for weight in weights]
    floors = [int(value) for value in raw]
    leftover = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda index: (-(raw[index] - floors[index]), index))
    for index in order[:leftover]:
        floors[index] += 1
    parts = [sign * count * step for count in floors]
    residue = total - rounded
    if residue and parts:
        largest = max(range(len(parts)), key=lambda index: (abs(parts[index]), -index))
        parts[largest] += residue
    return parts


def split_plain(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Proportional parts at ten decimals (forecast inputs, not money shown as a share)."""
    if not total:
        return [ZERO for _ in weights]
    weight_sum = sum(weights, ZERO)
    parts = [(total * weight / weight_sum).quantize(Decimal("1e-10")) for weight in weights]
    parts[0] += total - sum(parts, ZERO)
    return parts


#
# The engine
#


@dataclass
class _Amounts:
    effective: Decimal = ZERO
    billed: Decimal = ZERO
    recent: Decimal = ZERO
    partial: Decimal = ZERO
    lines: int = 0

    def add(self, other: "_Amounts") -> None:
        self.effective += other.effective
        self.billed += other.billed
        self.recent += other.recent
        self.partial += other.partial
        self.lines += other.lines


@dataclass
class PeriodResult:
    source_id: int
    period: date
    rows: int = 0
    currencies: dict = field(default_factory=dict)
    error: str = ""  # why this (source, period) could not be allocated; the others still were


def _window(period: date, latest) -> tuple[date | None, date | None, int]:
    """(data_through, run-rate window start, days in the window): data is complete up to the
    midnight at or before the latest charge end, kept within the month.

    Late-billed usage (charged in a later billing period than it was used: FOCUS says so with
    a charge period before the billing period) can be all a period holds; its latest charge end
    is then before the month starts, and the month simply has no complete day yet."""
    if latest is None:
        return None, None, 0
    if isinstance(latest, str):  # SQLite returns MAX() of a datetime column as text
        latest = datetime.fromisoformat(latest)
    through = min(max(latest.date(), period), next_month(period))
    start = max(through - timedelta(days=RUN_RATE_DAYS), period)
    return through, start, max((through - start).days, 0)


#
# The staged SQL: line items → (currency, day, profile) groups → a target per profile → rollups
#

GROUPS = "costs_alloc_groups"
PROFILES = "costs_alloc_profiles"
RULES = "costs_alloc_rules"
TARGETS = "costs_alloc_targets"
_BUCKET_OF_TARGET = {
    AllocationTargetKindChoices.USE_CASE: RollupBucketChoices.USE_CASE,
    AllocationTargetKindChoices.TEAM: RollupBucketChoices.TEAM,
    AllocationTargetKindChoices.POOL: RollupBucketChoices.POOL,
}


def _rule_target(rule: AllocationRule) -> tuple:
    """(rule id, bucket, use case, team, pool): where the rule sends what it matches. A key-tag
    rule's use case is the one its tag names, joined in SQL."""
    if rule.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG:
        return (rule.pk, RollupBucketChoices.USE_CASE, None, None, None)
    kind = rule.target_kind
    return (
        rule.pk,
        _BUCKET_OF_TARGET[kind],
        rule.target_use_case_id if kind == AllocationTargetKindChoices.USE_CASE else None,
        rule.target_team_id if kind == AllocationTargetKindChoices.TEAM else None,
        rule.target_pool_id if kind == AllocationTargetKindChoices.POOL else None,
    )


def _drop_stage(cursor) -> None:
    for table in (TARGETS, RULES, PROFILES, GROUPS):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _stage(cursor, cost_import: CostImport, rules: list[AllocationRule]):
    """Temporary tables for one (source, period), and the latest charge end.

    1. ``GROUPS``: the import's line items summed per (currency, day, profile), the only pass
       over line items (on PostgreSQL a parallel aggregate over one partition);
    2. ``PROFILES``: the rules' ``CASE`` evaluated once per profile met (first match wins);
    3. ``RULES``: where each rule sends money;
    4. ``TARGETS``: per profile, where its money goes (bucket, use case, team or pool, rule).
    """
    _drop_stage(cursor)
    cursor.execute(
        f"CREATE TEMPORARY TABLE {GROUPS} AS "
        "SELECT billing_currency AS currency, charge_date AS day, profile_id, "
        "SUM(effective_cost) AS effective, SUM(billed_cost) AS billed, COUNT(*) AS lines, "
        "MAX(charge_period_end) AS latest "
        f"FROM {CostLineItem._meta.db_table} WHERE cost_import_id = %s "
        "GROUP BY billing_currency, charge_date, profile_id",
        [cost_import.pk],
    )
    cursor.execute(f"ANALYZE {GROUPS}")  # a temporary table has no statistics until asked
    cursor.execute(f"SELECT MAX(latest) FROM {GROUPS}")
    latest = cursor.fetchone()[0]
    profiles = _annotated(
        BillingProfile.objects.filter(pk__in=RawSQL(f"SELECT DISTINCT profile_id FROM {GROUPS}", [])), rules
    )
    profiles = profiles.values_list("id", "service_id", "resource_id", "_rule", "_ucval")
    sql, params = profiles.query.sql_with_params()
    cursor.execute(f"CREATE TEMPORARY TABLE {PROFILES} AS {sql}", params)
    # Where each rule sends money, as a small table joined once (a CASE per target column would
    # evaluate the rules' CASE again for every branch).
    cursor.execute(
        f"CREATE TEMPORARY TABLE {RULES} (rule_id bigint, bucket varchar(20), use_case_id bigint, "
        "team_id bigint, pool_id bigint)"
    )
    if rules:
        cursor.executemany(
            f"INSERT INTO {RULES} (rule_id, bucket, use_case_id, team_id, pool_id) VALUES (%s, %s, %s, %s, %s)",
            [_rule_target(rule) for rule in rules],
        )
    cursor.execute(f"ANALYZE {PROFILES}")
    # A key-tag rule matched only values that are use-case keys (in SQL); one whose use case
    # went away meanwhile is unallocated, not lost.
    usecases = UseCase._meta.db_table
    cursor.execute(
        f"CREATE TEMPORARY TABLE {TARGETS} AS "
        "SELECT p.id AS profile_id, p.service_id, p.resource_id, "
        "CASE WHEN r.rule_id IS NULL OR (p._ucval IS NOT NULL AND u.id IS NULL) THEN %s ELSE r.bucket END "
        "AS bucket, COALESCE(r.use_case_id, u.id) AS use_case_id, r.team_id, r.pool_id, "
        "CASE WHEN p._ucval IS NOT NULL AND u.id IS NULL THEN NULL ELSE r.rule_id END AS rule_id "
        f"FROM {PROFILES} p LEFT JOIN {RULES} r ON r.rule_id = p._rule "
        f"LEFT JOIN {usecases} u ON p._ucval IS NOT NULL AND LOWER(u.key) = p._ucval",
        [RollupBucketChoices.UNALLOCATED],
    )
    cursor.execute(f"ANALYZE {TARGETS}")
    return latest


def _write_rollups(cursor, *, source: CostSource, period: date, cost_import: CostImport) -> None:
    """The period's daily rollups and profile totals: two grouped ``INSERT … SELECT``."""
    cursor.execute(
        f"INSERT INTO {CostRollup._meta.db_table} (source_id, period, day, currency, cost_import_id, bucket, "
        "use_case_id, team_id, pool_id, rule_id, service_id, effective_cost, billed_cost, line_count) "
        "SELECT %s, %s, g.day, g.currency, %s, t.bucket, t.use_case_id, t.team_id, t.pool_id, t.rule_id, "
        "t.service_id, SUM(g.effective), SUM(g.billed), SUM(g.lines) "
        f"FROM {GROUPS} g JOIN {TARGETS} t ON t.profile_id = g.profile_id "
        "GROUP BY g.day, g.currency, t.bucket, t.use_case_id, t.team_id, t.pool_id, t.rule_id, t.service_id",
        [source.pk, period, cost_import.pk],
    )
    cursor.execute(
        f"INSERT INTO {CostProfileTotal._meta.db_table} (source_id, period, currency, profile_id, "
        "effective_cost, billed_cost, line_count) "
        "SELECT %s, %s, currency, profile_id, SUM(effective), SUM(billed), SUM(lines) "
        f"FROM {GROUPS} GROUP BY currency, profile_id",
        [source.pk, period],
    )


def _monthly(source: CostSource, period: date, through: date | None, window_start: date | None):
    """The month's direct totals per (currency, bucket, target, rule) from the rollups just
    written, with the forecast inputs (cost of the recent complete days and of the partial day)."""
    extra = {}
    if through is not None:
        extra = {
            "recent": Sum("effective_cost", filter=Q(day__gte=window_start, day__lt=through)),
            "partial": Sum("effective_cost", filter=Q(day__gte=through)),
        }
    return (
        CostRollup.objects.filter(source=source, period=period)
        .values("currency", "bucket", "use_case_id", "team_id", "pool_id", "rule_id")
        .annotate(
            effective=Sum("effective_cost"), billed=Sum("billed_cost"), lines=Sum("line_count"), **extra
        )
        .order_by()
    )


def _decimal(value) -> Decimal:
    # SQLite sums DECIMAL columns as floats; ten places is what the column holds.
    return ZERO if value is None else Decimal(str(value)).quantize(Decimal("1e-10"))


def allocate_period(*, source: CostSource, period: date, job_run=None) -> PeriodResult:
    """Recompute the allocation of one source's billing period; see the module docstring. The
    (source, period)'s :class:`~costs.models.AllocationState` records the import and rules used."""

    period = month_start(period)
    result = PeriodResult(source_id=source.pk, period=period)
    with transaction.atomic():
        # One recomputation of a source at a time: the import swap holds the same lock, so the
        # rows always come from one import.
        CostSource.objects.select_for_update().filter(pk=source.pk).first()
        cost_import = CostImport.objects.filter(
            source=source, billing_period_start=period, is_current=True
        ).first()
        CostAllocation.objects.filter(source=source, period=period).delete()
        CostDriver.objects.filter(source=source, period=period).delete()
        CostRollup.objects.filter(source=source, period=period).delete()
        CostProfileTotal.objects.filter(source=source, period=period).delete()
        rules = rules_for(source)
        _record_state(source, period, cost_import=cost_import, fingerprint=rules_fingerprint(rules),
                      job_run=job_run)  # fmt: skip
        if cost_import is None:
            return result
        by_id = {rule.pk: rule for rule in rules}
        with connection.cursor() as cursor:
            latest = _stage(cursor, cost_import, rules)
            _write_rollups(cursor, source=source, period=period, cost_import=cost_import)
            through, window_start, window_days = _window(period, latest)
            drivers = _drivers(cursor, source, period)
            _drop_stage(cursor)

        direct: dict[tuple, _Amounts] = defaultdict(_Amounts)  # (currency, bucket, target id, rule id)
        pools: dict[tuple, _Amounts] = defaultdict(_Amounts)  # (currency, pool id, rule id)
        for group in _monthly(source, period, through, window_start):
            amounts = _Amounts(
                effective=_decimal(group["effective"]),
                billed=_decimal(group["billed"]),
                recent=_decimal(group.get("recent")),
                partial=_decimal(group.get("partial")),
                lines=group["lines"],
            )
            currency, bucket, rule_id = group["currency"], group["bucket"], group["rule_id"]
            if bucket == RollupBucketChoices.POOL:
                pools[(currency, group["pool_id"], rule_id)].add(amounts)
            elif bucket == RollupBucketChoices.USE_CASE:
                direct[(currency, AllocationBucketChoices.USE_CASE, group["use_case_id"], rule_id)].add(
                    amounts
                )
            elif bucket == RollupBucketChoices.TEAM:
                direct[(currency, AllocationBucketChoices.TEAM, group["team_id"], rule_id)].add(amounts)
            else:
                direct[(currency, AllocationBucketChoices.UNALLOCATED, None, None)].add(amounts)

        rows = []
        now = timezone.now()

        def row(currency, bucket, target_id, rule_id, amounts, *, cost_kind, pool_id=None):
            rule = by_id.get(rule_id)
            return CostAllocation(
                source=source,
                period=period,
                currency=currency,
                cost_import=cost_import,
                bucket=bucket,
                use_case_id=target_id if bucket == AllocationBucketChoices.USE_CASE else None,
                team_id=target_id if bucket == AllocationBucketChoices.TEAM else None,
                pool_id=pool_id,
                rule=rule,
                rule_name=rule.name if rule else "",
                cost_kind=cost_kind,
                effective_cost=amounts.effective,
                billed_cost=amounts.billed,
                recent_effective_cost=amounts.recent,
                partial_effective_cost=amounts.partial,
                recent_days=window_days,
                data_through=through,
                line_count=amounts.lines,
                computed_at=now,
            )

        for (currency, bucket, target_id, rule_id), amounts in sorted(direct.items(), key=_sort_key):
            rows.append(row(currency, bucket, target_id, rule_id, amounts, cost_kind=CostKindChoices.DIRECT))

        if pools:
            pool_objects = {
                pool.pk: pool
                for pool in SharedPool.objects.filter(pk__in={key[1] for key in pools}).prefetch_related(
                    "members"
                )
            }
            team_of = _teams_of_use_cases(direct, pool_objects.values())
            for (currency, pool_id, rule_id), amounts in sorted(pools.items(), key=_sort_key):
                pool = pool_objects[pool_id]
                members, weights = _members_and_weights(pool, currency, direct, team_of)
                if not members:
                    # Nobody to split among: visible as unallocated, marked with the pool.
                    rows.append(
                        row(currency, AllocationBucketChoices.UNALLOCATED, None, rule_id, amounts,
                            cost_kind=CostKindChoices.SHARED, pool_id=pool_id)
                    )  # fmt: skip
                    continue
                effective = split_largest_remainder(amounts.effective, weights, currency)
                billed = split_largest_remainder(amounts.billed, weights, currency)
                recent = split_plain(amounts.recent, weights)
                partial = split_plain(amounts.partial, weights)
                for index, (bucket, target_id) in enumerate(members):
                    share = _Amounts(
                        effective[index], billed[index], recent[index], partial[index], amounts.lines
                    )
                    rows.append(row(currency, bucket, target_id, rule_id, share, cost_kind=CostKindChoices.SHARED,
                                    pool_id=pool_id))  # fmt: skip
        CostAllocation.objects.bulk_create(rows, batch_size=2000)
        CostDriver.objects.bulk_create(drivers, batch_size=2000)
        result.rows = len(rows)
        result.currencies = {
            currency: str(values["billed"]) for currency, values in cost_import.totals.items()
        }
    return result


def _record_state(source: CostSource, period: date, *, cost_import, fingerprint: str, job_run) -> None:
    # Replaced, not updated: two queries, inside the period's transaction (under its lock).
    now = timezone.now()
    AllocationState.objects.filter(source=source, period=period).delete()
    AllocationState.objects.create(
        source=source, period=period, status=AllocationStateChoices.OK, cost_import=cost_import,
        rules_fingerprint=fingerprint, computed_at=now, attempted_at=now, job_run=job_run,
    )  # fmt: skip


def _record_failure(source: CostSource, period: date, *, error: str, job_run) -> None:
    """The failed run's error on its own (source, period); what the last good run recorded
    (import, rules, time) stays, and so do its rows."""
    AllocationState.objects.update_or_create(
        source=source,
        period=period,
        defaults={
            "status": AllocationStateChoices.FAILED,
            "error": error,
            "attempted_at": timezone.now(),
            "job_run": job_run,
        },
    )


def _drivers(cursor, source: CostSource, period: date) -> list:
    """Top services (from the rollups) and resources (from the staged groups) behind each use
    case's direct cost, ranked in SQL with a window function so only the top rows leave the
    database. Two grouped queries per period."""

    ranked = (
        "SELECT use_case_id, currency, name, amount, lines FROM ("
        " SELECT use_case_id, currency, name, amount, lines, ROW_NUMBER() OVER ("
        "  PARTITION BY use_case_id, currency ORDER BY amount DESC, name) AS position FROM ({grouped}) grouped"
        f") ranked WHERE position <= {DRIVERS_KEPT}"
    )
    services = (
        f"SELECT r.use_case_id, r.currency, s.service_name AS name, SUM(r.effective_cost) AS amount, "
        f"SUM(r.line_count) AS lines FROM {CostRollup._meta.db_table} r "
        f"JOIN {BillingService._meta.db_table} s ON s.id = r.service_id "
        "WHERE r.source_id = %s AND r.period = %s AND r.bucket = %s "
        "GROUP BY r.use_case_id, r.currency, s.service_name"
    )
    resources = (
        "SELECT t.use_case_id, g.currency, x.resource_id AS name, SUM(g.effective) AS amount, "
        f"SUM(g.lines) AS lines FROM {GROUPS} g JOIN {TARGETS} t ON t.profile_id = g.profile_id "
        f"JOIN {BillingResource._meta.db_table} x ON x.id = t.resource_id "
        "WHERE t.bucket = %s GROUP BY t.use_case_id, g.currency, x.resource_id"
    )
    drivers = []
    for kind, grouped, params in (
        ("service", services, [source.pk, period, RollupBucketChoices.USE_CASE]),
        ("resource", resources, [RollupBucketChoices.USE_CASE]),
    ):
        cursor.execute(ranked.format(grouped=grouped), params)
        for use_case_id, currency, name, amount, lines in cursor.fetchall():
            if use_case_id is None:
                continue
            drivers.append(
                CostDriver(source=source, period=period, currency=currency, use_case_id=use_case_id, kind=kind,
                           name=(name or "")[:1024], effective_cost=_decimal(amount), line_count=lines)
            )  # fmt: skip
    return drivers


def _sort_key(item):
    return tuple("" if part is None else str(part) for part in item[0])


def _teams_of_use_cases(direct: dict, pools) -> dict[int, int]:
    wanted = {target for (_c, bucket, target, _r) in direct if bucket == AllocationBucketChoices.USE_CASE}
    return dict(UseCase.objects.filter(pk__in=wanted).values_list("pk", "owning_team_id"))


def _members_and_weights(pool: SharedPool, currency: str, direct: dict, team_of: dict[int, int]):
    """The pool's members as (bucket, id) and their weights for this currency. Proportional
    splits weigh a use case by its direct cost here, a team by its own direct cost plus that of
    its use cases; when no member has positive direct cost the split is even."""
    members, weights = [], []
    method = pool.split_method
    direct_cost: dict[tuple, Decimal] = defaultdict(Decimal)
    if method == SplitMethodChoices.DIRECT_COST:
        for (row_currency, bucket, target_id, _rule), amounts in direct.items():
            if row_currency != currency or bucket == AllocationBucketChoices.UNALLOCATED:
                continue
            direct_cost[(bucket, target_id)] += amounts.effective
            if bucket == AllocationBucketChoices.USE_CASE and target_id in team_of:
                direct_cost[(AllocationBucketChoices.TEAM, team_of[target_id])] += amounts.effective
    for member in sorted(pool.members.all(), key=lambda member: member.pk):
        if member.use_case_id:
            key = (AllocationBucketChoices.USE_CASE, member.use_case_id)
        else:
            key = (AllocationBucketChoices.TEAM, member.team_id)
        members.append(key)
        if method == SplitMethodChoices.FIXED:
            weights.append(member.percentage or ZERO)
        elif method == SplitMethodChoices.DIRECT_COST:
            weights.append(max(direct_cost.get(key, ZERO), ZERO))
        else:
            weights.append(Decimal(1))
    if members and sum(weights, ZERO) <= 0:
        weights = [Decimal(1)] * len(members)
    return members, weights


def current_periods(source: CostSource | None = None) -> list[tuple[int, date]]:
    imports = CostImport.objects.filter(is_current=True, billing_period_start__isnull=False)
    if source is not None:
        imports = imports.filter(source=source)
    return sorted(set(imports.values_list("source_id", "billing_period_start")))


def allocate(*, source: CostSource | None = None, periods: list[date] | None = None, progress=None,
             job_run=None) -> list[PeriodResult]:  # fmt: skip
    """Recompute every current (source, period), or those given. Each (source, period) is its
    own transaction: one that fails is rolled back, recorded with its error on its
    AllocationState (and in the result's ``error``) and the others still run."""
    pairs = current_periods(source)
    if periods:
        wanted = {month_start(p) for p in periods}
        pairs = [(s, p) for s, p in pairs if p in wanted]
        if source is not None:
            # A period whose import went away still needs its old rows removed.
            pairs = sorted(set(pairs) | {(source.pk, p) for p in wanted})
    sources = {item.pk: item for item in CostSource.objects.filter(pk__in={s for s, _p in pairs})}
    attributed_before = _use_cases_with_cost()
    results = []
    for number, (source_id, period) in enumerate(pairs, start=1):
        source_ = sources[source_id]
        try:
            results.append(allocate_period(source=source_, period=period, job_run=job_run))
        except Exception as exc:  # any failure is this period's: record it, go on with the rest
            logger.exception("allocation of %s %s failed", source_, period)
            error = f"Allocation of {source_.name} {period:%Y-%m} failed: {type(exc).__name__}: {exc}."
            _record_failure(source_, period, error=error, job_run=job_run)
            results.append(PeriodResult(source_id=source_id, period=period, error=error))
        if progress:
            progress(100 * number / len(pairs), f"{source_.name} {period:%Y-%m} done")
    # "Costs are attributed" is a fact maturity checks: the use cases that gained or lost all
    # their cost are announced. Allocation rows are bulk-written, so no model signal says so;
    # the rest are unchanged and left to the nightly run.
    use_case_facts_changed.send(
        sender=CostAllocation, use_case_ids=sorted(attributed_before ^ _use_cases_with_cost())
    )
    return results


def _use_cases_with_cost() -> set[int]:
    return set(
        CostAllocation.objects.filter(use_case__isnull=False).values_list("use_case_id", flat=True).distinct()
    )


def request_allocation(*, source: CostSource | None = None, periods: list[date] | None = None, actor=None,
                       channel: str | None = None):  # fmt: skip
    """Queue a recomputation after the current transaction commits (rules, pools or a new
    current import changed). Returns the JobRun."""

    arguments = {}
    if source is not None:
        arguments["source_id"] = source.pk
    if periods:
        arguments["periods"] = sorted({f"{month_start(p):%Y-%m-%d}" for p in periods})
    return jobs.enqueue(
        "costs.allocate_costs", actor=actor, channel=channel or ChannelChoices.SYSTEM, **arguments
    )


#
# Preview
#


def preview_rule(rule: AllocationRule, *, period: date | None = None) -> dict:
    """What this rule would take if it ran first: matching line items and their effective cost
    per currency in the latest complete month (the last month with a current import before
    this one, else the latest one). Unsaved rules work too: it is one aggregate query."""
    periods = sorted({p for _s, p in current_periods()})
    if period is None:
        this_month = month_start(timezone.now().date())
        earlier = [p for p in periods if p < this_month]
        period = earlier[-1] if earlier else (periods[-1] if periods else None)
    if period is None:
        return {"period": None, "rows": 0, "currencies": {}}
    # Per-profile totals the last allocation kept: the rule is evaluated once per profile.
    items = CostProfileTotal.objects.filter(period=period)
    if rule.source_id:
        items = items.filter(source_id=rule.source_id)
    items = items.annotate(**{_tag_alias(key): _tag_text(key, "profile__") for key in rule.tag_keys})
    if rule.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG:
        items = items.annotate(**{_key_value_alias(rule): _key_value(rule)})
    summary = list(
        items.filter(rule_condition(rule, prefix="profile__"))
        .values("currency")
        .annotate(effective=Sum("effective_cost"), lines=Sum("line_count"))
        .order_by("currency")
    )
    currencies = {row["currency"]: cents(_decimal(row["effective"])) for row in summary}
    rows = sum(row["lines"] for row in summary)
    return {"period": period, "rows": rows, "currencies": currencies}
