"""Poll the deployment targets that can be asked, every minute (editable in the admin).

Callbacks are the main way a deployment learns its outcome; polling catches a lost callback
and serves targets (Argo CD) that only answer when asked.
"""

from django.db import migrations

TASK_NAME = "operations.poll_deployments"
SCHEDULE_NAME = "Poll deployment targets (every minute)"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK_NAME,
            "interval": every_minute,
            "description": "Asks targets that support polling how their in-flight deployments are doing.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_deployments_and_health_signals"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
