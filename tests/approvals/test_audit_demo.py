"""The demo's nightly audit finds what the demo portfolio hides (issue 12, point 8), and loading
the demo again adds no run and no finding."""

from io import StringIO

import pytest
from django.core.management import call_command

from approvals.models import AuditRun, Finding
from approvals.services.audits import audit_run_create, audit_run_execute
from portal.choices import ChannelChoices, JobStatusChoices
from portal.demo import load_demo_portfolio

pytestmark = pytest.mark.django_db


def test_the_demo_audit_finds_what_the_portfolio_hides(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        load_demo_portfolio()
    run = AuditRun.objects.get()
    assert run.status == JobStatusChoices.SUCCEEDED and run.counts["errors"] == {}
    keys = set(Finding.objects.values_list("key", flat=True))
    assert "production-without-approval:UC-0009" in keys
    assert "orphaned-owner:UC-0004" in keys
    assert {"duplicate-efforts:UC-0004+UC-0005", "duplicate-efforts:UC-0005+UC-0006"} <= keys
    assert any(key.startswith("approval-expiring:UC-0008") for key in keys)
    assert any(key.startswith("unallocated-spend:") for key in keys)
    assert "health-threshold-breach:UC-0008:production:drift_score" in keys
    assert "health-signal-missing:UC-0009" in keys
    orphan = Finding.objects.get(key="orphaned-owner:UC-0004")
    assert orphan.owned_by_coe and orphan.owner is None
    fraud = Finding.objects.get(key="production-without-approval:UC-0009")
    assert fraud.severity == "critical" and fraud.owner.username == "felix"

    # Loading again adds nothing; the next audit finds the same findings and duplicates none.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("quickstart", "--no-serve", stdout=StringIO())
    assert AuditRun.objects.count() == 1 and set(Finding.objects.values_list("key", flat=True)) == keys
    rerun = audit_run_execute(audit_run_create(use_case=None, channel=ChannelChoices.COMMAND))
    assert rerun.counts["opened"] == 0 and rerun.counts["updated"] == len(keys)
    assert Finding.objects.count() == len(keys)
