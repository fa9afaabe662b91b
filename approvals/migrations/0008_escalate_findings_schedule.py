"""Daily at 06:30 UTC (after the nightly audit), escalate overdue findings to the CoE and reopen
expired risk acceptances (editable in the admin's periodic tasks)."""

from django.db import migrations

TASK_NAME = "approvals.escalate_findings"
SCHEDULE_NAME = "Escalate overdue findings (daily)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="6", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK_NAME,
            "crontab": daily,
            "description": "Escalates live findings past their due date to the CoE (once each) and reopens "
            "findings whose risk acceptance ended.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0007_audit_runs_and_findings"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
