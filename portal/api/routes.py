"""The API's route registry: every app adds its viewsets and paths from ``AppConfig.ready()``.

``portal/api_urls.py`` serves what was registered under ``/api/`` on one router, so the API root
lists every app's collections and the OpenAPI schema covers them all, while portal imports no app.
"""

from collections.abc import Iterable

from rest_framework.routers import DefaultRouter


class PortalRouter(DefaultRouter):
    include_format_suffixes = False


router = PortalRouter()
# Paths outside the router (one-off views, routes nested under another collection). They are
# served before the router's, so /use-cases/{key}/maturity/ is not read as a use-case action.
extra_urlpatterns: list = []


def register(*, viewsets: Iterable[tuple[str, type]] = (), urlpatterns: Iterable = ()) -> None:
    """Add an app's ``(prefix, viewset)`` pairs to the router and its other API paths."""
    for prefix, viewset in viewsets:
        router.register(prefix, viewset)
    extra_urlpatterns.extend(urlpatterns)
