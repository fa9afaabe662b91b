"""The real URLs plus one view that fails, to see what a person gets from an unexpected error."""

from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def explode(request):
    raise RuntimeError("secret internals")


urlpatterns = [*portal_urlpatterns, path("explode/", explode)]
