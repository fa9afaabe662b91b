"""The default lifecycle: proposed → pilot → production → retired, with rejected and on hold.

The CoE lead may change it afterwards; this only seeds an empty table.
"""

from django.db import migrations

STAGES = [
    # key, label, kind, order, colour, description
    ("proposed", "Proposed", "intake", 10, "grey", "Filed and waiting for the pilot gate."),
    ("pilot", "Pilot", "active", 20, "blue", "Approved to run as a pilot with limited users."),
    ("production", "Production", "production", 30, "green", "Approved release serving real users."),
    ("retired", "Retired", "closed", 40, "grey", "Switched off; kept for the record."),
    ("on_hold", "On hold", "paused", 50, "amber", "Paused by its owners or the CoE."),
    ("rejected", "Rejected", "closed", 60, "red", "Not approved to proceed."),
]

TRANSITIONS = [
    # from, to, requires_gate
    ("proposed", "pilot", True),
    ("proposed", "rejected", False),
    ("proposed", "on_hold", False),
    ("pilot", "production", True),
    ("pilot", "retired", False),
    ("pilot", "on_hold", False),
    ("pilot", "rejected", False),
    ("production", "retired", True),
    ("production", "on_hold", False),
    ("on_hold", "proposed", False),
    ("on_hold", "pilot", True),
    ("on_hold", "retired", False),
]


def seed(apps, schema_editor):
    Stage = apps.get_model("approvals", "LifecycleStage")
    Transition = apps.get_model("approvals", "LifecycleTransition")
    if Stage.objects.exists():
        return
    stages = {}
    for key, label, kind, order, colour, description in STAGES:
        stages[key] = Stage.objects.create(
            key=key, label=label, kind=kind, order=order, colour=colour, description=description
        )
    for source, target, requires_gate in TRANSITIONS:
        Transition.objects.create(
            from_stage=stages[source], to_stage=stages[target], requires_gate=requires_gate
        )


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_lifecycle_stages")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
