"""high-risk-without-oversight: a high-risk use case that runs fully automated."""

from collections.abc import Iterator

from django.db.models import Q

from approvals.audit_checks.common import governed_use_cases, use_case_link
from inventory.choices import HumanOversightChoices, RiskTierChoices
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="high-risk-without-oversight",
    title="High-risk use case without human oversight",
    severity=SeverityChoices.HIGH,
    controls=("human_oversight.oversight_fits_risk", "human_oversight.override_procedure"),
    description="A use case classified high risk (EU AI Act) has no human oversight (fully automated or "
    "not declared); Art 14 asks that people can interpret, override and stop it.",
)
def high_risk_without_oversight(scope: AuditScope) -> Iterator[Observation]:
    rows = (
        governed_use_cases(scope)
        .filter(risk_tier=RiskTierChoices.HIGH)
        .filter(Q(human_oversight=HumanOversightChoices.NONE) | Q(human_oversight=""))
        .order_by("key")
        .values("pk", "key", "name", "human_oversight")
    )
    for row in rows:
        mode = "fully automated" if row["human_oversight"] else "no oversight mode declared"
        yield Observation(
            subject_key=row["key"],
            title=f"{row['key']} {row['name']} is high risk and {mode}",
            detail="High-risk AI systems need human oversight (EU AI Act Art 14): choose how people supervise "
            "its outputs (in the loop, on the loop or in command) on the Overview tab's edit page, and "
            "document how they override or stop it.",
            use_case_id=row["pk"],
            link=use_case_link(row["key"], "overview"),
            data={"human_oversight": row["human_oversight"]},
        )
