"""The demo portfolio's risk classifications and register (loaded by ``propylon quickstart``).

Each answer set goes through the same questionnaire, classifier and service as the risk page,
so the tiers and their reasons are real: the support chatbot is limited-risk because it talks
to customers (Art 50), the CV screening assistant high-risk (Annex III employment), the
forecast and the fraud scoring minimal. Safe to load again: a use case that already has an
assessment, or a register entry with the same title, is left as it is.
"""

from datetime import timedelta

from django.utils import timezone

from approvals.choices import RiskCategoryChoices, RiskEntryStatusChoices
from approvals.models import RiskAssessment, RiskRegisterEntry
from approvals.services.risk import register_entry_create, risk_assessment_record
from inventory.models import UseCase

# use case key → (who answered, answers)
ANSWERS = {
    "UC-0001": ("lead", {
        "role": "both",
        "interacts_with_people": True,
        "generates_synthetic_content": True,
        "genai_risks": ["confabulation", "data_privacy", "information_security"],
    }),
    "UC-0002": ("priya", {
        "role": "both",
        "generates_synthetic_content": True,
        "genai_risks": ["confabulation", "data_privacy"],
    }),
    "UC-0003": ("jonas", {
        "role": "both",
        "generates_synthetic_content": True,
        "genai_risks": ["confabulation", "intellectual_property"],
    }),
    "UC-0008": ("sofia", {"role": "both"}),
    "UC-0009": ("felix", {"role": "both", "profiles_natural_persons": False}),
    "UC-0010": ("hana", {
        "role": "deployer",
        "annex_iii_areas": ["employment"],
        "profiles_natural_persons": True,
        "generates_synthetic_content": True,
        "genai_risks": ["harmful_bias", "data_privacy", "human_ai_configuration"],
    }),
}  # fmt: skip

# use case key → register entries (owner username, fields)
REGISTER = {
    "UC-0001": (
        ("lead", {
            "title": "Confident wrong answers about refunds",
            "description": "The assistant states a refund policy that does not exist; customers act on it.",
            "category": RiskCategoryChoices.RELIABILITY, "likelihood": 4, "severity": 3,
            "mitigation": "Answers cite the knowledge-base article; refund questions hand over to an agent.",
            "residual_likelihood": 2, "residual_severity": 3, "review_in_days": 60,
        }),
        ("priya", {
            "title": "Prompt injection exposes other customers' orders",
            "description": "A crafted message makes the assistant call the order tool with another account.",
            "category": RiskCategoryChoices.SECURITY, "likelihood": 3, "severity": 5,
            "mitigation": "The order tool only accepts the signed-in customer's session token.",
            "residual_likelihood": 1, "residual_severity": 5, "review_in_days": 30,
        }),
    ),
    "UC-0010": (
        ("hana", {
            "title": "Screening disadvantages candidates with career gaps",
            "description": "The ranking learns from past hiring decisions that penalised career breaks.",
            "category": RiskCategoryChoices.FUNDAMENTAL_RIGHTS, "likelihood": 4, "severity": 5,
            "mitigation": "", "review_in_days": 14,
        }),
    ),
    "UC-0009": (
        ("felix", {
            "title": "Supplier payments held by false positives",
            "description": "Legitimate invoices are held for review and suppliers are paid late.",
            "category": RiskCategoryChoices.OPERATIONAL, "likelihood": 3, "severity": 2,
            "mitigation": "Held invoices are reviewed within one business day; the threshold is tuned monthly.",
            "residual_likelihood": 2, "residual_severity": 2, "review_in_days": 90,
            "status": RiskEntryStatusChoices.MITIGATED,
        }),
    ),
}  # fmt: skip


def load_risk_demo(people: dict) -> None:
    use_cases = UseCase.objects.in_bulk(set(ANSWERS) | set(REGISTER), field_name="key")
    already_assessed = set(
        RiskAssessment.objects.filter(use_case__in=use_cases.values()).values_list("use_case__key", flat=True)
    )
    for key, (username, answers) in ANSWERS.items():
        if key in use_cases and key not in already_assessed:
            risk_assessment_record(use_case=use_cases[key], answers=answers, actor=people[username])

    today = timezone.now().date()
    for key, entries in REGISTER.items():
        if key not in use_cases:
            continue
        existing = set(
            RiskRegisterEntry.objects.filter(use_case=use_cases[key]).values_list("title", flat=True)
        )
        for username, fields in entries:
            if fields["title"] in existing:
                continue
            fields = dict(fields)
            review_date = today + timedelta(days=fields.pop("review_in_days"))
            register_entry_create(
                use_case=use_cases[key],
                actor=people[username],
                owner=people[username],
                review_date=review_date,
                **fields,
            )
