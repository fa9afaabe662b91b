"""Portal's own API routes: jobs, the audit trail, tokens, people and who is signed in."""

from django.urls import path

from portal.api.audit import AuditEntryViewSet
from portal.api.jobs import JobRunViewSet
from portal.api.me import MeView
from portal.api.people import PersonViewSet
from portal.api.tokens import ApiTokenViewSet

viewsets = (
    ("jobs", JobRunViewSet),
    ("audit", AuditEntryViewSet),
    ("tokens", ApiTokenViewSet),
    ("people", PersonViewSet),
)

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
]
