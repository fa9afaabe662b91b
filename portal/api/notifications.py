"""Notifications in the API: the filter for failed deliveries and the admins' resend action.

The notification viewset lives with the approvals API (``/api/notifications/``) and mixes these
in; what resending means is ``portal.notifications.notification_resend``."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.api.views import permission_action
from portal.choices import NotificationChannelChoices
from portal.models import Notification
from portal.notifications import notification_resend


class NotificationFilterSet(django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(choices=NotificationChannelChoices)
    sent_at__isnull = django_filters.BooleanFilter(field_name="sent_at", lookup_expr="isnull")
    failed = django_filters.BooleanFilter(
        method="filter_failed", label="Failed: not sent and the last attempt failed (true), or not (false)."
    )

    class Meta:
        model = Notification
        fields = ["channel", "sent_at__isnull", "failed"]

    def filter_failed(self, queryset, name, value):
        failed = Q(sent_at__isnull=True) & ~Q(error="")
        return queryset.filter(failed) if value else queryset.exclude(failed)


class NotificationResendMixin:
    """``POST /api/notifications/<id>/resend/``: administrators deliver a failed one again."""

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"], filter_backends=[])
    @permission_action("custom:resend")
    def resend(self, request, pk=None):
        """Deliver a failed notification again (admins). A sent one is refused (400): a person
        never gets the same message twice."""
        notification = notification_resend(notification=self.get_object())
        return Response(self.get_serializer(notification).data, status=202)
