"""Every five minutes, end job runs whose worker died (editable in the admin's periodic tasks)."""

from django.db import migrations

TASK_NAME = "portal.fail_stale_job_runs"
SCHEDULE_NAME = "Fail job runs whose worker died (every 5 minutes)"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_five_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK_NAME,
            "interval": every_five_minutes,
            "description": "Marks running jobs failed when their worker has given no heartbeat "
            "for PROPYLON_JOB_STALE_AFTER_SECONDS.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0008_job_run_heartbeat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
