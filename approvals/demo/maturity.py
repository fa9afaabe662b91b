"""The demo portfolio's maturity assessments (loaded by ``propylon quickstart``).

Every demo use case is assessed on the facts the demo catalog holds. A few then gain evidence in
steps, each step assessed again, so their "Maturity" tab shows a trend of real versions. Safe to
load again: a use case that already has an assessment is left as it is.
"""

from approvals.choices import AssessmentTriggerChoices
from approvals.services.maturity import evidence_add, maturity_assess
from inventory.models import UseCase

WIKI = "https://wiki.example.com"

# use case key → steps; each step is evidence (check key, kind, value) added before a reassessment.
EVIDENCE_STEPS = {
    "UC-0001": (
        (
            ("ownership.responsibilities_agreed", "url", f"{WIKI}/support/chatbot-raci"),
            ("documentation.model_card", "url", f"{WIKI}/support/chatbot-system-card"),
            ("human_oversight.affected_people_informed", "note",
             "The chat window says it is an AI assistant and offers “talk to an agent” on every answer."),
        ),
        (
            ("testing_validation.evaluation_report", "url", f"{WIKI}/support/chatbot-eval-2025-10"),
            ("testing_validation.robustness_tested", "note",
             "Red-teamed for prompt injection and refund-policy jailbreaks in October; 3 findings fixed."),
            ("monitoring_drift.alerts_routed", "note", "Answer-quality alerts page the support-automation on-call rota."),
        ),
    ),
    "UC-0008": (
        (
            ("ownership.handover_plan", "note", "Sofia's deputy is named in the team charter; the runbook covers retraining."),
            ("release_rollback.rollback_rehearsed", "url", f"{WIKI}/cc-analytics/forecast-rollback-drill"),
        ),
        (
            ("monitoring_drift.drift_thresholds", "note", "Weekly WAPE above 12 % or a 20 % volume shift opens an incident."),
            ("testing_validation.baseline_compared", "url", f"{WIKI}/cc-analytics/forecast-vs-seasonal-naive"),
            ("cost_visibility.unit_cost_known", "note", "Retraining costs about EUR 40 a week on the shared GPU pool."),
        ),
    ),
    "UC-0009": (
        (
            ("security_access.threat_model", "url", f"{WIKI}/finance/fraud-scoring-threat-model"),
            ("human_oversight.override_procedure", "note",
             "AP analysts release or hold each flagged invoice; the score never blocks a payment by itself."),
        ),
    ),
}  # fmt: skip


def load_maturity_demo(people: dict) -> None:
    for use_case in UseCase.objects.select_related("accountable_owner").order_by("key"):
        if use_case.maturity_assessments.exists():
            continue
        actor = use_case.accountable_owner
        maturity_assess(use_case=use_case, actor=actor, trigger=AssessmentTriggerChoices.DEMO)
        for step in EVIDENCE_STEPS.get(use_case.key, ()):
            for check_key, kind, value in step:
                evidence_add(use_case=use_case, check_key=check_key, actor=actor, **{kind: value})
            maturity_assess(use_case=use_case, actor=actor, trigger=AssessmentTriggerChoices.DEMO)
