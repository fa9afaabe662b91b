"""The admin site, opened by the admin role rather than Django's is_staff flag."""

from functools import update_wrapper

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from portal.policies import may_use_admin_site


class PortalAdminSite(admin.AdminSite):
    site_header = "Propylon administration"
    site_title = "Propylon admin"
    index_title = "Configuration"

    def has_permission(self, request) -> bool:
        return request.user.is_active and may_use_admin_site(request.user)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            # Signed in without the admin role: say so, rather than bouncing to the sign-in page
            # (which would send a signed-in person straight back here).
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("The admin site is for administrators.")
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, view)

    def login(self, request, extra_context=None):
        # One sign-in page for the whole portal (local accounts, SSO and throttling live there).
        return redirect_to_login(request.GET.get("next", request.get_full_path()))
