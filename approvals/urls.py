from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("use-cases/<str:key>/risk/", views.risk_questionnaire, name="risk-questionnaire"),
    path("use-cases/<str:key>/risk/register/new/", views.register_entry_edit, name="risk-entry-add"),
    path(
        "use-cases/<str:key>/risk/register/<int:pk>/edit/", views.register_entry_edit, name="risk-entry-edit"
    ),
    path(
        "use-cases/<str:key>/risk/register/<int:pk>/delete/",
        views.register_entry_delete,
        name="risk-entry-delete",
    ),
]
