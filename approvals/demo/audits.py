"""The demo's nightly audit (loaded last by ``propylon quickstart``): the first run over the demo
portfolio, so the findings page opens on what the audit keeps finding — UC-0009 in production
without an approval, the orphaned contract-search pilot, the doc-search duplicates, the forecast's
expiring approval and drifting model, the fraud scoring nobody monitors, the untagged spend.

Safe to load again: once a run exists, nothing is added (the nightly schedule runs the next).
"""

from approvals.models import AuditRun
from approvals.services.audits import audit_run_create, audit_run_execute
from portal.choices import ChannelChoices


def load_audit_demo(people: dict) -> None:
    if AuditRun.objects.exists():
        return
    audit_run_execute(audit_run_create(actor=None, use_case=None, channel=ChannelChoices.SYSTEM))
