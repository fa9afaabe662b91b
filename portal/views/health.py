"""Liveness and readiness probes for load balancers and orchestrators. No login, no secrets."""

import logging

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request):
    """The process is alive and answering; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _check_database() -> tuple[bool, str]:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("readyz: database unreachable: %s", exc)
        return False, "unreachable"
    return True, "ok"


def _check_broker() -> tuple[bool, str]:
    if not settings.CELERY_BROKER_URL:
        return True, "not configured (jobs run eagerly in-process)"
    try:
        with celery_app.connection_for_write(url=settings.CELERY_BROKER_URL) as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.PROPYLON_READYZ_BROKER_TIMEOUT)
    except Exception as exc:
        logger.warning("readyz: broker unreachable: %s", exc)
        return False, "unreachable"
    return True, "ok"


@never_cache
@require_safe
def readyz(request):
    """Ready to serve: the database and the broker answer. 503 names the one that does not."""
    database_ok, database = _check_database()
    broker_ok, broker = _check_broker()
    ready = database_ok and broker_ok
    body = {"status": "ready" if ready else "not ready", "checks": {"database": database, "broker": broker}}
    return JsonResponse(body, status=200 if ready else 503)
