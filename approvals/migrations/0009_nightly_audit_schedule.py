"""The nightly audit: Celery beat runs approvals.run_audit over the whole portfolio at 02:30 UTC
(editable in the admin's periodic tasks). Without arguments the job records its own AuditRun."""

from django.db import migrations

TASK_NAME = "approvals.run_audit"
SCHEDULE_NAME = "Run the audit over the portfolio (nightly)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Before the maturity recompute (03:15), after the hourly gate scan has expired approvals (:07).
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK_NAME,
            "crontab": crontab,
            "description": "Runs every registered audit check; opens, updates and clears findings.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0008_escalate_findings_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
