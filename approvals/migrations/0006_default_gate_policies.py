"""Default gate policies, the security and legal reviewer roles, and the hourly gate scan.

Policies follow the portal readiness rubric's gate policy by tier (minimal ≥ 1, limited ≥ 2,
high ≥ 3 at the production gate; half of that at the pilot gate), with the EU AI Act duties as
mandatory checks (Art 50 disclosure for limited risk; Arts 9-15 for high risk). Prohibited use
cases pass no gate into pilot or production; retiring is open to every tier. The CoE lead
changes all of it afterwards; this only seeds what is missing. Check keys and role names are
frozen here as migrations must be.
"""

from decimal import Decimal

from django.db import migrations

ROLE_GROUPS = ("security-reviewer", "legal-reviewer")

SCAN_TASK = "approvals.scan_gates"
SCAN_SCHEDULE = "Scan gate requests and approvals (hourly)"

HIGH_RISK_CHECKS = [
    "documentation.risk_classified",  # Art 9 risk management
    "data_lineage.datasets_have_lineage",  # Art 10 data governance
    "documentation.model_card",  # Art 11 technical documentation
    "monitoring_drift.signals_arrive",  # Art 12 record-keeping
    "documentation.user_guidance",  # Art 13 instructions for use
    "human_oversight.override_procedure",  # Art 14 human oversight
    "testing_validation.robustness_tested",  # Art 15 accuracy and robustness
]
HIGH_RISK_EVIDENCE = [
    "data_lineage.privacy_review",
    "documentation.model_card",
    "human_oversight.override_procedure",
    "testing_validation.robustness_tested",
]
DISCLOSURE = ["human_oversight.affected_people_informed"]  # Art 50 transparency

BLOCKED = {
    "blocked": True,
    "requirements": {},
    "description": "Art 5 prohibited practices may not be piloted or deployed.",
}


RETIRING = {
    "min_readiness": Decimal("0"),
    "validity_days": None,
    "requires_risk_assessment": False,
    "requirements": {"coe-reviewer": 1},
    "description": "Retiring: one CoE reviewer confirms users, data and costs are wound down.",
}


def pilot_policies():
    return {
        "minimal": {
            "min_readiness": Decimal("0.5"),
            "validity_days": 180,
            "requirements": {"coe-reviewer": 1},
            "description": "Minimal risk: one CoE reviewer lets a pilot start.",
        },
        "limited": {
            "min_readiness": Decimal("1.0"),
            "validity_days": 180,
            "mandatory_checks": ["documentation.risk_classified"],
            "requirements": {"coe-reviewer": 1},
            "description": "Limited risk: classified, one CoE reviewer.",
        },
        "high": {
            "min_readiness": Decimal("1.5"),
            "validity_days": 180,
            "mandatory_checks": ["documentation.risk_classified", "human_oversight.oversight_fits_risk"],
            "requirements": {"coe-reviewer": 1, "security-reviewer": 1},
            "description": "High risk: oversight must fit the tier before real users see it; CoE and security.",
        },
        "prohibited": BLOCKED,
    }


POLICIES = {
    ("proposed", "pilot"): pilot_policies(),
    ("on_hold", "pilot"): pilot_policies(),
    ("pilot", "production"): {
        "minimal": {
            "min_readiness": Decimal("1.0"),
            "validity_days": 365,
            "requirements": {"coe-reviewer": 1},
            "description": "Minimal risk: readiness 1 and one CoE reviewer.",
        },
        "limited": {
            "min_readiness": Decimal("2.0"),
            "validity_days": 365,
            "mandatory_checks": DISCLOSURE,
            "mandatory_evidence": DISCLOSURE,
            "requirements": {"coe-reviewer": 1, "legal-reviewer": 1},
            "description": "Limited risk (Art 50): people are told they deal with AI; CoE and legal sign off.",
        },
        "high": {
            "min_readiness": Decimal("3.0"),
            "validity_days": 180,
            "mandatory_checks": HIGH_RISK_CHECKS,
            "mandatory_evidence": HIGH_RISK_EVIDENCE,
            "requirements": {"coe-reviewer": 2, "security-reviewer": 1, "legal-reviewer": 1},
            "description": "High risk (Arts 9-15): two CoE reviewers, security and legal; re-certified twice a year.",
        },
        "prohibited": BLOCKED,
    },
    ("production", "retired"): {"": RETIRING},
    ("pilot", "retired"): {"": RETIRING},
}

# Every move between the main stages is a gate (DESIGN.md §3); 0002 seeded pilot → retired
# without one.
NEWLY_GATED = [("pilot", "retired")]


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)

    Transition = apps.get_model("approvals", "LifecycleTransition")
    Policy = apps.get_model("approvals", "GatePolicy")
    Requirement = apps.get_model("approvals", "GateApproverRequirement")
    for source, target in NEWLY_GATED:
        Transition.objects.filter(from_stage__key=source, to_stage__key=target).update(requires_gate=True)
    for (source, target), tiers in POLICIES.items():
        transition = Transition.objects.filter(
            from_stage__key=source, to_stage__key=target, requires_gate=True
        ).first()
        if transition is None:
            continue  # the CoE lead changed the lifecycle before this ran: leave it to them
        for tier, values in tiers.items():
            values = dict(values)
            requirements = values.pop("requirements")
            policy, created = Policy.objects.get_or_create(
                transition=transition, risk_tier=tier, defaults=values
            )
            if created:
                for role, count in requirements.items():
                    Requirement.objects.create(policy=policy, role=role, count=count)

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="7", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=SCAN_SCHEDULE,
        defaults={
            "task": SCAN_TASK,
            "crontab": crontab,
            "description": "Expires approvals; notifies overdue requests and approvals expiring in 14 or 3 days.",
        },
    )


def unseed(apps, schema_editor):
    # Policies and roles may be in use by then; only the schedule is this migration's alone.
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCAN_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0005_gates"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
