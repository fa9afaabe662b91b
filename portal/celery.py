"""The Celery application.

Workers and beat start with ``celery -A portal worker`` / ``celery -A portal beat``. Settings come
from Django settings under the ``CELERY_`` prefix (see portal/settings.py): JSON only, no result
backend (JobRun rows are the record), schedules in the database (django-celery-beat).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("propylon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
