"""Allocation rules and shared pools: the writes (the engine: costs/services/allocation_engine.py).

Every change to a rule or pool queues a recomputation of every current period after commit:
allocation is a pure function of the imports and the rules, so recomputing is always safe.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from costs.choices import SplitMethodChoices
from costs.models import AllocationRule, SharedPool, SharedPoolMember
from costs.services.allocation_engine import request_allocation


def allocation_rule_save(*, rule=None, actor=None, **fields):
    """Create (``rule=None``) or change a rule; raises ValidationError naming the field."""
    if "target_kind" not in fields:
        # The target given says what kind it is (API clients and tests may leave the kind out).
        for kind, name in (("team", "target_team"), ("pool", "target_pool"), ("use_case", "target_use_case")):
            if fields.get(name) is not None:
                fields["target_kind"] = kind
    with transaction.atomic():
        if rule is None:
            rule = AllocationRule()
        else:
            rule = AllocationRule.objects.select_for_update().get(pk=rule.pk)
        for name, value in fields.items():
            if name in AllocationRule.EDITABLE_FIELDS:
                setattr(rule, name, value.strip() if isinstance(value, str) else value)
        rule.updated_at = timezone.now()
        rule.full_clean()
        rule.save()
        request_allocation(actor=actor)
    return rule


def allocation_rule_delete(*, rule, actor=None) -> None:
    with transaction.atomic():
        rule.delete()
        request_allocation(actor=actor)


def shared_pool_save(*, pool=None, actor=None, name: str, split_method: str, members: list[dict],
                     description: str = ""):  # fmt: skip
    """Create or change a pool and replace its members (``[{use_case|team, percentage}]``).

    Fixed splits need a percentage for every member, summing to exactly 100."""
    errors = []
    seen = set()
    for number, member in enumerate(members, start=1):
        use_case, team = member.get("use_case"), member.get("team")
        if bool(use_case) == bool(team):
            errors.append(f"Member {number}: choose a use case or a team (one of them).")
            continue
        identity = ("u", use_case.pk) if use_case else ("t", team.pk)
        if identity in seen:
            errors.append(f"Member {number}: {use_case or team} is listed twice.")
        seen.add(identity)
        percentage = member.get("percentage")
        if split_method == SplitMethodChoices.FIXED:
            if percentage is None:
                errors.append(f"Member {number}: a fixed split needs a percentage for {use_case or team}.")
            elif not (Decimal(0) < percentage <= Decimal(100)):
                errors.append(f"Member {number}: the percentage must be above 0 and at most 100.")
    if not members:
        errors.append("A pool needs at least one use case or team to split among.")
    if split_method == SplitMethodChoices.FIXED and not errors:
        total = sum((member["percentage"] for member in members), Decimal(0))
        if total != Decimal(100):
            errors.append(f"Fixed percentages must add up to 100; they add up to {total.normalize():f}.")
    if errors:
        raise ValidationError({"members": errors})
    with transaction.atomic():
        pool = SharedPool() if pool is None else SharedPool.objects.select_for_update().get(pk=pool.pk)
        pool.name, pool.split_method, pool.description = name.strip(), split_method, description
        pool.full_clean()
        pool.save()
        wanted = {
            (m["use_case"].pk if m.get("use_case") else None, m["team"].pk if m.get("team") else None): m
            for m in members
        }
        for existing in list(pool.members.all()):
            key = (existing.use_case_id, existing.team_id)
            if key not in wanted:
                existing.delete()
                continue
            member = wanted.pop(key)
            percentage = member.get("percentage") if split_method == SplitMethodChoices.FIXED else None
            if existing.percentage != percentage:
                existing.percentage = percentage
                existing.save()
        for (use_case_id, team_id), member in wanted.items():
            SharedPoolMember.objects.create(
                pool=pool,
                use_case_id=use_case_id,
                team_id=team_id,
                percentage=member.get("percentage") if split_method == SplitMethodChoices.FIXED else None,
            )
        request_allocation(actor=actor)
    return pool


def shared_pool_delete(*, pool, actor=None) -> None:
    rules = list(pool.rules.values_list("name", flat=True))
    if rules:
        raise ValidationError(
            {"pool": f"Rules send cost to this pool ({', '.join(rules)}); change or delete them first."}
        )
    with transaction.atomic():
        pool.delete()
        request_allocation(actor=actor)
