"""Schedule the daily billing import of every enabled source (editable in the admin).

06:30 UTC: AWS refreshes CUR and Data Exports at least daily, mostly overnight in us-east-1.
"""

from django.db import migrations

TASK_NAME = "costs.import_all_sources"
SCHEDULE_NAME = "Import billing data of every source (daily)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="6", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK_NAME,
            "crontab": crontab,
            "description": "Reads each enabled cost source's export or Cost Explorer; unchanged data is skipped.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("costs", "0002_import_runs_and_line_items"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
