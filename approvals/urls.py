from django.urls import path

from approvals import gate_views, views

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

# Maturity assessment (approvals.maturity_views)
from approvals import maturity_views  # noqa: E402

urlpatterns += [
    path("use-cases/<str:key>/maturity/assess/", maturity_views.maturity_reassess, name="maturity-reassess"),
    path(
        "use-cases/<str:key>/maturity/evidence/new/",
        maturity_views.maturity_evidence_add,
        name="maturity-evidence-add",
    ),
    path(
        "use-cases/<str:key>/maturity/evidence/<int:pk>/file/",
        maturity_views.maturity_evidence_file,
        name="maturity-evidence-file",
    ),
    path(
        "use-cases/<str:key>/maturity/evidence/<int:pk>/withdraw/",
        maturity_views.maturity_evidence_withdraw,
        name="maturity-evidence-withdraw",
    ),
    # Gates: the review queue and page, asking for a gate, moving without one (approvals.gate_views)
    path("gates/", gate_views.gate_queue, name="gate-queue"),
    path("gates/requests/<int:pk>/", gate_views.request_detail, name="request-detail"),
    path("gates/requests/<int:pk>/decide/", gate_views.request_decide, name="request-decide"),
    path("gates/requests/<int:pk>/comment/", gate_views.request_comment, name="request-comment"),
    path("gates/requests/<int:pk>/withdraw/", gate_views.request_withdraw, name="request-withdraw"),
    path("gates/requests/<int:pk>/resubmit/", gate_views.request_resubmit, name="request-resubmit"),
    path("gates/requests/<int:pk>/revoke/", gate_views.request_revoke, name="request-revoke"),
    path("gates/requests/<int:pk>/recertify/", gate_views.request_recertify, name="request-recertify"),
    path("use-cases/<str:key>/gates/new/", gate_views.request_new, name="request-new"),
    path("use-cases/<str:key>/stage/", gate_views.stage_move, name="stage-move"),
    path("gates/policies/", gate_views.policy_list, name="gate-policy-list"),
    path("gates/policies/new/", gate_views.policy_edit, name="gate-policy-add"),
    path("gates/policies/<int:pk>/edit/", gate_views.policy_edit, name="gate-policy-edit"),
    path("gates/policies/<int:pk>/delete/", gate_views.policy_delete, name="gate-policy-delete"),
    path("lifecycle/", gate_views.lifecycle_overview, name="lifecycle"),
    path("lifecycle/stages/new/", gate_views.stage_edit, name="stage-add"),
    path("lifecycle/stages/<slug:key>/edit/", gate_views.stage_edit, name="stage-edit"),
    path("lifecycle/stages/<slug:key>/delete/", gate_views.stage_delete, name="stage-delete"),
    path("lifecycle/transitions/new/", gate_views.transition_edit, name="transition-add"),
    path("lifecycle/transitions/<int:pk>/edit/", gate_views.transition_edit, name="transition-edit"),
    path("lifecycle/transitions/<int:pk>/delete/", gate_views.transition_delete, name="transition-delete"),
]

# CoE metrics (approvals.metrics_views)
from approvals import metrics_views  # noqa: E402

urlpatterns += [path("gates/metrics/", metrics_views.coe_metrics, name="coe-metrics")]
