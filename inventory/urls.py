from django.urls import path, re_path

from inventory.views import environments, people, releases, transfer, usecases
from inventory.views import organisation as views

app_name = "inventory"

urlpatterns = [
    path("business-units/", views.business_unit_list, name="business-unit-list"),
    path("business-units/new/", views.business_unit_edit, name="business-unit-add"),
    path("business-units/<slug:slug>/", views.business_unit_detail, name="business-unit-detail"),
    path("business-units/<slug:slug>/edit/", views.business_unit_edit, name="business-unit-edit"),
    path("business-units/<slug:slug>/delete/", views.business_unit_delete, name="business-unit-delete"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/new/", views.team_edit, name="team-add"),
    path("teams/<slug:slug>/", views.team_detail, name="team-detail"),
    path("teams/<slug:slug>/edit/", views.team_edit, name="team-edit"),
    path("teams/<slug:slug>/delete/", views.team_delete, name="team-delete"),
    path("environments/", environments.environment_list, name="environment-list"),
    path("environments/new/", environments.environment_edit, name="environment-add"),
    path("environments/<slug:slug>/edit/", environments.environment_edit, name="environment-edit"),
    path("people/<str:username>/", people.person_detail, name="person-detail"),
    path("use-cases/", usecases.usecase_list, name="usecase-list"),
    path("use-cases/new/", usecases.usecase_new, name="usecase-add"),
    path("use-cases/orphaned/", usecases.orphaned_list, name="usecase-orphaned"),
    path("use-cases/similar/", usecases.usecase_similar, name="usecase-similar"),
    path("use-cases/duplicates/", usecases.duplicate_clusters_page, name="usecase-duplicates"),
    path("use-cases/duplicates/not-duplicate/", usecases.mark_not_duplicate, name="usecase-not-duplicate"),
    path("use-cases/import/", transfer.usecase_import, name="usecase-import"),
    path("use-cases/import/commit/", transfer.usecase_import_commit, name="usecase-import-commit"),
    re_path(r"^use-cases/export\.(?P<fmt>csv|xlsx|json)$", transfer.usecase_export, name="usecase-export"),
    path("use-cases/<str:key>/", usecases.usecase_detail, name="usecase-detail"),
    path("use-cases/<str:key>/edit/", usecases.usecase_edit, name="usecase-edit"),
    path("use-cases/<str:key>/submit/", usecases.usecase_submit, name="usecase-submit"),
    path("use-cases/<str:key>/delete/", usecases.usecase_delete, name="usecase-delete"),
    path("use-cases/<str:key>/reassign/", usecases.usecase_reassign, name="usecase-reassign"),
    path("use-cases/<str:key>/assets/new/<slug:kind>/", releases.asset_new, name="asset-add"),
    path(
        "use-cases/<str:key>/assets/<slug:kind>/<slug:slug>/versions/new/",
        releases.version_new,
        name="version-add",
    ),
    path("use-cases/<str:key>/releases/new/", releases.release_new, name="release-add"),
    path("use-cases/<str:key>/releases/<int:pk>/edit/", releases.release_edit, name="release-edit"),
    path("use-cases/<str:key>/descriptor.yaml", transfer.usecase_descriptor, name="usecase-descriptor"),
]
