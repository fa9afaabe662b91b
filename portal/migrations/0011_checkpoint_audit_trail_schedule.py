"""Sign the audit trail's head into the checkpoint directory every 15 minutes (editable in the
admin's periodic tasks)."""

from django.db import migrations

TASK_NAME = "portal.checkpoint_audit_trail"
SCHEDULE_NAME = "Checkpoint the audit trail (every 15 minutes)"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_quarter_hour, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK_NAME,
            "interval": every_quarter_hour,
            "description": "Writes a signed checkpoint of the audit trail's head to "
            "PROPYLON_AUDIT_CHECKPOINT_DIR, so deleting the newest entries is detected.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0010_audit_trail_refuse_truncate"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
