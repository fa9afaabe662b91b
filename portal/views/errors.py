"""Django's error pages, answered as JSON under /api/ so API clients always get one shape.

DRF answers errors raised inside its views; these cover what happens before a view is found:
an address no route matches (404), a malformed request Django refuses (400), and a crash
outside a view (500)."""

from django.http import JsonResponse
from django.views import defaults


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "The request could not be understood."}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        request_id = str(getattr(request, "id", ""))
        return JsonResponse(
            {"detail": "Propylon hit an internal error. It has been logged.", "request_id": request_id},
            status=500,
        )
    return defaults.server_error(request)
