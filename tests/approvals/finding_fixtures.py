"""Findings made directly (the audit engine makes them in production): a small factory for the
finding tests and the permission matrix."""

import itertools
from datetime import timedelta

from django.utils import timezone

from approvals.choices import FindingStatusChoices
from approvals.models import Finding
from portal.choices import SeverityChoices

_serial = itertools.count(1)


def make_finding(use_case=None, *, check_id="orphaned-owner", severity=SeverityChoices.HIGH,
                 status=FindingStatusChoices.OPEN, owner=None, owned_by_coe=False, due_in_days=None,
                 title=None, **fields) -> Finding:  # fmt: skip
    """A finding about ``use_case`` (None: portfolio-wide, owned by the CoE), owned by the use
    case's accountable owner unless ``owner`` or ``owned_by_coe`` says otherwise, due by its
    severity unless ``due_in_days`` says otherwise (negative: overdue)."""
    number = next(_serial)
    subject = use_case.key if use_case is not None else f"portfolio-{number}"
    now = timezone.now()
    if owner is None and use_case is not None and not owned_by_coe:
        owner = use_case.accountable_owner
    days = SeverityChoices.DUE_DAYS[severity] if due_in_days is None else due_in_days
    return Finding.objects.create(
        key=f"{check_id}:{subject}:{number}",
        check_id=check_id,
        subject_key=subject,
        use_case=use_case,
        title=title or f"Finding {number} about {subject}",
        detail="What the check saw.",
        severity=severity,
        status=status,
        owner=owner,
        owned_by_coe=owned_by_coe or (use_case is None and owner is None),
        first_seen_at=now,
        last_seen_at=now,
        due_at=now + timedelta(days=days),
        **fields,
    )
