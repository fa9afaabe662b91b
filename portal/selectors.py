"""Reads of the shared plumbing that reach a person, always through portal.permissions."""

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.http import Http404

from portal import audit
from portal.models import AuditEntry
from portal.permissions import get_restricted_object_or_404, restrict


def audit_entries_visible_to(user) -> QuerySet:
    """The global audit log: auditors and admins (portal.permissions decides)."""
    return restrict(AuditEntry.objects.all(), user)


def audited_model_or_404(label: str) -> type[Model]:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise Http404("No such kind of object.") from None
    if not audit.is_audited(model):
        raise Http404("No history is kept for this kind of object.")
    return model


def history_for(*, user, label: str, object_id: str) -> tuple[Model, QuerySet]:
    """An object's history, for anyone who may see the object (404 otherwise)."""
    model = audited_model_or_404(label)
    obj = get_restricted_object_or_404(model._default_manager.all(), user, pk=object_id)
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    entries = AuditEntry.objects.filter(content_type=content_type, object_id=str(obj.pk))
    return obj, entries
