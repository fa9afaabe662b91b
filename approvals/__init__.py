"""The governance workflow: lifecycle stages, gates, assessments, approvals, audits."""
