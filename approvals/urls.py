from django.urls import path

from approvals.views import audits, findings, gates, maturity, metrics, risk

app_name = "approvals"

urlpatterns = [
    path("use-cases/<str:key>/risk/", risk.risk_questionnaire, name="risk-questionnaire"),
    path("use-cases/<str:key>/risk/register/new/", risk.register_entry_edit, name="risk-entry-add"),
    path(
        "use-cases/<str:key>/risk/register/<int:pk>/edit/", risk.register_entry_edit, name="risk-entry-edit"
    ),
    path(
        "use-cases/<str:key>/risk/register/<int:pk>/delete/",
        risk.register_entry_delete,
        name="risk-entry-delete",
    ),
]

# Maturity assessment (approvals.views.maturity)

urlpatterns += [
    path("use-cases/<str:key>/maturity/assess/", maturity.maturity_reassess, name="maturity-reassess"),
    path(
        "use-cases/<str:key>/maturity/evidence/new/",
        maturity.maturity_evidence_add,
        name="maturity-evidence-add",
    ),
    path(
        "use-cases/<str:key>/maturity/evidence/<int:pk>/file/",
        maturity.maturity_evidence_file,
        name="maturity-evidence-file",
    ),
    path(
        "use-cases/<str:key>/maturity/evidence/<int:pk>/withdraw/",
        maturity.maturity_evidence_withdraw,
        name="maturity-evidence-withdraw",
    ),
    # Gates: the review queue and page, asking for a gate, moving without one (approvals.views.gates)
    path("gates/", gates.gate_queue, name="gate-queue"),
    path("gates/requests/<int:pk>/", gates.request_detail, name="request-detail"),
    path("gates/requests/<int:pk>/decide/", gates.request_decide, name="request-decide"),
    path("gates/requests/<int:pk>/comment/", gates.request_comment, name="request-comment"),
    path("gates/requests/<int:pk>/withdraw/", gates.request_withdraw, name="request-withdraw"),
    path("gates/requests/<int:pk>/resubmit/", gates.request_resubmit, name="request-resubmit"),
    path("gates/requests/<int:pk>/revoke/", gates.request_revoke, name="request-revoke"),
    path("gates/requests/<int:pk>/recertify/", gates.request_recertify, name="request-recertify"),
    path("use-cases/<str:key>/gates/new/", gates.request_new, name="request-new"),
    path("use-cases/<str:key>/stage/", gates.stage_move, name="stage-move"),
    path("gates/policies/", gates.policy_list, name="gate-policy-list"),
    path("gates/policies/new/", gates.policy_edit, name="gate-policy-add"),
    path("gates/policies/<int:pk>/edit/", gates.policy_edit, name="gate-policy-edit"),
    path("gates/policies/<int:pk>/delete/", gates.policy_delete, name="gate-policy-delete"),
    path("lifecycle/", gates.lifecycle_overview, name="lifecycle"),
    path("lifecycle/stages/new/", gates.stage_edit, name="stage-add"),
    path("lifecycle/stages/<slug:key>/edit/", gates.stage_edit, name="stage-edit"),
    path("lifecycle/stages/<slug:key>/delete/", gates.stage_delete, name="stage-delete"),
    path("lifecycle/transitions/new/", gates.transition_edit, name="transition-add"),
    path("lifecycle/transitions/<int:pk>/edit/", gates.transition_edit, name="transition-edit"),
    path("lifecycle/transitions/<int:pk>/delete/", gates.transition_delete, name="transition-delete"),
]

# CoE metrics (approvals.views.metrics)

urlpatterns += [path("gates/metrics/", metrics.coe_metrics, name="coe-metrics")]

# Findings (approvals.views.findings)

urlpatterns += [
    path("findings/", findings.finding_list_view, name="finding-list"),
    path("findings/<int:pk>/", findings.finding_detail, name="finding-detail"),
    path("findings/<int:pk>/acknowledge/", findings.finding_acknowledge, name="finding-acknowledge"),
    path("findings/<int:pk>/resolve/", findings.finding_resolve, name="finding-resolve"),
    path("findings/<int:pk>/accept-risk/", findings.finding_accept_risk, name="finding-accept-risk"),
    path("findings/<int:pk>/comment/", findings.finding_comment, name="finding-comment"),
]

# Audit runs (approvals.views.audits)

urlpatterns += [
    path("audits/", audits.audit_runs, name="audit-run-list"),
    path("audits/run/", audits.audit_run_now, name="audit-run-now"),
    path("audits/<int:pk>/", audits.audit_run_detail, name="audit-run-detail"),
]
