from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from portal import sso
from portal.forms import ThrottledAuthenticationForm
from portal.views import audit, health, home, jobs, tokens

jobs_patterns = (
    [
        path("", jobs.job_list, name="list"),
        path("start/", jobs.job_start, name="start"),
        path("<int:pk>/", jobs.job_detail, name="detail"),
        path("<int:pk>/progress/", jobs.job_progress, name="progress"),
        path("<int:pk>/cancel/", jobs.job_cancel, name="cancel"),
    ],
    "jobs",
)

portal_patterns = (
    [
        path("audit/", audit.audit_log, name="audit-log"),
        re_path(r"^audit/export\.(?P<fmt>csv|json)$", audit.audit_export, name="audit-export"),
        path("history/<str:label>/<str:object_id>/", audit.object_history, name="history"),
        path("account/tokens/", tokens.token_list, name="tokens"),
        path("account/tokens/<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
    ],
    "portal",
)

urlpatterns = [
    path("", home.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/start/", sso.SSOStartView.as_view(), name="oidc_authentication_init"),
    path("sso/callback/", sso.SSOCallbackView.as_view(), name="oidc_authentication_callback"),
    path("jobs/", include(jobs_patterns)),
    path("", include(portal_patterns)),
    path("", include("inventory.urls")),
    path("", include("approvals.urls")),
    path("", include("costs.urls")),
    path("", include("operations.urls")),
    path("api/", include("portal.api_urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.errors.bad_request"
handler404 = "portal.views.errors.page_not_found"
handler500 = "portal.views.errors.server_error"
