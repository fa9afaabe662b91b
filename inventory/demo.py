"""The demo portfolio's catalog: the story of DESIGN.md §1.

Eleven pilots scattered across five business units — a support chatbot, a legal summariser,
three teams each building "search over our internal documents" in their own words, one pilot
whose data scientist left — plus production systems with releases, versions and digests.
Loading twice changes nothing: everything is found by its key or slug first.
"""

import hashlib
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.choices import (
    AIKindChoices,
    DataSensitivityChoices,
    EnvironmentKindChoices,
    HumanOversightChoices,
    ModelProviderChoices,
    RiskTierChoices,
    VisibilityChoices,
)
from inventory.models import (
    BusinessUnit,
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    KeySequence,
    Kpi,
    Model,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
    Team,
    UseCase,
    lifecycle_stage_model,
)
from inventory.services import catalog as catalog_services
from inventory.services import usecases as services
from inventory.services.organisation import business_unit_create, team_create, team_set_members


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Use cases that ran before Propylon existed, put at their stage by a CoE lead's attested onboarding:
# the fraud scoring in production (the nightly audit finds it has no approval) and the contract
# search pilot its data scientist built before he left. Every other use case past intake reaches
# its stage through its gates (the approvals demo asks for and decides each one).
ONBOARDED_AT_STAGE = ("UC-0009", "UC-0004")

# key, name, team, owner, stage, kind, data, tier, purpose, extras
USE_CASES = (
    ("UC-0001", "Support chatbot", "support-automation", "lead", "pilot", AIKindChoices.GENERATIVE, DataSensitivityChoices.PII, RiskTierChoices.LIMITED,
     "A chat assistant on the help centre that answers customers' questions about orders, returns and "
     "billing from the support knowledge base, and hands over to an agent when it is unsure.",
     {"customer_facing": True, "human_oversight": HumanOversightChoices.ON_THE_LOOP, "technical_owner": "priya",
      "tags": ["support", "chatbot", "genai", "customer"], "repository_url": "https://git.example.com/support/chatbot",
      "runbook_url": "https://wiki.example.com/support/chatbot-runbook"}),
    ("UC-0002", "Agent reply suggestions", "support-automation", "priya", "pilot", AIKindChoices.GENERATIVE, DataSensitivityChoices.PII,
     RiskTierChoices.MINIMAL,
     "Drafts replies for support agents inside the ticketing tool; agents edit and send them. Aims to cut "
     "handling time on repetitive tickets.",
     {"human_oversight": HumanOversightChoices.IN_THE_LOOP, "tags": ["support", "genai", "agent-assist"]}),
    ("UC-0003", "Legal document summariser", "legal-tech", "jonas", "pilot", AIKindChoices.GENERATIVE, DataSensitivityChoices.CONFIDENTIAL,
     RiskTierChoices.MINIMAL,
     "Summarises long contracts and legal memos into a one-page brief with the key obligations, dates and "
     "unusual clauses, for lawyers reviewing third-party paper.",
     {"tags": ["legal", "summarisation", "genai"]}),
    ("UC-0004", "Contract clause finder", "legal-tech", "dmitri", "pilot", AIKindChoices.GENERATIVE, DataSensitivityChoices.CONFIDENTIAL,
     RiskTierChoices.UNASSESSED,
     "Lets lawyers search our internal contract archive and legal documents in plain language and get the "
     "matching clauses with links to the source files.",
     {"tags": ["search", "legal", "documents"]}),
    ("UC-0005", "Knowledge assistant", "knowledge-platform", "omar", "pilot", AIKindChoices.GENERATIVE, DataSensitivityChoices.INTERNAL,
     RiskTierChoices.MINIMAL,
     "An assistant that answers employees' questions from the intranet, Confluence pages and internal "
     "documentation, citing the pages it used (retrieval-augmented generation over our documents).",
     {"tags": ["search", "rag", "knowledge", "documents"], "technical_owner": "mei"}),
    ("UC-0006", "HR policy Q&A", "people-analytics", "hana", "proposed", AIKindChoices.GENERATIVE, DataSensitivityChoices.INTERNAL,
     RiskTierChoices.UNASSESSED,
     "Employees ask questions about HR policies, leave and benefits and get answers found in the internal "
     "policy documents and the HR wiki, instead of opening a ticket.",
     {"tags": ["hr", "search", "documents"]}),
    ("UC-0007", "Call quality scoring", "contact-center-analytics", "sofia", "pilot", AIKindChoices.PREDICTIVE, DataSensitivityChoices.PII,
     RiskTierChoices.MINIMAL,
     "Scores recorded support calls against the quality checklist so supervisors coach on the calls that "
     "need it instead of listening to a random sample.",
     {"tags": ["contact-centre", "quality", "speech"], "technical_owner": "mei"}),
    ("UC-0008", "Contact-centre volume forecast", "contact-center-analytics", "sofia", "production",
     AIKindChoices.PREDICTIVE, DataSensitivityChoices.INTERNAL, RiskTierChoices.MINIMAL,
     "Forecasts call and chat volumes per 30-minute interval for the next six weeks so workforce planning "
     "can staff the contact centre.",
     {"tags": ["forecasting", "contact-centre", "staffing"], "dashboard_url": "https://grafana.example.com/d/volume"}),
    ("UC-0009", "Invoice fraud scoring", "fpa-analytics", "felix", "production", AIKindChoices.PREDICTIVE,
     DataSensitivityChoices.CONFIDENTIAL, RiskTierChoices.MINIMAL,
     "Scores incoming supplier invoices for fraud and duplicate-payment risk before they are paid; "
     "accounts payable reviews the flagged ones.",
     {"tags": ["finance", "fraud", "invoices"], "human_oversight": HumanOversightChoices.IN_THE_LOOP}),
    ("UC-0010", "CV screening assistant", "people-analytics", "hana", "proposed", AIKindChoices.GENERATIVE, DataSensitivityChoices.PII,
     RiskTierChoices.HIGH,
     "Ranks job applications against the role's requirements and drafts a shortlist for recruiters. "
     "Recruitment is an Annex III high-risk area under the EU AI Act.",
     {"visibility": VisibilityChoices.RESTRICTED, "tags": ["hr", "recruiting", "ranking"]}),
    ("UC-0011", "Spend anomaly alerts", "fpa-analytics", "felix", None, AIKindChoices.PREDICTIVE, DataSensitivityChoices.CONFIDENTIAL,
     RiskTierChoices.UNASSESSED,
     "Flags unusual spend per cost centre each week so budget owners see surprises before month end.",
     {"tags": ["finance", "anomaly"]}),
)  # fmt: skip


BUSINESS_UNITS = (
    # slug, name, head, description
    ("customer-operations", "Customer Operations", "cto", "Support, contact centre and customer success."),
    ("legal-compliance", "Legal & Compliance", "cto", "Contracts, regulatory affairs and privacy."),
    ("engineering-platform", "Engineering Platform", "cto", "Shared infrastructure, data and ML platform."),
    ("finance", "Finance", "cto", "Planning, accounting and procurement."),
    ("people", "People", "cto", "Recruiting, HR operations and learning."),
)

TEAMS = (
    # slug, name, business unit, lead, members, description
    (
        "support-automation",
        "Support Automation",
        "customer-operations",
        "lead",
        ("priya",),
        "Chatbots and agent assist for the support desk.",
    ),
    (
        "contact-center-analytics",
        "Contact Center Analytics",
        "customer-operations",
        "sofia",
        ("mei",),
        "Call analytics, quality scoring and forecasting.",
    ),
    (
        "legal-tech",
        "Legal Tech",
        "legal-compliance",
        "jonas",
        ("dmitri",),
        "Contract review, summarisation and search.",
    ),
    (
        "ml-platform",
        "ML Platform",
        "engineering-platform",
        "omar",
        ("priya",),
        "Model serving, GPUs, feature store and the retrieval layer.",
    ),
    (
        "knowledge-platform",
        "Knowledge Platform",
        "engineering-platform",
        "omar",
        ("mei",),
        "Intranet, documentation and enterprise search.",
    ),
    (
        "fpa-analytics",
        "FP&A Analytics",
        "finance",
        "felix",
        (),
        "Forecasting, spend analytics and invoice processing.",
    ),
    (
        "people-analytics",
        "People Analytics",
        "people",
        "hana",
        (),
        "Recruiting analytics and the HR helpdesk.",
    ),
)


def load_organisation(people: dict) -> None:
    units = {}
    for slug, name, head, description in BUSINESS_UNITS:
        units[slug] = BusinessUnit.objects.filter(slug=slug).first() or business_unit_create(
            slug=slug, name=name, description=description, head=people[head]
        )
    for slug, name, unit, lead, members, description in TEAMS:
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            team_create(
                slug=slug,
                name=name,
                business_unit=units[unit],
                lead=people[lead],
                members=[people[m] for m in members],
                description=description,
            )
        else:
            team_set_members(
                team=team, members=[*team.members.all(), people[lead], *(people[m] for m in members)]
            )


def _team(slug: str) -> Team:
    return Team.objects.get(slug=slug)


def _get_or_create(model, slug: str, **fields):
    return model.objects.filter(slug=slug).first() or model.objects.create(slug=slug, **fields)


@transaction.atomic
def load_catalog(people: dict) -> None:
    _environments()
    for key, name, team_slug, owner, stage, kind, data, tier, purpose, extras in USE_CASES:
        if UseCase.objects.filter(key=key).exists():
            continue
        extras = dict(extras)
        for role in ("technical_owner", "business_sponsor", "data_steward", "escalation_contact"):
            if role in extras:
                extras[role] = people[extras[role]]
        team = _team(team_slug)
        owner_person = people[owner]
        departed = not owner_person.is_active
        if departed:
            # The pilot was filed while its data scientist was still here; he has left since.
            owner_person.is_active = True
            owner_person.save(update_fields=["is_active"])
        use_case = services.usecase_create(
            actor=people["lead"] if team_slug == "support-automation" else team.lead,
            key=key,
            name=name,
            purpose=purpose,
            owning_team=team,
            accountable_owner=owner_person,
            ai_kind=kind,
            data_sensitivity=data,
            risk_tier=tier,
            **extras,
        )
        if departed:
            owner_person.is_active = False
            owner_person.save(update_fields=["is_active"])
        if stage:
            services.usecase_submit(use_case=use_case, actor=use_case.created_by)
            if key in ONBOARDED_AT_STAGE:
                services.usecase_onboard_at_stage(
                    use_case=use_case,
                    stage=lifecycle_stage_model().objects.get(key=stage),
                    actor=people["coelead"],
                )
    _keep_key_sequence_ahead()
    _assets_and_releases(people)


def _keep_key_sequence_ahead() -> None:
    sequence, _ = KeySequence.objects.get_or_create(name="usecase")
    highest = max(int(key.removeprefix("UC-")) for key in UseCase.objects.values_list("key", flat=True))
    if sequence.last_value < highest:
        sequence.last_value = highest
        sequence.save(update_fields=["last_value"])


def _environments() -> None:
    for slug, name, kind in (
        ("development", "Development", EnvironmentKindChoices.DEVELOPMENT),
        ("staging", "Staging", EnvironmentKindChoices.STAGING),
        ("production", "Production", EnvironmentKindChoices.PRODUCTION),
    ):
        Environment.objects.get_or_create(slug=slug, defaults={"name": name, "kind": kind})


def _assets_and_releases(people: dict) -> None:
    platform = _team("ml-platform")
    support = _team("support-automation")
    contact = _team("contact-center-analytics")
    finance = _team("fpa-analytics")

    retrieval = _get_or_create(
        Component, "retrieval-layer", name="Shared retrieval layer", owning_team=platform,
        description="Vector index and document loaders for retrieval-augmented generation.",
    )  # fmt: skip
    _get_or_create(
        Component, "serving-pipeline", name="Model serving pipeline", owning_team=platform,
        description="Builds, signs and rolls out model containers to the serving cluster.",
    )  # fmt: skip
    tickets_source = _get_or_create(
        DataSource, "zendesk-tickets", name="Support tickets", owning_team=support,
        system="Zendesk: Ticket", sensitivity=DataSensitivityChoices.PII,
    )  # fmt: skip
    telephony = _get_or_create(
        DataSource, "telephony-queue-stats", name="Telephony queue statistics", owning_team=contact,
        system="Genesys: queue interval stats", sensitivity=DataSensitivityChoices.INTERNAL,
    )  # fmt: skip

    llm = _get_or_create(
        Model, "hosted-llm", name="Hosted LLM (chat)", owning_team=platform,
        provider=ModelProviderChoices.API, vendor="Azure OpenAI",
    )  # fmt: skip
    forecaster = _get_or_create(
        Model, "volume-forecaster", name="Volume forecaster", owning_team=contact,
        provider=ModelProviderChoices.IN_HOUSE, registry_url="https://mlflow.example.com/#/models/volume-forecaster",
    )  # fmt: skip
    fraud = _get_or_create(
        Model, "invoice-fraud-gbm", name="Invoice fraud GBM", owning_team=finance,
        provider=ModelProviderChoices.IN_HOUSE,
    )  # fmt: skip
    prompt = _get_or_create(PromptTemplate, "support-chatbot-system", name="Support chatbot system prompt",
                            owning_team=support)  # fmt: skip
    tickets = _get_or_create(Dataset, "support-tickets-2025", name="Support tickets 2025", owning_team=support,
                             sensitivity=DataSensitivityChoices.PII)  # fmt: skip
    tickets.sources.add(tickets_source)
    volumes = _get_or_create(Dataset, "contact-volumes", name="Contact volumes by interval", owning_team=contact,
                             sensitivity=DataSensitivityChoices.INTERNAL)  # fmt: skip
    volumes.sources.add(telephony)
    invoices = _get_or_create(Dataset, "invoices-labelled", name="Labelled supplier invoices", owning_team=finance,
                              sensitivity=DataSensitivityChoices.CONFIDENTIAL)  # fmt: skip

    def model_version(model, version, with_digest=True):
        found = ModelVersion.objects.filter(model=model, version=version).first()
        return found or ModelVersion.objects.create(
            model=model, version=version, artifact_uri=f"s3://models/{model.slug}/{version}",
            sha256=digest(f"{model.slug}:{version}") if with_digest else "",
        )  # fmt: skip

    def dataset_version(dataset, version, lineage):
        found = DatasetVersion.objects.filter(dataset=dataset, version=version).first()
        return found or DatasetVersion.objects.create(
            dataset=dataset, version=version, location=f"s3://datasets/{dataset.slug}/{version}",
            sha256=digest(f"{dataset.slug}:{version}"), lineage=lineage,
        )  # fmt: skip

    prompt_v2 = PromptVersion.objects.filter(template=prompt, version="v2").first() or PromptVersion.objects.create(
        template=prompt, version="v2",
        content="You are the help-centre assistant. Answer only from the provided articles; if unsure, "
                "offer to connect the customer with an agent. Never ask for card numbers.",
    )  # fmt: skip
    chatbot = UseCase.objects.get(key="UC-0001")
    chatbot.components.add(retrieval)
    UseCase.objects.get(key="UC-0005").components.add(retrieval)
    forecast_uc = UseCase.objects.get(key="UC-0008")
    fraud_uc = UseCase.objects.get(key="UC-0009")

    releases = (
        (chatbot, "0.3.0", "git:4f1c2e9", [model_version(llm, "2025-08-06")], [prompt_v2],
         [dataset_version(tickets, "2025-10", "Zendesk tickets Jan-Oct 2025, PII redacted with the DLP job.")],
         "Pilot release with the redacted ticket corpus."),
        (forecast_uc, "2026.09", "git:9ab03d1", [model_version(forecaster, "3.1.0")], [],
         [dataset_version(volumes, "2026-08", "Queue interval stats from Genesys, 2023-01 to 2026-08.")],
         "Retrained on August data."),
        (forecast_uc, "2026.11", "git:c71e5aa", [model_version(forecaster, "3.2.0")], [],
         [dataset_version(volumes, "2026-10", "Queue interval stats from Genesys, 2023-01 to 2026-10.")],
         "Adds the holiday calendar feature."),
        (fraud_uc, "1.4.0", "git:77d2b10", [model_version(fraud, "1.4.0", with_digest=False)], [],
         [dataset_version(invoices, "2026-06", "AP invoices with investigator labels.")],
         "The artifact digest was never recorded for this version."),
    )  # fmt: skip
    for use_case, version, code_ref, models, prompts, datasets, notes in releases:
        if use_case.releases.filter(version=version).exists():
            continue
        catalog_services.release_create(
            use_case=use_case, actor=use_case.created_by, version=version, code_ref=code_ref, notes=notes,
            model_versions=models, prompt_versions=prompts, dataset_versions=datasets,
        )  # fmt: skip
    for use_case, name, unit, target, value in (
        (chatbot, "Tickets deflected per month", "tickets", Decimal("4000"), Decimal("6.50")),
        (forecast_uc, "Forecast error (WAPE)", "%", Decimal("8"), None),
        (fraud_uc, "Fraud caught before payment", "EUR", Decimal("250000"), Decimal("1")),
    ):
        Kpi.objects.get_or_create(
            use_case=use_case, name=name,
            defaults={"unit": unit, "target": target, "value_per_unit": value,
                      "direction": "lower" if unit == "%" else "higher"},
        )  # fmt: skip
    UseCase.objects.filter(key="UC-0011").update(updated_at=timezone.now())
